// The network service (Neutron v2.0 subset under /networking): networks, subnets, ports and
// IPAM; the provisioning network created at first start; bound ports on it become dnsmasq
// reservations (through DhcpReservations, implemented in src/server/network-dhcp.ts); and the
// in-process port API the compute service uses (NetworkPorts).
import { randomUUID } from 'node:crypto';
import type { ApiService, ServiceContext } from '../common/service.js';
import { now, toJson } from '../common/db.js';
import { ConflictError } from '../common/errors.js';
import type { NetworkConfig } from './config.js';
import { provisioningPlan, ipAddresses, type DnsmasqView, type InterfaceAddresses } from './ctlplane.js';
import { NeutronError } from './errors.js';
import { networkMigrations } from './migrations.js';
import { networkData, type NetworkData, type PortNetworkInfo } from './network-data.js';
import { Networking, SYSTEM, normalizeMacAddress, type Actor, type DhcpReservations } from './networking.js';
import { networkPolicy } from './policy.js';
import { registerNetworkRoutes } from './routes.js';
import { isBound, type NetworkRow, type NeutronNetwork, type NeutronPort, type PortRow, type SubnetRow } from './views.js';

export { networkConfigSchema, type NetworkConfig } from './config.js';
export { networkPolicy } from './policy.js';
export { NeutronError } from './errors.js';
export { linkId, type NetworkData } from './network-data.js';
export type { DhcpReservations } from './networking.js';
export type { DnsmasqView } from './ctlplane.js';
export type { NeutronNetwork, NeutronPort, NeutronSubnet } from './views.js';

/** The port API compute uses in-process (names fixed by the compute service's contract). */
export interface NetworkPorts {
  /** A network by id or name, as `projectId` sees it (its own or shared); undefined if none. A name matching several is a 409. */
  resolveNetwork(idOrName: string, projectId: string): Promise<NeutronNetwork | undefined>;
  /** A port for `projectId` on a network it may use; a fixed address or MAC only on the project's own networks. */
  createPort(p: {
    projectId: string;
    networkId: string;
    name?: string;
    fixedIps?: { subnetId?: string; ipAddress?: string }[];
    macAddress?: string;
    deviceId?: string;
    deviceOwner?: string;
  }): Promise<NeutronPort>;
  /** null = admin (any project). */
  getPort(id: string, projectId: string | null): Promise<NeutronPort | undefined>;
  /** Binds a port to a host (status ACTIVE; on the provisioning network, a dnsmasq reservation). */
  bindPort(id: string, b: { hostId: string; macAddress?: string; deviceId?: string; deviceOwner?: string; vnicType?: string }): Promise<NeutronPort>;
  unbindPort(id: string): Promise<void>;
  deletePort(id: string): Promise<void>;
  listPorts(filter: { deviceId?: string; projectId?: string | null }): Promise<NeutronPort[]>;
  /** OpenStack network_data.json for these ports, in this order (for the config drive). */
  networkData(portIds: string[]): Promise<NetworkData>;
}

export interface NetworkService extends ApiService {
  ports: NetworkPorts;
  networking: Networking;
}

export interface NetworkDeps {
  /** The boot service's dnsmasq settings (boot.dnsmasq): the provisioning subnet is derived from them. */
  dnsmasq: DnsmasqView;
  /** Where reservations go (absent: no dnsmasq handing out addresses). */
  reservations?: DhcpReservations;
  /** The admin project's id (identity's bootstrap project), owner of the provisioning network. */
  adminProjectId?: () => Promise<string | undefined>;
  /** Reads an interface's addresses (tests replace it). */
  interfaceAddresses?: InterfaceAddresses;
}

export function createNetworkService(ctx: ServiceContext, config: NetworkConfig, deps: NetworkDeps): NetworkService {
  const net = new Networking(ctx.db, ctx.policy, {
    provisioningPhysnet: config.provisioning.physical_network,
    reservations: deps.reservations,
    log: ctx.log,
  });
  const db = ctx.db;

  const ports: NetworkPorts = {
    async resolveNetwork(idOrName, projectId) {
      const actor: Actor = { projectId, admin: false };
      const byId = await net.getNetwork(actor, idOrName).catch((err: unknown) => {
        if (err instanceof NeutronError && err.status === 404) return undefined;
        throw err;
      });
      if (byId) return byId;
      const named = await net.listNetworks(actor, { name: idOrName });
      if (named.length > 1) throw new ConflictError(`${named.length} networks named "${idOrName}" are visible to project ${projectId}; use an id`, { fields: { network: idOrName } });
      return named[0];
    },
    async createPort(p) {
      const body: Record<string, unknown> = { network_id: p.networkId, project_id: p.projectId };
      if (p.name !== undefined) body.name = p.name;
      if (p.deviceId !== undefined) body.device_id = p.deviceId;
      if (p.deviceOwner !== undefined) body.device_owner = p.deviceOwner;
      if (p.fixedIps !== undefined) body.fixed_ips = p.fixedIps.map((f) => ({ ...(f.subnetId !== undefined ? { subnet_id: f.subnetId } : {}), ...(f.ipAddress !== undefined ? { ip_address: f.ipAddress } : {}) }));
      if (p.macAddress !== undefined) body.mac_address = p.macAddress;
      const actor: Actor = { projectId: p.projectId, admin: false };
      // Without a token there is no policy table to consult: the Neutron rules that depend on
      // the network's owner are applied here (a chosen address or MAC only on the project's own network).
      const n = await net.networkRow(actor, p.networkId);
      if ((p.macAddress !== undefined || p.fixedIps?.some((f) => f.ipAddress !== undefined)) && n.project_id !== p.projectId) {
        throw new NeutronError(403, 'PolicyNotAuthorized', `Only the owner of network ${p.networkId} may choose a port's address or MAC on it.`);
      }
      return net.createPort(actor, body);
    },
    async getPort(id, projectId) {
      const actor: Actor = projectId === null ? SYSTEM : { projectId, admin: false };
      return net.getPort(actor, id).catch((err: unknown) => {
        if (err instanceof NeutronError && err.status === 404) return undefined;
        throw err;
      });
    },
    async bindPort(id, b) {
      const body: Record<string, unknown> = { 'binding:host_id': b.hostId, 'binding:vnic_type': b.vnicType ?? 'baremetal' };
      if (b.deviceId !== undefined) body.device_id = b.deviceId;
      if (b.deviceOwner !== undefined) body.device_owner = b.deviceOwner;
      const p = (await db.selectFrom('network_ports').selectAll().where('id', '=', id).executeTakeFirst()) as PortRow | undefined;
      if (!p) throw NeutronError.notFound('Port', id);
      // The MAC may change only while the port is unbound (a bare-metal node's NIC is known at
      // binding time); binding a bound port again to the same host with the same MAC is a no-op.
      if (b.macAddress !== undefined) {
        const mac = normalizeMacAddress(b.macAddress, 'mac_address');
        if (mac !== p.mac_address && isBound(p)) {
          throw NeutronError.conflict('PortBound', `Unable to complete operation on port ${id}, port is already bound to ${p.host_id}.`, { path: 'mac_address' });
        }
        if (mac !== p.mac_address) {
          await net.writePort(p, { mac_address: mac }, undefined, 'port');
          await net.refreshReservation(id, p.mac_address);
        }
      }
      return net.updatePort(SYSTEM, id, body);
    },
    async unbindPort(id) {
      await net.updatePort(SYSTEM, id, { 'binding:host_id': '', 'binding:profile': {} });
    },
    async deletePort(id) {
      await net.deletePort(SYSTEM, id);
    },
    async listPorts(filter) {
      const actor: Actor = filter.projectId === null || filter.projectId === undefined ? SYSTEM : { projectId: filter.projectId, admin: false };
      return net.listPorts(actor, filter.deviceId !== undefined ? { device_id: filter.deviceId } : {});
    },
    async networkData(portIds) {
      const infos: PortNetworkInfo[] = [];
      for (const id of portIds) {
        const port = (await db.selectFrom('network_ports').selectAll().where('id', '=', id).executeTakeFirst()) as PortRow | undefined;
        if (!port) throw NeutronError.notFound('Port', id);
        const network = (await db.selectFrom('network_networks').selectAll().where('id', '=', port.network_id).executeTakeFirstOrThrow()) as NetworkRow;
        const rows = await db
          .selectFrom('network_ip_allocations')
          .innerJoin('network_subnets', 'network_subnets.id', 'network_ip_allocations.subnet_id')
          .selectAll('network_subnets')
          .select(['network_ip_allocations.ip_address as allocated_ip', 'network_ip_allocations.ip_int as allocated_int'])
          .where('network_ip_allocations.port_id', '=', id)
          .orderBy('network_subnets.created_at')
          .orderBy('network_ip_allocations.ip_int')
          .execute();
        infos.push({ port, network, fixedIps: rows.map((r) => ({ subnet: r as unknown as SubnetRow, ip_address: r.allocated_ip as string })) });
      }
      return networkData(infos);
    },
  };

  /** Creates the provisioning network once (found again by name and physical network on restart). */
  async function ensureProvisioning(): Promise<void> {
    const plan = await provisioningPlan(config.provisioning, deps.dnsmasq, deps.interfaceAddresses ?? ipAddresses);
    if (!plan) {
      ctx.log.info('network: no provisioning network (no network.provisioning.cidr, and boot.dnsmasq does not hand out addresses)');
      return;
    }
    const existing = await db.selectFrom('network_networks').select(['id']).where('name', '=', plan.name).where('physical_network', '=', plan.physical_network).where('network_type', '=', 'flat').executeTakeFirst();
    if (existing) return;
    const owner = (await deps.adminProjectId?.()) ?? undefined;
    if (!owner) {
      ctx.log.warn('network: no admin project to own the provisioning network; not created (is the identity service enabled?)');
      return;
    }
    const at = now();
    const networkId = randomUUID();
    await db.transaction().execute(async (trx) => {
      const flat = await trx.selectFrom('network_networks').select(['id', 'name']).where('network_type', '=', 'flat').where('physical_network', '=', plan.physical_network).executeTakeFirst();
      if (flat) {
        // Someone made a flat network on this physical network under another name: leave it.
        ctx.log.warn({ network: flat.id, name: flat.name }, 'network: the provisioning physical network already has a network; not creating another');
        return;
      }
      await trx.insertInto('network_networks').values({
        id: networkId, project_id: owner, name: plan.name, description: 'Provisioning network (created at first start)', admin_state_up: 1, shared: 1, router_external: 0,
        network_type: 'flat', physical_network: plan.physical_network, segmentation_id: null, mtu: plan.mtu, revision_number: 1, created_at: at, updated_at: at,
      }).execute();
      await trx.insertInto('network_subnets').values({
        id: randomUUID(), network_id: networkId, project_id: owner, name: plan.name, description: '', cidr: plan.cidr, ip_version: 4, gateway_ip: plan.gateway,
        allocation_pools: toJson(plan.pools), dns_nameservers: toJson(plan.dns_nameservers), host_routes: '[]', enable_dhcp: 1, revision_number: 1, created_at: at, updated_at: at,
      }).execute();
      ctx.log.info({ network: networkId, cidr: plan.cidr, gateway: plan.gateway, pools: plan.pools }, 'network: created the provisioning network');
    });
  }

  return {
    name: 'network',
    prefix: '/networking',
    faultStyle: 'neutron',
    catalog: { type: 'network', name: 'neutron', prefix: '/networking' },
    migrations: networkMigrations,
    policy: networkPolicy,
    ports,
    networking: net,
    routes(app) {
      registerNetworkRoutes(app, net, () => `${ctx.publicUrl()}/networking`);
    },
    async init() {
      await ensureProvisioning();
      const n = await net.resyncReservations();
      if (n) ctx.log.info({ reservations: n }, 'network: DHCP reservations restored');
    },
  };
}

