// How OS::Nova::Server reaches machines. Orchestration declares this interface; src/server
// implements it over the bare-metal service (allocation by resource class/traits/profile, then
// deploy with image, config drive and user data). FakeComputeProvider is the named fake used by
// the tests and, until the real adapter is wired, by the server (it is labelled as such).
import { randomUUID } from 'node:crypto';
import type { NetworkProvider } from './network-provider.js';

export interface ServerSpec {
  /**
   * The project the server belongs to (the stack's). The provider places it only on machines
   * that project may use and resolves its image with that project's visibility.
   */
  projectId: string;
  /** The stack's user, when known: key_name is one of that user's key pairs (Nova's are per user). */
  userId?: string;
  name: string;
  image: string;
  /** Flavor name: mapped to a bare-metal resource class (and traits/profile via flavor extra specs). */
  flavor: string;
  keyName?: string;
  /**
   * The server's NICs, in order (OS::Nova::Server `networks`): a port of the project (the
   * provider binds it), or a network by id or name (the provider makes a port there, on `subnet`
   * and/or with `fixedIp` when given). Empty or absent: the provider's default network.
   */
  networks?: ServerNic[];
  /** false: no config drive (the machine reads its metadata from the metadata service). */
  configDrive?: boolean;
  /** scheduler_hints.group: the server group (an id of the project's) the server joins. */
  serverGroup?: string;
  userData?: string;
  metadata: Record<string, string>;
  /**
   * For os-collect-config on the machine (what Heat puts in the server's metadata under
   * "os-collect-config", also kept in the server resource's metadata): where to poll for
   * deployments. POLL_SERVER_HEAT:
   *   {"collectors": ["heat_local", "heat"], "polling_interval": 30, "heat": {"auth_url",
   *    "user_id", "password", "project_id", "stack_id": "<name>/<id>", "resource_name"}}
   * (a stack user's credentials); POLL_TEMP_URL and POLL_SERVER_CFN:
   *   {"collectors": ["heat_local", "request"], "polling_interval": 30,
   *    "request": {"metadata_url": "<signed orchestration URL>"}}.
   * Undefined for ZAQAR_MESSAGE (not supported). It holds a secret: never log it.
   */
  collectConfig?: Record<string, unknown>;
}

export type ServerNic = { network?: string; port?: string; fixedIp?: string; subnet?: string };

/** One address as Nova shows it in a server's `addresses`. */
export type ServerAddress = { addr: string; version: number; 'OS-EXT-IPS:type'?: 'fixed' | 'floating'; 'OS-EXT-IPS-MAC:mac_addr'?: string };

export interface ServerStatus {
  /** BUILD while deploying, ACTIVE when done, ERROR with a reason. */
  status: 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED';
  reason?: string;
  /** Nova's shape: by network name, the server's addresses on it, NICs in order. */
  addresses: Record<string, ServerAddress[]>;
  /** Network name → id, for the networks in `addresses` whose id is known (Heat keys attributes by both). */
  networkIds?: Record<string, string>;
  /** Only when `addresses` cannot say it; otherwise the first address of the first network. */
  firstAddress?: string;
  name: string;
}

/** OS::Nova::Flavor (Nova's flavor create; admin-only there: the provider applies that rule). */
export interface FlavorSpec {
  projectId: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  swap: number;
  ephemeral: number;
  rxtxFactor: number;
  isPublic: boolean;
  extraSpecs: Record<string, string>;
  /** Projects given access to a private flavor. */
  tenants: string[];
  description?: string;
}

/** OS::Nova::ServerGroup. */
export interface ServerGroupSpec {
  projectId: string;
  name: string;
  /** One of affinity, anti-affinity, soft-affinity, soft-anti-affinity. */
  policy: string;
  rules: Record<string, number>;
}

/**
 * Every call carries the project it acts for: a server of another project is answered as one
 * that does not exist (status DELETED, delete a no-op), so an id learnt from elsewhere gives
 * nothing away and changes nothing.
 */
export interface ComputeProvider {
  readonly name: string;
  /** Starts building a server and returns its id at once. */
  create(spec: ServerSpec): Promise<string>;
  status(id: string, projectId: string): Promise<ServerStatus>;
  delete(id: string, projectId: string): Promise<void>;
  /** Returns the flavor's id. Absent: OS::Nova::Flavor fails saying the provider cannot make flavors. */
  createFlavor?(spec: FlavorSpec): Promise<string>;
  /** Another project's flavor, or none: nothing happens. */
  deleteFlavor?(id: string, projectId: string): Promise<void>;
  /** Returns the group's id. */
  createServerGroup?(spec: ServerGroupSpec): Promise<string>;
  deleteServerGroup?(id: string, projectId: string): Promise<void>;
}

/**
 * In-memory servers that become ACTIVE after `buildMs`. For tests and for the unwired seed. A NIC
 * that names a port takes the port's addresses (read through `network`, as the project sees it:
 * another project's port is not found); a NIC on a network gets `fixedIp` or a 192.0.2.x
 * address there; no NIC, one address on "ctlplane".
 */
export class FakeComputeProvider implements ComputeProvider {
  readonly name = 'fake';
  private readonly servers = new Map<string, { spec: ServerSpec; readyAt: number; ip: string; nics: { network: string; networkId?: string; addresses: ServerAddress[] }[] }>();
  readonly flavors = new Map<string, FlavorSpec>();
  readonly serverGroups = new Map<string, ServerGroupSpec>();
  private counter = 10;

  constructor(private readonly options: { buildMs?: number; failImages?: string[]; network?: NetworkProvider } = {}) {}

  async create(spec: ServerSpec): Promise<string> {
    if (spec.serverGroup !== undefined && this.serverGroups.get(spec.serverGroup)?.projectId !== spec.projectId) throw new Error(`scheduler_hints.group: server group ${spec.serverGroup} could not be found`);
    const ip = () => `192.0.2.${this.counter++ % 250}`;
    const nics: { network: string; networkId?: string; addresses: ServerAddress[] }[] = [];
    for (const [i, n] of (spec.networks ?? []).entries()) {
      const net = this.options.network;
      if (n.port !== undefined) {
        if (!net) throw new Error(`networks[${i}].port: no network service to find port ${n.port} in`);
        const port = await net.showPort(n.port, spec.projectId);
        if (!port) throw new Error(`networks[${i}].port: port ${n.port} could not be found`);
        const network = await net.findNetwork(port.network_id, spec.projectId);
        nics.push({ network: network?.name || port.network_id, networkId: port.network_id, addresses: port.fixed_ips.map((f) => ({ addr: f.ip_address, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address })) });
      } else {
        const network = n.network !== undefined && net ? await net.findNetwork(n.network, spec.projectId) : undefined;
        if (net && n.network !== undefined && !network) throw new Error(`networks[${i}].network: network ${n.network} could not be found`);
        nics.push({ network: network?.name ?? n.network ?? n.subnet ?? 'ctlplane', ...(network ? { networkId: network.id } : {}), addresses: [{ addr: n.fixedIp ?? ip(), version: 4, 'OS-EXT-IPS:type': 'fixed' }] });
      }
    }
    const id = randomUUID();
    this.servers.set(id, { spec, readyAt: Date.now() + (this.options.buildMs ?? 0), ip: nics[0]?.addresses[0]?.addr ?? ip(), nics });
    return id;
  }

  async status(id: string, projectId: string): Promise<ServerStatus> {
    const s = this.servers.get(id);
    if (!s || s.spec.projectId !== projectId) return { status: 'DELETED', addresses: {}, name: '' };
    if (this.options.failImages?.includes(s.spec.image)) return { status: 'ERROR', reason: `image ${s.spec.image} failed to deploy (fake)`, addresses: {}, name: s.spec.name };
    const active = Date.now() >= s.readyAt;
    const addresses: Record<string, ServerAddress[]> = {};
    const networkIds: Record<string, string> = {};
    for (const n of s.nics) {
      addresses[n.network] = [...(addresses[n.network] ?? []), ...n.addresses];
      if (n.networkId) networkIds[n.network] = n.networkId;
    }
    if (!s.nics.length) addresses.ctlplane = [{ addr: s.ip, version: 4, 'OS-EXT-IPS:type': 'fixed' }];
    return { status: active ? 'ACTIVE' : 'BUILD', addresses, networkIds, name: s.spec.name };
  }

  async delete(id: string, projectId: string): Promise<void> {
    if (this.servers.get(id)?.spec.projectId === projectId) this.servers.delete(id);
  }

  async createFlavor(spec: FlavorSpec): Promise<string> {
    const id = randomUUID();
    this.flavors.set(id, spec);
    return id;
  }

  async deleteFlavor(id: string, projectId: string): Promise<void> {
    if (this.flavors.get(id)?.projectId === projectId) this.flavors.delete(id);
  }

  async createServerGroup(spec: ServerGroupSpec): Promise<string> {
    const id = randomUUID();
    this.serverGroups.set(id, spec);
    return id;
  }

  async deleteServerGroup(id: string, projectId: string): Promise<void> {
    if (this.serverGroups.get(id)?.projectId === projectId) this.serverGroups.delete(id);
  }

  /** For tests: the specs of the servers that exist. */
  list(): ServerSpec[] {
    return [...this.servers.values()].map((s) => s.spec);
  }
}
