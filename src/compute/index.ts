// The compute service (Nova v2.1 subset under /compute; the catalog's endpoint is
// /compute/v2.1). It consumes a virt driver, the image service and optionally a network
// service, all through interfaces declared here and implemented in src/server.
import type { ApiService, ServiceContext } from '../common/service.js';
import type { ComputeConfig } from './config.js';
import { computeMigrations, typed } from './db.js';
import { computePolicy } from './policy.js';
import { Flavors } from './flavors.js';
import { Keypairs } from './keypairs.js';
import { Quotas } from './quotas.js';
import { ServerGroups } from './groups.js';
import { Servers } from './servers.js';
import { registerComputeRoutes } from './routes.js';
import type { VirtDriver } from './virt-driver.js';
import type { ComputeImages } from './images.js';
import type { ComputeNetwork } from './network.js';

export { computeConfigSchema, type ComputeConfig } from './config.js';
export type { VirtDriver, SpawnRequest, ClaimedHost, DriverStatus, Hypervisor, PlacementRequest, ConfigDriveContents, DriverAddress } from './virt-driver.js';
export { NoValidHostError } from './virt-driver.js';
export type { ComputeNetwork, NeutronPort, NeutronNetwork } from './network.js';
export type { ComputeImages, ComputeImage } from './images.js';
export { FakeComputeNetwork } from './fake-network.js';
export { normaliseResourceClass } from './scheduler.js';

export interface ComputeDeps {
  driver: VirtDriver;
  images?: ComputeImages;
  network?: ComputeNetwork;
}

export interface ComputeApiService extends ApiService {
  /** For in-process callers (orchestration's adapter, src/server/orchestration-compute.ts). */
  servers: Servers;
  flavors: Flavors;
  groups: ServerGroups;
}

export function createComputeService(ctx: ServiceContext, config: ComputeConfig, deps: ComputeDeps): ComputeApiService {
  const db = typed(ctx.db);
  const log = ctx.log.child({ service: 'compute' });
  const quotas = new Quotas(db, config.quotas);
  const flavors = new Flavors(db, ctx.policy);
  const keypairs = new Keypairs(db, ctx.policy, quotas);
  const groups = new ServerGroups(db, ctx.policy, quotas);
  const servers = new Servers({ db, policy: ctx.policy, driver: deps.driver, images: deps.images, network: deps.network, flavors, keypairs, quotas, groups, config, log });
  return {
    name: 'compute',
    prefix: '/compute',
    faultStyle: 'nova',
    catalog: { type: 'compute', name: 'nova', prefix: '/compute/v2.1' },
    migrations: computeMigrations,
    policy: computePolicy,
    servers,
    flavors,
    groups,
    routes(app) {
      registerComputeRoutes(app, {
        flavors,
        keypairs,
        groups,
        quotas,
        servers,
        driver: deps.driver,
        policy: ctx.policy,
        base: () => `${ctx.publicUrl()}/compute`,
        imageBase: () => `${ctx.publicUrl()}/image`,
      });
    },
    async init() {
      for (const name of config.default_flavors) await flavors.ensureBaremetalFlavor(name);
    },
    async start(signal) {
      await servers.run(signal);
    },
  };
}
