// OS::Neutron::Net, Subnet and Port: orchestration's NetworkProvider implemented over the network
// service (src/network). Every call acts as the stack's project with no roles beyond a member's
// of its own records: Heat carries no token here, so the network service's policy table is not
// consulted and the owner rules it would apply are applied in this file:
//   - networks are created unshared, without provider attributes (admins do those through the API);
//   - subnets only on the project's own networks;
//   - a chosen address, a MAC or a `network:*` device owner only on the project's own network
//     (a port on a shared network, the provisioning network included, gets an address from the pool);
//   - another project's network, subnet or port is "not found" (and deleting it does nothing),
//     even when the project can see it (a shared network is visible but not the project's to change).
// The network service is looked up when first needed: it is built after orchestration.
import type { ApiService } from '../common/service.js';
import type { NetworkService, NeutronNetwork, NeutronPort, NeutronSubnet } from '../network/index.js';
import { NeutronError } from '../network/index.js';
import type { NetworkProvider, NetworkRecord, NetworkRequest, PortRecord, PortRequest, SubnetRecord, SubnetRequest } from '../orchestration/network-provider.js';

type Actor = { projectId: string; admin: false };
const actor = (projectId: string): Actor => ({ projectId, admin: false });

function isNotFound(err: unknown): boolean {
  return err instanceof NeutronError && err.status === 404;
}

function networkRecord(n: NeutronNetwork): NetworkRecord {
  return { id: n.id, name: n.name, description: n.description, project_id: n.project_id, admin_state_up: n.admin_state_up, shared: n.shared, mtu: n.mtu, status: n.status, subnets: [...n.subnets] };
}

function subnetRecord(s: NeutronSubnet): SubnetRecord {
  return {
    id: s.id, name: s.name, description: s.description, network_id: s.network_id, project_id: s.project_id, cidr: s.cidr, ip_version: s.ip_version, gateway_ip: s.gateway_ip,
    allocation_pools: s.allocation_pools.map((p) => ({ start: p.start, end: p.end })), dns_nameservers: [...s.dns_nameservers],
    host_routes: s.host_routes.map((h) => ({ destination: h.destination, nexthop: h.nexthop })), enable_dhcp: s.enable_dhcp,
  };
}

function portRecord(p: NeutronPort): PortRecord {
  return {
    id: p.id, name: p.name, description: p.description, network_id: p.network_id, project_id: p.project_id, mac_address: p.mac_address, admin_state_up: p.admin_state_up,
    status: p.status, fixed_ips: p.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })), device_id: p.device_id, device_owner: p.device_owner, dns_name: p.dns_name,
  };
}

function networkBody(n: NetworkRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (n.name !== undefined) body.name = n.name;
  if (n.description !== undefined) body.description = n.description;
  if (n.adminStateUp !== undefined) body.admin_state_up = n.adminStateUp;
  return body;
}

function subnetBody(s: SubnetRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (s.name !== undefined) body.name = s.name;
  if (s.description !== undefined) body.description = s.description;
  if (s.gatewayIp !== undefined) body.gateway_ip = s.gatewayIp;
  if (s.allocationPools !== undefined) body.allocation_pools = s.allocationPools;
  if (s.dnsNameservers !== undefined) body.dns_nameservers = s.dnsNameservers;
  if (s.hostRoutes !== undefined) body.host_routes = s.hostRoutes;
  if (s.enableDhcp !== undefined) body.enable_dhcp = s.enableDhcp;
  return body;
}

function portBody(p: PortRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (p.name !== undefined) body.name = p.name;
  if (p.description !== undefined) body.description = p.description;
  if (p.fixedIps !== undefined) body.fixed_ips = p.fixedIps.map((f) => ({ ...(f.subnetId !== undefined ? { subnet_id: f.subnetId } : {}), ...(f.ipAddress !== undefined ? { ip_address: f.ipAddress } : {}) }));
  if (p.macAddress !== undefined) body.mac_address = p.macAddress;
  if (p.deviceId !== undefined) body.device_id = p.deviceId;
  if (p.deviceOwner !== undefined) body.device_owner = p.deviceOwner;
  if (p.adminStateUp !== undefined) body.admin_state_up = p.adminStateUp;
  if (p.dnsName !== undefined) body.dns_name = p.dnsName;
  return body;
}

/** The owner-only port fields (Neutron's create_port/update_port rules that depend on the network's owner). */
function ownerOnly(p: PortRequest): string | undefined {
  if (p.macAddress !== undefined) return 'mac_address';
  const i = p.fixedIps?.findIndex((f) => f.ipAddress !== undefined) ?? -1;
  if (i >= 0) return `fixed_ips[${i}].ip_address`;
  if (p.deviceOwner?.startsWith('network:')) return 'device_owner';
  return undefined;
}

export class ServiceNetworkProvider implements NetworkProvider {
  readonly name = 'network';

  constructor(private readonly service: () => NetworkService) {}

  private get net() {
    return this.service().networking;
  }

  /** The project's own network (a shared one it merely sees is not its to change). */
  private async ownNetwork(id: string, projectId: string) {
    const n = await this.net.networkRow(actor(projectId), id).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return n && n.project_id === projectId ? n : undefined;
  }

  private async ownSubnet(id: string, projectId: string): Promise<NeutronSubnet | undefined> {
    const s = await this.net.getSubnet(actor(projectId), id).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return s && s.project_id === projectId ? s : undefined;
  }

  async findNetwork(idOrName: string, projectId: string): Promise<NetworkRecord | undefined> {
    const n = await this.service().ports.resolveNetwork(idOrName, projectId);
    return n && networkRecord(n);
  }

  async createNetwork(projectId: string, n: NetworkRequest): Promise<NetworkRecord> {
    return networkRecord(await this.net.createNetwork(actor(projectId), networkBody(n)));
  }

  async updateNetwork(id: string, projectId: string, n: NetworkRequest): Promise<NetworkRecord> {
    if (!(await this.ownNetwork(id, projectId))) throw NeutronError.notFound('Network', id);
    return networkRecord(await this.net.updateNetwork(actor(projectId), id, networkBody(n)));
  }

  async deleteNetwork(id: string, projectId: string): Promise<void> {
    if (!(await this.ownNetwork(id, projectId))) return;
    await this.net.deleteNetwork(actor(projectId), id);
  }

  async findSubnet(idOrName: string, projectId: string): Promise<SubnetRecord | undefined> {
    const a = actor(projectId);
    const byId = await this.net.getSubnet(a, idOrName).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (byId) return subnetRecord(byId);
    const named = await this.net.listSubnets(a, { name: idOrName });
    if (named.length > 1) throw new NeutronError(409, 'Conflict', `${named.length} subnets named "${idOrName}" are visible to project ${projectId}; use an id`);
    return named[0] && subnetRecord(named[0]);
  }

  async createSubnet(projectId: string, s: SubnetRequest & { networkId: string; cidr: string; ipVersion?: number }): Promise<SubnetRecord> {
    // A subnet only on the project's own network: a shared network (ctlplane) is an admin's.
    if (!(await this.ownNetwork(s.networkId, projectId))) throw NeutronError.notFound('Network', s.networkId);
    return subnetRecord(await this.net.createSubnet(actor(projectId), { ...subnetBody(s), network_id: s.networkId, cidr: s.cidr, ip_version: s.ipVersion ?? 4 }));
  }

  async updateSubnet(id: string, projectId: string, s: SubnetRequest): Promise<SubnetRecord> {
    if (!(await this.ownSubnet(id, projectId))) throw NeutronError.notFound('Subnet', id);
    return subnetRecord(await this.net.updateSubnet(actor(projectId), id, subnetBody(s)));
  }

  async deleteSubnet(id: string, projectId: string): Promise<void> {
    if (!(await this.ownSubnet(id, projectId))) return;
    await this.net.deleteSubnet(actor(projectId), id);
  }

  async showPort(id: string, projectId: string): Promise<PortRecord | undefined> {
    const p = await this.service().ports.getPort(id, projectId);
    return p && portRecord(p);
  }

  async createPort(projectId: string, p: PortRequest & { networkId: string }): Promise<PortRecord> {
    const a = actor(projectId);
    // Visible (own or shared) or "not found"; the owner-only fields on the project's own network only.
    const n = await this.net.networkRow(a, p.networkId);
    const field = ownerOnly(p);
    if (field && n.project_id !== projectId) {
      throw new NeutronError(403, 'PolicyNotAuthorized', `port.${field}: only the owner of network ${p.networkId} may choose this on it`, { fields: { path: `port.${field}` } });
    }
    return portRecord(await this.net.createPort(a, { ...portBody(p), network_id: p.networkId }));
  }

  async updatePort(id: string, projectId: string, p: PortRequest): Promise<PortRecord> {
    const a = actor(projectId);
    const port = await this.service().ports.getPort(id, projectId);
    if (!port) throw NeutronError.notFound('Port', id);
    const field = ownerOnly(p);
    if (field && !(await this.ownNetwork(port.network_id, projectId))) {
      throw new NeutronError(403, 'PolicyNotAuthorized', `port.${field}: only the owner of network ${port.network_id} may choose this on it`, { fields: { path: `port.${field}` } });
    }
    return portRecord(await this.net.updatePort(a, id, portBody(p)));
  }

  async deletePort(id: string, projectId: string): Promise<void> {
    const port = await this.service().ports.getPort(id, projectId);
    if (!port) return;
    await this.net.deletePort(actor(projectId), id);
  }
}

/** The adapter over the network service in `services` (looked up at first use), when it is enabled. */
export function orchestrationNetwork(services: readonly ApiService[]): ServiceNetworkProvider {
  return new ServiceNetworkProvider(() => {
    const network = services.find((s): s is NetworkService => s.name === 'network');
    if (!network) throw new Error('networking is not available in this cloud (the network service is not enabled)');
    return network;
  });
}
