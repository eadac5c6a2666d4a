// The metadata service's InstanceLocator (src/metadata/instances.ts) over the boot and bare-metal
// services. A caller is identified as Neutron's metadata agent does, by the address it calls
// from: our dnsmasq's lease names the MAC, the kernel's neighbour entry must not name another,
// the MAC is a port of a node, and only an `active` node (a deployed instance) gets anything.
// The content is the one the config drive was written from (DirectDeploy.instanceContent).
import type { ApiService, ServiceContext } from '../common/service.js';
import type { BootService } from '../boot/index.js';
import type { BaremetalService } from '../baremetal/index.js';
import { typed } from '../baremetal/db.js';
import { driverNode } from '../baremetal/node-store.js';
import { DirectDeploy, configDriveParams } from '../baremetal/drivers/direct-deploy.js';
import type { DriverNode } from '../baremetal/drivers/interfaces.js';
import type { InstanceLocator, MetadataSettings } from '../metadata/index.js';
import { neighbourMac } from '../metadata/neighbours.js';
import type { ServerConfig } from './config.js';
import { ConfigError } from '../common/errors.js';

/** The `metadata` section with its interface decided (default: dnsmasq's, when in our namespace). */
export function metadataSettings(config: ServerConfig): MetadataSettings {
  const m = config.metadata;
  if (m.interface || !m.enabled) return { ...m, interface: m.interface };
  if (config.boot.dnsmasq.netns) {
    // dnsmasq's interface is inside another namespace; the seed listens in its own.
    throw new ConfigError('metadata.interface is required when boot.dnsmasq.netns is set (the seed end of the link into that namespace)', {
      fields: { path: 'metadata.interface' },
    });
  }
  return { ...m, interface: config.boot.dnsmasq.interface };
}

export function metadataInstances(
  ctx: ServiceContext,
  config: ServerConfig,
  services: ApiService[],
  neighbour: (ip: string) => Promise<string | undefined> = neighbourMac,
): InstanceLocator | undefined {
  const boot = services.find((s): s is BootService => s.name === 'boot');
  const baremetal = services.find((s): s is BaremetalService => s.name === 'baremetal');
  if (!boot || !baremetal || !config.metadata.enabled || !config.boot.dnsmasq.enabled) return undefined;
  if (config.services && !config.services.includes('metadata')) return undefined;
  // Machines reach listen_host through the route our DHCP gives (ProxyDHCP: the site's server must).
  boot.routeHost(config.metadata.listen_host);
  const db = typed(ctx.db);
  const contentOf = async (node: DriverNode) => {
    // A node deployed without a config drive still gets its identity and network.
    const withDrive = node.instance_info.configdrive ? node : { ...node, instance_info: { ...node.instance_info, configdrive: {} } };
    const direct = baremetal.registry.has('deploy', 'direct') ? baremetal.registry.get('deploy', 'direct') : undefined;
    return direct instanceof DirectDeploy ? direct.instanceContent(withDrive) : configDriveParams(withDrive);
  };
  return {
    async locate(ip) {
      const lease = await boot.leaseOf(ip);
      if (!lease) return { refused: 'no DHCP lease of ours for this address' };
      const seen = await neighbour(ip);
      if (seen && seen !== lease.mac) return { refused: `the neighbour entry's MAC ${seen} is not the leased ${lease.mac}` };
      const port = await db.selectFrom('baremetal_ports').select('node_uuid').where('address', '=', lease.mac).executeTakeFirst();
      if (!port) return { refused: `no port has MAC ${lease.mac}` };
      const row = await db.selectFrom('baremetal_nodes').selectAll().where('uuid', '=', port.node_uuid).executeTakeFirst();
      if (!row) return { refused: `port ${lease.mac} has no node` };
      if (row.provision_state !== 'active') return { refused: `node ${row.uuid} is ${row.provision_state}, not active` };
      const content = await contentOf(driverNode(row));
      if (!content) return { refused: `node ${row.uuid} has no instance content` };
      return { nodeId: row.uuid, content };
    },
  };
}
