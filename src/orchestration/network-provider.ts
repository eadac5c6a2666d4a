// How OS::Neutron::Net, OS::Neutron::Subnet and OS::Neutron::Port reach the network service.
// Orchestration declares this interface; src/server/orchestration-network.ts implements it over
// the network service (src/network). FakeNetworkProvider is the named in-memory fake for tests.
//
// Every call acts for the stack's project (`projectId`): it sees its own records plus shared
// networks (and their subnets), exactly as the project would through the Neutron API; a record
// of another project is answered as one that does not exist (show → undefined, delete → no-op,
// update → not found), so an id learnt elsewhere gives nothing away and changes nothing.
// Records are in Neutron's wire vocabulary (what Heat's `show` attribute returns).
import { randomBytes, randomUUID } from 'node:crypto';

export type AllocationPool = { start: string; end: string };
export type HostRoute = { destination: string; nexthop: string };
export type FixedIp = { subnet_id: string; ip_address: string };

export type NetworkRecord = {
  id: string;
  name: string;
  description: string;
  project_id: string;
  admin_state_up: boolean;
  shared: boolean;
  mtu: number;
  status: string;
  subnets: string[];
};

export type SubnetRecord = {
  id: string;
  name: string;
  description: string;
  network_id: string;
  project_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  dns_nameservers: string[];
  host_routes: HostRoute[];
  enable_dhcp: boolean;
};

export type PortRecord = {
  id: string;
  name: string;
  description: string;
  network_id: string;
  project_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  fixed_ips: FixedIp[];
  device_id: string;
  device_owner: string;
  dns_name: string;
};

export interface NetworkRequest {
  name?: string;
  description?: string;
  adminStateUp?: boolean;
}

export interface SubnetRequest {
  name?: string;
  description?: string;
  /** null: no gateway; undefined: the first host address (create) or unchanged (update). */
  gatewayIp?: string | null;
  allocationPools?: AllocationPool[];
  dnsNameservers?: string[];
  hostRoutes?: HostRoute[];
  enableDhcp?: boolean;
}

export interface PortRequest {
  name?: string;
  description?: string;
  /** Subnet (id) and/or address wanted; an address is only granted on the project's own network. */
  fixedIps?: { subnetId?: string; ipAddress?: string }[];
  /** Only on the project's own network. */
  macAddress?: string;
  deviceId?: string;
  deviceOwner?: string;
  adminStateUp?: boolean;
  dnsName?: string;
}

export interface NetworkProvider {
  readonly name: string;
  /** A network by id, or by the name of exactly one network the project sees (several: an error naming them). */
  findNetwork(idOrName: string, projectId: string): Promise<NetworkRecord | undefined>;
  createNetwork(projectId: string, n: NetworkRequest): Promise<NetworkRecord>;
  updateNetwork(id: string, projectId: string, n: NetworkRequest): Promise<NetworkRecord>;
  /** Not found (or another project's): nothing happens. A network with ports is refused (in use). */
  deleteNetwork(id: string, projectId: string): Promise<void>;

  findSubnet(idOrName: string, projectId: string): Promise<SubnetRecord | undefined>;
  /** On a network the project owns; IPv4 (`cidr` required). */
  createSubnet(projectId: string, s: SubnetRequest & { networkId: string; cidr: string; ipVersion?: number }): Promise<SubnetRecord>;
  updateSubnet(id: string, projectId: string, s: SubnetRequest): Promise<SubnetRecord>;
  deleteSubnet(id: string, projectId: string): Promise<void>;

  /** Own ports only (a shared network's other ports are not visible). */
  showPort(id: string, projectId: string): Promise<PortRecord | undefined>;
  /** On the project's own or a shared network; addresses from the network's IPAM. */
  createPort(projectId: string, p: PortRequest & { networkId: string }): Promise<PortRecord>;
  updatePort(id: string, projectId: string, p: PortRequest): Promise<PortRecord>;
  /** Frees its addresses. Not found (or another project's): nothing happens. */
  deletePort(id: string, projectId: string): Promise<void>;
}

/** Thrown for a record the project cannot see: the message names it. */
export class NetworkNotFoundError extends Error {
  constructor(kind: 'Network' | 'Subnet' | 'Port', id: string) {
    super(`${kind} ${id} could not be found`);
  }
}

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

/**
 * In-memory networks, subnets and ports with the same project rules as the real adapter, and a
 * simple IPAM (lowest free address of the first subnet, a requested address only on the
 * project's own network). For engine tests; the seed always uses the real network service.
 */
export class FakeNetworkProvider implements NetworkProvider {
  readonly name = 'fake';
  readonly networks = new Map<string, NetworkRecord>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly ports = new Map<string, PortRecord>();

  /** For tests: a network owned by `projectId` (shared when asked), with one subnet. */
  addNetwork(projectId: string, name: string, cidr: string, shared = false): { network: NetworkRecord; subnet: SubnetRecord } {
    const network: NetworkRecord = { id: randomUUID(), name, description: '', project_id: projectId, admin_state_up: true, shared, mtu: 1500, status: 'ACTIVE', subnets: [] };
    this.networks.set(network.id, network);
    const subnet = this.subnetRecord(projectId, { networkId: network.id, cidr, name });
    return { network, subnet };
  }

  private visibleNet(n: NetworkRecord | undefined, projectId: string): NetworkRecord | undefined {
    return n && (n.project_id === projectId || n.shared) ? n : undefined;
  }

  private ownNet(id: string, projectId: string): NetworkRecord {
    const n = this.networks.get(id);
    if (!n || n.project_id !== projectId) throw new NetworkNotFoundError('Network', id);
    return n;
  }

  async findNetwork(idOrName: string, projectId: string): Promise<NetworkRecord | undefined> {
    const byId = this.visibleNet(this.networks.get(idOrName), projectId);
    if (byId) return { ...byId };
    const named = [...this.networks.values()].filter((n) => n.name === idOrName && this.visibleNet(n, projectId));
    if (named.length > 1) throw new Error(`${named.length} networks named "${idOrName}" are visible to project ${projectId}; use an id`);
    return named[0] && { ...named[0] };
  }

  async createNetwork(projectId: string, r: NetworkRequest): Promise<NetworkRecord> {
    const n: NetworkRecord = { id: randomUUID(), name: r.name ?? '', description: r.description ?? '', project_id: projectId, admin_state_up: r.adminStateUp ?? true, shared: false, mtu: 1500, status: 'ACTIVE', subnets: [] };
    this.networks.set(n.id, n);
    return { ...n };
  }

  async updateNetwork(id: string, projectId: string, r: NetworkRequest): Promise<NetworkRecord> {
    const n = this.ownNet(id, projectId);
    if (r.name !== undefined) n.name = r.name;
    if (r.description !== undefined) n.description = r.description;
    if (r.adminStateUp !== undefined) n.admin_state_up = r.adminStateUp;
    return { ...n };
  }

  async deleteNetwork(id: string, projectId: string): Promise<void> {
    const n = this.networks.get(id);
    if (!n || n.project_id !== projectId) return;
    if ([...this.ports.values()].some((p) => p.network_id === id)) throw new Error(`Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
    for (const s of n.subnets) this.subnets.delete(s);
    this.networks.delete(id);
  }

  async findSubnet(idOrName: string, projectId: string): Promise<SubnetRecord | undefined> {
    const visible = (s: SubnetRecord) => s.project_id === projectId || !!this.visibleNet(this.networks.get(s.network_id), projectId);
    const byId = this.subnets.get(idOrName);
    if (byId && visible(byId)) return { ...byId };
    const named = [...this.subnets.values()].filter((s) => s.name === idOrName && visible(s));
    if (named.length > 1) throw new Error(`${named.length} subnets named "${idOrName}" are visible to project ${projectId}; use an id`);
    return named[0] && { ...named[0] };
  }

  private subnetRecord(projectId: string, r: SubnetRequest & { networkId: string; cidr: string }): SubnetRecord {
    const n = this.ownNet(r.networkId, projectId);
    const [base, bits] = r.cidr.split('/');
    const start = ipToInt(base!);
    const size = 2 ** (32 - Number(bits));
    const gateway = r.gatewayIp === undefined ? intToIp(start + 1) : r.gatewayIp;
    const s: SubnetRecord = {
      id: randomUUID(), name: r.name ?? '', description: r.description ?? '', network_id: n.id, project_id: projectId, cidr: r.cidr, ip_version: 4, gateway_ip: gateway,
      allocation_pools: r.allocationPools ?? [{ start: intToIp(start + 2), end: intToIp(start + size - 2) }], dns_nameservers: r.dnsNameservers ?? [], host_routes: r.hostRoutes ?? [], enable_dhcp: r.enableDhcp ?? true,
    };
    this.subnets.set(s.id, s);
    n.subnets.push(s.id);
    return s;
  }

  async createSubnet(projectId: string, r: SubnetRequest & { networkId: string; cidr: string; ipVersion?: number }): Promise<SubnetRecord> {
    if (r.ipVersion !== undefined && r.ipVersion !== 4) throw new Error('ip_version: only IPv4 subnets are supported');
    return { ...this.subnetRecord(projectId, r) };
  }

  async updateSubnet(id: string, projectId: string, r: SubnetRequest): Promise<SubnetRecord> {
    const s = this.subnets.get(id);
    if (!s || s.project_id !== projectId) throw new NetworkNotFoundError('Subnet', id);
    if (r.name !== undefined) s.name = r.name;
    if (r.gatewayIp !== undefined) s.gateway_ip = r.gatewayIp;
    if (r.allocationPools !== undefined) s.allocation_pools = r.allocationPools;
    if (r.dnsNameservers !== undefined) s.dns_nameservers = r.dnsNameservers;
    if (r.hostRoutes !== undefined) s.host_routes = r.hostRoutes;
    if (r.enableDhcp !== undefined) s.enable_dhcp = r.enableDhcp;
    return { ...s };
  }

  async deleteSubnet(id: string, projectId: string): Promise<void> {
    const s = this.subnets.get(id);
    if (!s || s.project_id !== projectId) return;
    if ([...this.ports.values()].some((p) => p.fixed_ips.some((f) => f.subnet_id === id))) throw new Error(`Unable to complete operation on subnet ${id}: one or more ports have an IP allocation from this subnet.`);
    this.subnets.delete(id);
    const n = this.networks.get(s.network_id);
    if (n) n.subnets = n.subnets.filter((x) => x !== id);
  }

  async showPort(id: string, projectId: string): Promise<PortRecord | undefined> {
    const p = this.ports.get(id);
    return p && p.project_id === projectId ? { ...p, fixed_ips: [...p.fixed_ips] } : undefined;
  }

  private allocate(n: NetworkRecord, projectId: string, wanted: PortRequest['fixedIps'], field: string): FixedIp[] {
    const used = new Set([...this.ports.values()].flatMap((p) => p.fixed_ips.map((f) => `${f.subnet_id}/${f.ip_address}`)));
    const subnets = n.subnets.map((id) => this.subnets.get(id)!);
    const out: FixedIp[] = [];
    for (const [i, w] of (wanted ?? [{}]).entries()) {
      if (w.ipAddress !== undefined && n.project_id !== projectId) throw new Error(`${field}[${i}].ip_address: only the owner of network ${n.id} may choose an address on it`);
      const s = w.subnetId !== undefined ? subnets.find((x) => x.id === w.subnetId) : w.ipAddress !== undefined ? subnets.find((x) => { const [b, bits] = x.cidr.split('/'); const st = ipToInt(b!); return ipToInt(w.ipAddress!) >= st && ipToInt(w.ipAddress!) < st + 2 ** (32 - Number(bits)); }) : subnets[0];
      if (!s) throw new Error(`${field}[${i}]: no such subnet on network ${n.id}`);
      if (w.ipAddress !== undefined) {
        if (used.has(`${s.id}/${w.ipAddress}`)) throw new Error(`${field}[${i}].ip_address: IP address ${w.ipAddress} already allocated in subnet ${s.id}`);
        out.push({ subnet_id: s.id, ip_address: w.ipAddress });
      } else {
        let ip: string | undefined;
        for (const pool of s.allocation_pools) {
          for (let a = ipToInt(pool.start); a <= ipToInt(pool.end) && !ip; a++) if (!used.has(`${s.id}/${intToIp(a)}`)) ip = intToIp(a);
          if (ip) break;
        }
        if (!ip) throw new Error(`${field}[${i}]: no more IP addresses available on network ${n.id}`);
        out.push({ subnet_id: s.id, ip_address: ip });
      }
      used.add(`${s.id}/${out.at(-1)!.ip_address}`);
    }
    return out;
  }

  async createPort(projectId: string, r: PortRequest & { networkId: string }): Promise<PortRecord> {
    const n = this.visibleNet(this.networks.get(r.networkId), projectId);
    if (!n) throw new NetworkNotFoundError('Network', r.networkId);
    if (r.macAddress !== undefined && n.project_id !== projectId) throw new Error(`mac_address: only the owner of network ${n.id} may choose a MAC on it`);
    const p: PortRecord = {
      id: randomUUID(), name: r.name ?? '', description: r.description ?? '', network_id: n.id, project_id: projectId,
      mac_address: r.macAddress ?? `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
      admin_state_up: r.adminStateUp ?? true, status: 'DOWN', fixed_ips: this.allocate(n, projectId, r.fixedIps, 'fixed_ips'), device_id: r.deviceId ?? '', device_owner: r.deviceOwner ?? '', dns_name: r.dnsName ?? '',
    };
    this.ports.set(p.id, p);
    return { ...p };
  }

  async updatePort(id: string, projectId: string, r: PortRequest): Promise<PortRecord> {
    const p = this.ports.get(id);
    if (!p || p.project_id !== projectId) throw new NetworkNotFoundError('Port', id);
    if (r.fixedIps !== undefined) {
      const keep = p.fixed_ips;
      p.fixed_ips = [];
      try {
        p.fixed_ips = this.allocate(this.networks.get(p.network_id)!, projectId, r.fixedIps, 'fixed_ips');
      } catch (err) {
        p.fixed_ips = keep;
        throw err;
      }
    }
    if (r.name !== undefined) p.name = r.name;
    if (r.adminStateUp !== undefined) p.admin_state_up = r.adminStateUp;
    if (r.deviceId !== undefined) p.device_id = r.deviceId;
    if (r.deviceOwner !== undefined) p.device_owner = r.deviceOwner;
    if (r.dnsName !== undefined) p.dns_name = r.dnsName;
    return { ...p };
  }

  async deletePort(id: string, projectId: string): Promise<void> {
    if (this.ports.get(id)?.project_id === projectId) this.ports.delete(id);
  }
}

/** What an engine without networking answers: every call fails with the reason, finds nothing. */
export class NoNetworkProvider implements NetworkProvider {
  readonly name = 'none';
  private fail(): Promise<never> {
    return Promise.reject(new Error('networking is not available in this cloud (the network service is not enabled)'));
  }
  findNetwork = () => this.fail();
  createNetwork = () => this.fail();
  updateNetwork = () => this.fail();
  deleteNetwork = () => this.fail();
  findSubnet = () => this.fail();
  createSubnet = () => this.fail();
  updateSubnet = () => this.fail();
  deleteSubnet = () => this.fail();
  showPort = () => this.fail();
  createPort = () => this.fail();
  updatePort = () => this.fail();
  deletePort = () => this.fail();
}
