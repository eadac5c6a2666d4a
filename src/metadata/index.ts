// The metadata service: OpenStack and EC2 instance metadata for deployed machines at
// 169.254.169.254, on a listener of its own (not the main API port: machines reach it on the
// provisioning network, with no token). What is served, how callers are identified and what is
// not done: docs/metadata.md.
import type { ApiService, ServiceContext } from '../common/service.js';
import { ConfigError } from '../common/errors.js';
import type { MetadataSettings } from './config.js';
import type { InstanceLocator } from './instances.js';
import { buildMetadataApp } from './routes.js';
import { addHostAddress, removeHostAddress } from './link-address.js';

export { metadataConfigSchema, type MetadataConfig, type MetadataSettings } from './config.js';
export type { InstanceLocator, LocatedInstance } from './instances.js';
export { buildMetadataApp } from './routes.js';

export interface MetadataService extends ApiService {
  /** Where the listener is, once start() has it listening. */
  address?: { host: string; port: number };
}

export function createMetadataService(ctx: ServiceContext, settings: MetadataSettings, locator: InstanceLocator | undefined): MetadataService {
  const log = ctx.log.child({ service: 'metadata' });
  const service: MetadataService = {
    name: 'metadata',
    prefix: '/metadata',
    faultStyle: 'plain',
    migrations: [],
    // Nothing on the main app: machines use the listener start() opens.
    routes() {},
    async start(signal) {
      if (!settings.enabled) return;
      if (!locator) throw new ConfigError('metadata.enabled needs the boot and baremetal services (with boot.dnsmasq in dhcp mode) to identify callers');
      const added = settings.interface ? await addHostAddress(settings.listen_host, settings.interface) : false;
      const app = buildMetadataApp({ locator, log });
      try {
        await app.listen({ host: settings.listen_host, port: settings.port });
        service.address = { host: settings.listen_host, port: settings.port };
        log.info({ host: settings.listen_host, port: settings.port, interface: settings.interface }, 'metadata: listening');
        await new Promise<void>((done) => {
          if (signal.aborted) done();
          else signal.addEventListener('abort', () => done(), { once: true });
        });
      } finally {
        // A machine may be holding a connection open; the seed is stopping anyway.
        app.server.closeAllConnections?.();
        await app.close();
        service.address = undefined;
        if (added && settings.interface) await removeHostAddress(settings.listen_host, settings.interface);
      }
    },
  };
  return service;
}
