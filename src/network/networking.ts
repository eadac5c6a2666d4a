// The network service's facade: networks, subnets and ports with Neutron's visibility and
// policy, validation that names the field, and port address allocation through ipam.ts. Routes
// (routes.ts) and the in-process port API for compute (index.ts) both come through here.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { fromJson, isUniqueViolation, now, toJson, type AnyDB } from '../common/db.js';
import { NeutronError } from './errors.js';
import { allocate, type IpamSubnet } from './ipam.js';
import { contains, formatCidr, intToIp, ipToInt, overlaps, parseCidr, usable, without, type Range } from './ip.js';
import {
  isBound, networkView, portView, subnetView,
  type AllocationPool, type FixedIp, type HostRoute, type NetworkRow, type NeutronNetwork, type NeutronPort, type NeutronSubnet, type PortRow, type SubnetRow,
} from './views.js';

/** Fixed addresses for MACs in the provisioning network's DHCP server (src/server/network-dhcp.ts). */
export interface DhcpReservations {
  set(mac: string, ip: string, hostname?: string): Promise<void>;
  remove(mac: string): Promise<void>;
  /** Makes the reservations exactly these (at start, from the database). */
  replaceAll(entries: readonly { mac: string; ip: string; hostname?: string }[]): Promise<void>;
}

/** Who is acting: a token's caller, or compute acting for a project (no roles: policy is its job). */
export interface Actor {
  projectId: string | null;
  admin: boolean;
  auth?: AuthContext;
}

export const actorOf = (auth: AuthContext): Actor => ({ projectId: auth.projectId, admin: isAdmin(auth), auth });
export const SYSTEM: Actor = { projectId: null, admin: true };

export type Query = Record<string, string | string[] | undefined>;

/** Neutron's max_fixed_ips_per_port default. */
const MAX_FIXED_IPS = 5;
const MAX_NAMESERVERS = 5;
const MAX_HOST_ROUTES = 20;
const MAX_POOLS = 64;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const VNIC_TYPES = ['normal', 'baremetal', 'direct', 'direct-physical', 'macvtap'];

export interface NetworkingOptions {
  /** Networks on this physical network feed dnsmasq (the provisioning network). */
  provisioningPhysnet: string;
  reservations?: DhcpReservations;
  log: Logger;
}

type Body = Record<string, unknown>;

function values(q: Query, key: string): string[] | undefined {
  const v = q[key];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

function boolFilter(q: Query, key: string): number[] | undefined {
  const v = values(q, key);
  if (!v) return undefined;
  return v.map((x) => {
    const l = x.toLowerCase();
    if (l === 'true' || l === '1') return 1;
    if (l === 'false' || l === '0') return 0;
    throw NeutronError.invalidInput(key, `'${x}' is not a boolean`);
  });
}

function str(body: Body, key: string, path: string, max = 255): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw NeutronError.invalidInput(`${path}.${key}`, `'${String(v)}' is not a valid string`);
  if (v.length > max) throw NeutronError.invalidInput(`${path}.${key}`, `longer than ${max} characters`);
  return v;
}

function bool(body: Body, key: string, path: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw NeutronError.invalidInput(`${path}.${key}`, `'${String(v)}' is not a boolean`);
  return v;
}

function refuseUnknown(body: Body, allowed: readonly string[], path: string): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw new NeutronError(400, 'HTTPBadRequest', `Unrecognized attribute(s) '${extra.map((k) => `${path}.${k}`).join("', '")}'`, { fields: { path: `${path}.${extra[0]}` } });
}

export function normalizeMacAddress(mac: string, field: string): string {
  const m = typeof mac === 'string' ? mac.trim().toLowerCase().replace(/-/g, ':') : '';
  if (!MAC.test(m)) throw NeutronError.invalidInput(field, `'${String(mac)}' is not a valid MAC address`);
  if (parseInt(m.slice(0, 2), 16) % 2 === 1) throw NeutronError.invalidInput(field, `'${mac}' is a multicast MAC address`);
  if (m === '00:00:00:00:00:00') throw NeutronError.invalidInput(field, `'${mac}' is not a valid MAC address`);
  return m;
}

/** OpenStack's base MAC: fa:16:3e plus three random bytes. */
function generatedMac(): string {
  return ['fa', '16', '3e', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The pools as integer ranges (they were validated when stored). */
function poolsOf(s: SubnetRow): Range[] {
  return fromJson<AllocationPool[]>(s.allocation_pools, []).map((p) => ({ start: ipToInt(p.start, 'allocation_pools'), end: ipToInt(p.end, 'allocation_pools') }));
}

export function ipamSubnet(s: SubnetRow): IpamSubnet {
  return { id: s.id, network_id: s.network_id, cidr: parseCidr(s.cidr, 'cidr'), gateway: s.gateway_ip ? ipToInt(s.gateway_ip, 'gateway_ip') : null, pools: poolsOf(s) };
}

/** The default pools: the usable addresses minus the gateway (Neutron's default). */
export function defaultPools(cidr: string, gateway: string | null): AllocationPool[] {
  const c = parseCidr(cidr, 'cidr');
  let ranges = [usable(c)];
  if (gateway) ranges = without(ranges, ipToInt(gateway, 'gateway_ip'));
  return ranges.map((r) => ({ start: intToIp(r.start), end: intToIp(r.end) }));
}

/**
 * Checks allocation pools against the subnet, naming the field: each a valid range inside the
 * CIDR's host addresses, none overlapping another, none containing the gateway.
 */
export function checkPools(pools: unknown, cidrText: string, gateway: string | null, path: string): AllocationPool[] {
  if (!Array.isArray(pools)) throw NeutronError.invalidInput(`${path}.allocation_pools`, 'must be a list of {start, end}');
  if (pools.length > MAX_POOLS) throw NeutronError.invalidInput(`${path}.allocation_pools`, `at most ${MAX_POOLS} pools`);
  const c = parseCidr(cidrText, `${path}.cidr`);
  const host = usable(c);
  const ranges: Range[] = [];
  const out: AllocationPool[] = [];
  pools.forEach((p: unknown, i) => {
    const f = `${path}.allocation_pools[${i}]`;
    if (!p || typeof p !== 'object' || Array.isArray(p)) throw NeutronError.invalidInput(f, 'must be an object with start and end');
    refuseUnknown(p as Body, ['start', 'end'], f);
    const { start, end } = p as { start?: unknown; end?: unknown };
    const s = ipToInt(start as string, `${f}.start`);
    const e = ipToInt(end as string, `${f}.end`);
    if (s > e) throw new NeutronError(400, 'InvalidAllocationPool', `The allocation pool ${f} ${String(start)}-${String(end)} is not valid: start is after end.`, { fields: { path: f } });
    if (s < host.start || e > host.end) {
      throw new NeutronError(400, 'OutOfBoundsAllocationPool', `The allocation pool ${f} ${String(start)}-${String(end)} spans beyond the host addresses of subnet cidr ${cidrText} (${intToIp(host.start)}-${intToIp(host.end)}).`, { fields: { path: f } });
    }
    const other = ranges.findIndex((r) => overlaps(r, { start: s, end: e }));
    if (other >= 0) {
      throw new NeutronError(409, 'OverlappingAllocationPools', `The allocation pool ${f} ${String(start)}-${String(end)} overlaps ${path}.allocation_pools[${other}] ${out[other]!.start}-${out[other]!.end}.`, { fields: { path: f } });
    }
    if (gateway && s <= ipToInt(gateway, 'gateway_ip') && ipToInt(gateway, 'gateway_ip') <= e) {
      throw new NeutronError(409, 'GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${f} ${String(start)}-${String(end)}.`, { fields: { path: `${path}.gateway_ip` } });
    }
    ranges.push({ start: s, end: e });
    out.push({ start: intToIp(s), end: intToIp(e) });
  });
  return out;
}

function checkNameservers(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) throw NeutronError.invalidInput(path, 'must be a list of IPv4 addresses');
  if (v.length > MAX_NAMESERVERS) throw NeutronError.invalidInput(path, `at most ${MAX_NAMESERVERS} name servers`);
  const seen = new Set<string>();
  return v.map((a: unknown, i) => {
    const ip = intToIp(ipToInt(a as string, `${path}[${i}]`));
    if (seen.has(ip)) throw NeutronError.invalidInput(`${path}[${i}]`, `duplicate name server ${ip}`);
    seen.add(ip);
    return ip;
  });
}

function checkHostRoutes(v: unknown, path: string): HostRoute[] {
  if (!Array.isArray(v)) throw NeutronError.invalidInput(path, 'must be a list of {destination, nexthop}');
  if (v.length > MAX_HOST_ROUTES) throw NeutronError.invalidInput(path, `at most ${MAX_HOST_ROUTES} host routes`);
  return v.map((r: unknown, i) => {
    const f = `${path}[${i}]`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw NeutronError.invalidInput(f, 'must be an object with destination and nexthop');
    refuseUnknown(r as Body, ['destination', 'nexthop'], f);
    const { destination, nexthop } = r as { destination?: unknown; nexthop?: unknown };
    const d = parseCidr(destination as string, `${f}.destination`);
    return { destination: formatCidr(d), nexthop: intToIp(ipToInt(nexthop as string, `${f}.nexthop`)) };
  });
}

interface FixedIpRequest {
  subnet_id?: string;
  ip_address?: string;
}

function checkFixedIps(v: unknown, path: string): FixedIpRequest[] {
  if (!Array.isArray(v)) throw NeutronError.invalidInput(path, 'must be a list of {subnet_id, ip_address}');
  if (v.length > MAX_FIXED_IPS) throw NeutronError.invalidInput(path, `exceeded maximum of ${MAX_FIXED_IPS} fixed IPs per port`);
  return v.map((e: unknown, i) => {
    const f = `${path}[${i}]`;
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw NeutronError.invalidInput(f, 'must be an object with subnet_id and/or ip_address');
    refuseUnknown(e as Body, ['subnet_id', 'ip_address'], f);
    const { subnet_id, ip_address } = e as { subnet_id?: unknown; ip_address?: unknown };
    if (subnet_id !== undefined && typeof subnet_id !== 'string') throw NeutronError.invalidInput(`${f}.subnet_id`, `'${String(subnet_id)}' is not a valid string`);
    if (ip_address !== undefined) ipToInt(ip_address as string, `${f}.ip_address`);
    if (subnet_id === undefined && ip_address === undefined) throw NeutronError.invalidInput(f, 'needs subnet_id or ip_address');
    return { subnet_id: subnet_id as string | undefined, ip_address: ip_address as string | undefined };
  });
}

/** A dnsmasq-safe host name from a port's dns_name or name (letters, digits, hyphens; ≤ 63). */
export function hostnameOf(p: { dns_name: string; name: string }): string | undefined {
  const raw = (p.dns_name || p.name).split('.')[0] ?? '';
  const h = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return h || undefined;
}

export class Networking {
  /** Reservation updates run one after another, each reading the port's state when it runs. */
  private reservationQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: AnyDB,
    private readonly policy: Policy,
    private readonly o: NetworkingOptions,
  ) {}

  private enforce(actor: Actor, op: string, projectId: string | null | undefined): void {
    if (actor.auth) this.policy.enforce(op, actor.auth, { projectId });
  }

  // ---- networks -------------------------------------------------------------------------

  /** Own networks, shared ones and external ones; all for admins (Neutron's get_network). */
  private networkVisible(actor: Actor, n: NetworkRow): boolean {
    return actor.admin || n.project_id === actor.projectId || !!n.shared || !!n.router_external;
  }

  async networkRow(actor: Actor, id: string): Promise<NetworkRow> {
    const n = (await this.db.selectFrom('network_networks').selectAll().where('id', '=', id).executeTakeFirst()) as NetworkRow | undefined;
    if (!n || !this.networkVisible(actor, n)) throw NeutronError.notFound('Network', id);
    return n;
  }

  private async networkViews(actor: Actor, rows: NetworkRow[]): Promise<NeutronNetwork[]> {
    const subnets = new Map<string, string[]>();
    for (let i = 0; i < rows.length; i += 500) {
      const ids = rows.slice(i, i + 500).map((n) => n.id);
      if (!ids.length) continue;
      const found = await this.db.selectFrom('network_subnets').select(['id', 'network_id']).where('network_id', 'in', ids).orderBy('created_at').orderBy('id').execute();
      for (const s of found) subnets.set(s.network_id, [...(subnets.get(s.network_id) ?? []), s.id]);
    }
    return rows.map((n) => networkView(n, subnets.get(n.id) ?? [], actor.admin));
  }

  async getNetwork(actor: Actor, id: string): Promise<NeutronNetwork> {
    this.enforce(actor, 'network:get_network', undefined);
    const n = await this.networkRow(actor, id);
    return (await this.networkViews(actor, [n]))[0]!;
  }

  async listNetworks(actor: Actor, q: Query): Promise<NeutronNetwork[]> {
    this.enforce(actor, 'network:get_network', undefined);
    let sel = this.db.selectFrom('network_networks').selectAll();
    if (!actor.admin) {
      sel = sel.where((eb) => eb.or([eb('project_id', '=', actor.projectId ?? ''), eb('shared', '=', 1), eb('router_external', '=', 1)]));
    }
    const eq = (key: string, column: string) => {
      const v = values(q, key);
      if (v) sel = sel.where(column, 'in', v);
    };
    eq('id', 'id');
    eq('name', 'name');
    eq('description', 'description');
    eq('project_id', 'project_id');
    eq('tenant_id', 'project_id');
    if (actor.admin) {
      // Provider attributes are admin-only to read, so filtering on them is too (else a
      // tenant could probe them by filtering).
      eq('provider:network_type', 'network_type');
      eq('provider:physical_network', 'physical_network');
      const seg = values(q, 'provider:segmentation_id');
      if (seg) sel = sel.where('segmentation_id', 'in', seg.map(Number));
    }
    for (const [key, column] of [['shared', 'shared'], ['router:external', 'router_external'], ['admin_state_up', 'admin_state_up']] as const) {
      const b = boolFilter(q, key);
      if (b) sel = sel.where(column, 'in', b);
    }
    const status = values(q, 'status');
    if (status && !status.includes('ACTIVE')) return [];
    sel = this.page(sel, q, 'network_networks');
    return this.networkViews(actor, (await sel.execute()) as NetworkRow[]);
  }

  /** limit/marker paging in id order (Neutron sorts by id by default). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private page(sel: any, q: Query, table: string): any {
    sel = sel.orderBy(`${table}.id`);
    const marker = values(q, 'marker')?.[0];
    if (marker) sel = sel.where(`${table}.id`, '>', marker);
    const limit = values(q, 'limit')?.[0];
    if (limit !== undefined) {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 0) throw NeutronError.invalidInput('limit', `'${limit}' is not a non-negative integer`);
      if (n > 0) sel = sel.limit(n);
    }
    return sel;
  }

  private providerOf(body: Body, path: string, current?: NetworkRow): { network_type: string; physical_network: string | null; segmentation_id: number | null } | undefined {
    const keys = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'];
    if (!keys.some((k) => body[k] !== undefined)) return undefined;
    const type = str(body, 'provider:network_type', path) ?? current?.network_type ?? 'flat';
    const physnet = body['provider:physical_network'] === null ? null : (str(body, 'provider:physical_network', path, 64) ?? current?.physical_network ?? null);
    const segRaw = body['provider:segmentation_id'];
    if (segRaw !== undefined && segRaw !== null && (typeof segRaw !== 'number' || !Number.isInteger(segRaw))) {
      throw NeutronError.invalidInput(`${path}.provider:segmentation_id`, `'${String(segRaw)}' is not an integer`);
    }
    const seg = segRaw === undefined ? (current?.segmentation_id ?? null) : (segRaw as number | null);
    if (type === 'flat') {
      if (!physnet) throw NeutronError.invalidInput(`${path}.provider:physical_network`, 'flat networks need a physical network');
      if (seg !== null) throw NeutronError.invalidInput(`${path}.provider:segmentation_id`, 'flat networks have no segmentation id');
    } else if (type === 'vlan') {
      if (!physnet) throw NeutronError.invalidInput(`${path}.provider:physical_network`, 'vlan networks need a physical network');
      if (seg === null || seg < 1 || seg > 4094) throw NeutronError.invalidInput(`${path}.provider:segmentation_id`, 'vlan networks need a segmentation id from 1 to 4094');
    } else {
      throw NeutronError.invalidInput(`${path}.provider:network_type`, `'${type}' is not supported; use flat (or vlan, recorded but not wired)`);
    }
    return { network_type: type, physical_network: physnet, segmentation_id: seg };
  }

  /** Neutron's FlatNetworkInUse / VlanIdInUse: one network per physical network (and VLAN). */
  private async checkSegmentFree(db: AnyDB, p: { network_type: string; physical_network: string | null; segmentation_id: number | null }, exceptId?: string): Promise<void> {
    if (p.network_type !== 'flat' && p.network_type !== 'vlan') return;
    let sel = db.selectFrom('network_networks').select('id').where('network_type', '=', p.network_type).where('physical_network', '=', p.physical_network);
    if (p.network_type === 'vlan') sel = sel.where('segmentation_id', '=', p.segmentation_id);
    if (exceptId) sel = sel.where('id', '!=', exceptId);
    const taken = await sel.executeTakeFirst();
    if (taken) {
      throw p.network_type === 'flat'
        ? NeutronError.conflict('FlatNetworkInUse', `Unable to create the flat network. Physical network ${p.physical_network} is in use.`, { path: 'network.provider:physical_network' })
        : NeutronError.conflict('VlanIdInUse', `Unable to create the network. The VLAN ${p.segmentation_id} on physical network ${p.physical_network} is in use.`, { path: 'network.provider:segmentation_id' });
    }
  }

  async createNetwork(actor: Actor, body: Body): Promise<NeutronNetwork> {
    const path = 'network';
    refuseUnknown(body, ['name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'project_id', 'tenant_id', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'port_security_enabled', 'availability_zone_hints'], path);
    const projectId = str(body, 'project_id', path) ?? str(body, 'tenant_id', path) ?? actor.projectId;
    if (!projectId) throw NeutronError.invalidInput(`${path}.project_id`, 'a project-scoped token or a project_id is needed');
    this.enforce(actor, 'network:create_network', projectId);
    const shared = bool(body, 'shared', path);
    const external = bool(body, 'router:external', path);
    if (shared) this.enforce(actor, 'network:create_network:shared', projectId);
    if (external) this.enforce(actor, 'network:create_network:router:external', projectId);
    const provider = this.providerOf(body, path);
    if (provider) this.enforce(actor, 'network:create_network:provider', projectId);
    if (bool(body, 'port_security_enabled', path)) throw NeutronError.invalidInput(`${path}.port_security_enabled`, 'port security (security groups) is not implemented; only false is accepted');
    const zones = body.availability_zone_hints;
    if (zones !== undefined && !(Array.isArray(zones) && zones.length === 0)) throw NeutronError.invalidInput(`${path}.availability_zone_hints`, 'availability zones are not implemented; only [] is accepted');
    const mtu = this.mtuOf(body, path) ?? 1500;
    const at = now();
    const row: NetworkRow = {
      id: randomUUID(),
      project_id: projectId,
      name: str(body, 'name', path) ?? '',
      description: str(body, 'description', path) ?? '',
      admin_state_up: bool(body, 'admin_state_up', path) === false ? 0 : 1,
      shared: shared ? 1 : 0,
      router_external: external ? 1 : 0,
      // Without provider attributes a network is recorded as "local": it exists in the database
      // and connects nothing yet (tenant overlays are not built).
      network_type: provider?.network_type ?? 'local',
      physical_network: provider?.physical_network ?? null,
      segmentation_id: provider?.segmentation_id ?? null,
      mtu,
      revision_number: 1,
      created_at: at,
      updated_at: at,
    };
    await this.db.transaction().execute(async (trx) => {
      if (provider) await this.checkSegmentFree(trx, provider);
      await trx.insertInto('network_networks').values(row).execute();
    });
    return (await this.networkViews(actor, [row]))[0]!;
  }

  private mtuOf(body: Body, path: string): number | undefined {
    const v = body.mtu;
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 68 || v > 9216) throw NeutronError.invalidInput(`${path}.mtu`, `'${String(v)}' is not an integer from 68 to 9216`);
    return v;
  }

  async updateNetwork(actor: Actor, id: string, body: Body): Promise<NeutronNetwork> {
    const path = 'network';
    const n = await this.networkRow(actor, id);
    this.enforce(actor, 'network:update_network', n.project_id);
    refuseUnknown(body, ['name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id'], path);
    const patch: Partial<NetworkRow> = {};
    const name = str(body, 'name', path);
    if (name !== undefined) patch.name = name;
    const description = str(body, 'description', path);
    if (description !== undefined) patch.description = description;
    const up = bool(body, 'admin_state_up', path);
    if (up !== undefined) patch.admin_state_up = up ? 1 : 0;
    const shared = bool(body, 'shared', path);
    if (shared !== undefined && (shared ? 1 : 0) !== n.shared) {
      this.enforce(actor, 'network:update_network:shared', n.project_id);
      patch.shared = shared ? 1 : 0;
    }
    const external = bool(body, 'router:external', path);
    if (external !== undefined && (external ? 1 : 0) !== n.router_external) {
      this.enforce(actor, 'network:update_network:router:external', n.project_id);
      patch.router_external = external ? 1 : 0;
    }
    const provider = this.providerOf(body, path, n);
    if (provider) {
      this.enforce(actor, 'network:update_network:provider', n.project_id);
      Object.assign(patch, provider);
    }
    const mtu = this.mtuOf(body, path);
    if (mtu !== undefined) patch.mtu = mtu;
    await this.db.transaction().execute(async (trx) => {
      if (provider) {
        const ports = await trx.selectFrom('network_ports').select('id').where('network_id', '=', id).executeTakeFirst();
        if (ports) throw NeutronError.conflict('NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, { path: 'network.provider:network_type' });
        await this.checkSegmentFree(trx, provider, id);
      }
      await trx.updateTable('network_networks').set({ ...patch, updated_at: now(), revision_number: n.revision_number + 1 }).where('id', '=', id).execute();
    });
    return this.getNetwork(actor, id);
  }

  async deleteNetwork(actor: Actor, id: string): Promise<void> {
    const n = await this.networkRow(actor, id);
    this.enforce(actor, 'network:delete_network', n.project_id);
    await this.db.transaction().execute(async (trx) => {
      const port = await trx.selectFrom('network_ports').select('id').where('network_id', '=', id).executeTakeFirst();
      if (port) throw NeutronError.conflict('NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, { network_id: id });
      await trx.deleteFrom('network_subnets').where('network_id', '=', id).execute();
      await trx.deleteFrom('network_networks').where('id', '=', id).execute();
    });
  }

  // ---- subnets --------------------------------------------------------------------------

  private async subnetRow(actor: Actor, id: string): Promise<{ s: SubnetRow; n: NetworkRow }> {
    const s = (await this.db.selectFrom('network_subnets').selectAll().where('id', '=', id).executeTakeFirst()) as SubnetRow | undefined;
    const n = s && ((await this.db.selectFrom('network_networks').selectAll().where('id', '=', s.network_id).executeTakeFirst()) as NetworkRow | undefined);
    if (!s || !n || !(actor.admin || s.project_id === actor.projectId || n.shared || n.router_external)) throw NeutronError.notFound('Subnet', id);
    return { s, n };
  }

  async getSubnet(actor: Actor, id: string): Promise<NeutronSubnet> {
    this.enforce(actor, 'network:get_subnet', undefined);
    return subnetView((await this.subnetRow(actor, id)).s);
  }

  async listSubnets(actor: Actor, q: Query): Promise<NeutronSubnet[]> {
    this.enforce(actor, 'network:get_subnet', undefined);
    let sel = this.db.selectFrom('network_subnets').innerJoin('network_networks', 'network_networks.id', 'network_subnets.network_id').selectAll('network_subnets');
    if (!actor.admin) {
      sel = sel.where((eb) => eb.or([eb('network_subnets.project_id', '=', actor.projectId ?? ''), eb('network_networks.shared', '=', 1), eb('network_networks.router_external', '=', 1)]));
    }
    for (const key of ['id', 'name', 'network_id', 'project_id', 'cidr', 'gateway_ip', 'description']) {
      const v = values(q, key);
      if (v) sel = sel.where(`network_subnets.${key}`, 'in', v);
    }
    const tenant = values(q, 'tenant_id');
    if (tenant) sel = sel.where('network_subnets.project_id', 'in', tenant);
    const version = values(q, 'ip_version');
    if (version) sel = sel.where('network_subnets.ip_version', 'in', version.map(Number));
    const dhcp = boolFilter(q, 'enable_dhcp');
    if (dhcp) sel = sel.where('network_subnets.enable_dhcp', 'in', dhcp);
    sel = this.page(sel, q, 'network_subnets');
    return ((await sel.execute()) as SubnetRow[]).map(subnetView);
  }

  async createSubnet(actor: Actor, body: Body): Promise<NeutronSubnet> {
    const path = 'subnet';
    refuseUnknown(body, ['name', 'description', 'network_id', 'project_id', 'tenant_id', 'cidr', 'ip_version', 'gateway_ip', 'allocation_pools', 'dns_nameservers', 'host_routes', 'enable_dhcp', 'dns_publish_fixed_ip'], path);
    const networkId = str(body, 'network_id', path);
    if (!networkId) throw NeutronError.invalidInput(`${path}.network_id`, 'is required');
    const n = await this.networkRow(actor, networkId);
    this.enforce(actor, 'network:create_subnet', n.project_id);
    const projectId = str(body, 'project_id', path) ?? str(body, 'tenant_id', path) ?? n.project_id;
    if (projectId !== n.project_id && !actor.admin) this.enforce(actor, 'network:create_subnet', projectId);
    const version = body.ip_version ?? 4;
    if (version === 6) throw NeutronError.invalidInput(`${path}.ip_version`, 'IPv6 subnets are not supported yet');
    if (version !== 4) throw NeutronError.invalidInput(`${path}.ip_version`, `'${String(version)}' is not 4`);
    if (body.cidr === undefined) throw NeutronError.invalidInput(`${path}.cidr`, 'is required (subnet pools are not supported)');
    const cidr = parseCidr(body.cidr as string, `${path}.cidr`);
    const cidrText = formatCidr(cidr);
    if (cidr.prefix > 30) throw NeutronError.invalidInput(`${path}.cidr`, `${cidrText} is too small; the smallest IPv4 subnet is a /30`);
    let gateway: string | null;
    if (body.gateway_ip === null) gateway = null;
    else if (body.gateway_ip === undefined) gateway = intToIp(cidr.network + 1);
    else {
      const g = ipToInt(body.gateway_ip as string, `${path}.gateway_ip`);
      const host = usable(cidr);
      if (g < host.start || g > host.end) throw NeutronError.invalidInput(`${path}.gateway_ip`, `${String(body.gateway_ip)} is not a host address of ${cidrText}`);
      gateway = intToIp(g);
    }
    const pools = body.allocation_pools === undefined ? defaultPools(cidrText, gateway) : checkPools(body.allocation_pools, cidrText, gateway, path);
    const dns = body.dns_nameservers === undefined ? [] : checkNameservers(body.dns_nameservers, `${path}.dns_nameservers`);
    const routes = body.host_routes === undefined ? [] : checkHostRoutes(body.host_routes, `${path}.host_routes`);
    const dhcp = bool(body, 'enable_dhcp', path);
    bool(body, 'dns_publish_fixed_ip', path);
    const at = now();
    const row: SubnetRow = {
      id: randomUUID(),
      network_id: n.id,
      project_id: projectId,
      name: str(body, 'name', path) ?? '',
      description: str(body, 'description', path) ?? '',
      cidr: cidrText,
      ip_version: 4,
      gateway_ip: gateway,
      allocation_pools: toJson(pools),
      dns_nameservers: toJson(dns),
      host_routes: toJson(routes),
      enable_dhcp: dhcp === false ? 0 : 1,
      revision_number: 1,
      created_at: at,
      updated_at: at,
    };
    await this.db.transaction().execute(async (trx) => {
      // Neutron refuses overlapping subnets on one network (addresses would be ambiguous).
      const others = await trx.selectFrom('network_subnets').select(['id', 'cidr']).where('network_id', '=', n.id).execute();
      for (const o of others) {
        const oc = parseCidr(o.cidr, 'cidr');
        if (overlaps({ start: oc.network, end: oc.broadcast }, { start: cidr.network, end: cidr.broadcast })) {
          throw NeutronError.invalidInput(`${path}.cidr`, `requested subnet with cidr ${cidrText} for network ${n.id} overlaps with subnet ${o.id} (${o.cidr})`);
        }
      }
      await trx.insertInto('network_subnets').values(row).execute();
    });
    return subnetView(row);
  }

  async updateSubnet(actor: Actor, id: string, body: Body): Promise<NeutronSubnet> {
    const path = 'subnet';
    const { s } = await this.subnetRow(actor, id);
    this.enforce(actor, 'network:update_subnet', s.project_id);
    refuseUnknown(body, ['name', 'description', 'gateway_ip', 'allocation_pools', 'dns_nameservers', 'host_routes', 'enable_dhcp', 'dns_publish_fixed_ip'], path);
    const patch: Partial<SubnetRow> = {};
    const name = str(body, 'name', path);
    if (name !== undefined) patch.name = name;
    const description = str(body, 'description', path);
    if (description !== undefined) patch.description = description;
    const cidr = parseCidr(s.cidr, 'cidr');
    let gateway = s.gateway_ip;
    if (body.gateway_ip !== undefined) {
      if (body.gateway_ip === null) gateway = null;
      else {
        const g = ipToInt(body.gateway_ip as string, `${path}.gateway_ip`);
        const host = usable(cidr);
        if (g < host.start || g > host.end) throw NeutronError.invalidInput(`${path}.gateway_ip`, `${String(body.gateway_ip)} is not a host address of ${s.cidr}`);
        gateway = intToIp(g);
      }
      patch.gateway_ip = gateway;
    }
    if (body.allocation_pools !== undefined || body.gateway_ip !== undefined) {
      const pools = checkPools(body.allocation_pools ?? fromJson<AllocationPool[]>(s.allocation_pools, []), s.cidr, gateway, path);
      patch.allocation_pools = toJson(pools);
    }
    if (body.dns_nameservers !== undefined) patch.dns_nameservers = toJson(checkNameservers(body.dns_nameservers, `${path}.dns_nameservers`));
    if (body.host_routes !== undefined) patch.host_routes = toJson(checkHostRoutes(body.host_routes, `${path}.host_routes`));
    const dhcp = bool(body, 'enable_dhcp', path);
    if (dhcp !== undefined) patch.enable_dhcp = dhcp ? 1 : 0;
    await this.db.transaction().execute(async (trx) => {
      if (gateway && gateway !== s.gateway_ip) {
        const used = await trx.selectFrom('network_ip_allocations').select('port_id').where('subnet_id', '=', id).where('ip_address', '=', gateway).executeTakeFirst();
        if (used) throw NeutronError.conflict('GatewayIpInUse', `Current gateway ip ${gateway} already in use by port ${used.port_id}. Unable to update.`, { path: `${path}.gateway_ip` });
      }
      await trx.updateTable('network_subnets').set({ ...patch, updated_at: now(), revision_number: s.revision_number + 1 }).where('id', '=', id).execute();
    });
    // Bound ports' reservations keep their address; routes and name servers reach the machine
    // through its config drive (networkData), read at deploy time.
    return this.getSubnet(actor, id);
  }

  async deleteSubnet(actor: Actor, id: string): Promise<void> {
    const { s } = await this.subnetRow(actor, id);
    this.enforce(actor, 'network:delete_subnet', s.project_id);
    await this.db.transaction().execute(async (trx) => {
      const used = await trx.selectFrom('network_ip_allocations').select('port_id').where('subnet_id', '=', id).executeTakeFirst();
      if (used) throw NeutronError.conflict('SubnetInUse', `Unable to complete operation on subnet ${id}: one or more ports have an IP allocation from this subnet.`, { subnet_id: id });
      await trx.deleteFrom('network_subnets').where('id', '=', id).execute();
    });
  }

  // ---- ports ----------------------------------------------------------------------------

  private async portRow(actor: Actor, id: string, db: AnyDB = this.db): Promise<PortRow> {
    const p = (await db.selectFrom('network_ports').selectAll().where('id', '=', id).executeTakeFirst()) as PortRow | undefined;
    // Only a port's own project sees it (and admins): another project's port is "not found".
    if (!p || !(actor.admin || p.project_id === actor.projectId)) throw NeutronError.notFound('Port', id);
    return p;
  }

  private async fixedIpsOf(ids: string[], db: AnyDB = this.db): Promise<Map<string, FixedIp[]>> {
    const out = new Map<string, FixedIp[]>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      if (!chunk.length) continue;
      const rows = await db.selectFrom('network_ip_allocations').select(['port_id', 'subnet_id', 'ip_address', 'ip_int']).where('port_id', 'in', chunk).orderBy('subnet_id').orderBy('ip_int').execute();
      for (const r of rows) out.set(r.port_id, [...(out.get(r.port_id) ?? []), { subnet_id: r.subnet_id, ip_address: r.ip_address }]);
    }
    return out;
  }

  private async portViews(actor: Actor, rows: PortRow[]): Promise<NeutronPort[]> {
    const ips = await this.fixedIpsOf(rows.map((p) => p.id));
    return rows.map((p) => portView(p, ips.get(p.id) ?? [], actor.admin));
  }

  async getPort(actor: Actor, id: string): Promise<NeutronPort> {
    const p = await this.portRow(actor, id);
    this.enforce(actor, 'network:get_port', p.project_id);
    return (await this.portViews(actor, [p]))[0]!;
  }

  async listPorts(actor: Actor, q: Query): Promise<NeutronPort[]> {
    if (actor.auth) this.enforce(actor, 'network:get_port', actor.projectId);
    let sel = this.db.selectFrom('network_ports').selectAll();
    if (!actor.admin) sel = sel.where('project_id', '=', actor.projectId ?? '');
    for (const key of ['id', 'name', 'network_id', 'project_id', 'device_id', 'device_owner', 'description', 'dns_name']) {
      const v = values(q, key);
      if (v) sel = sel.where(key, 'in', v);
    }
    const tenant = values(q, 'tenant_id');
    if (tenant) sel = sel.where('project_id', 'in', tenant);
    const macs = values(q, 'mac_address');
    if (macs) sel = sel.where('mac_address', 'in', macs.map((m) => m.toLowerCase()));
    if (actor.admin) {
      const hosts = values(q, 'binding:host_id');
      if (hosts) sel = sel.where('host_id', 'in', hosts);
    }
    const vnic = values(q, 'binding:vnic_type');
    if (vnic) sel = sel.where('vnic_type', 'in', vnic);
    const up = boolFilter(q, 'admin_state_up');
    if (up) sel = sel.where('admin_state_up', 'in', up);
    // fixed_ips=ip_address=10.0.0.5 / fixed_ips=subnet_id=<id>: every one given must match.
    for (const f of values(q, 'fixed_ips') ?? []) {
      const [k, ...rest] = f.split('=');
      const v = rest.join('=');
      if (k !== 'ip_address' && k !== 'subnet_id' && k !== 'ip_address_substr') throw NeutronError.invalidInput('fixed_ips', `'${f}' is not ip_address=<ip>, ip_address_substr=<text> or subnet_id=<id>`);
      const sub = this.db.selectFrom('network_ip_allocations').select('port_id');
      sel = sel.where('id', 'in', k === 'ip_address_substr' ? sub.where('ip_address', 'like', `%${v.replace(/[%_\\]/g, '')}%`) : sub.where(k, '=', v));
    }
    sel = this.page(sel, q, 'network_ports');
    let rows = (await sel.execute()) as PortRow[];
    const status = values(q, 'status');
    if (status) rows = rows.filter((p) => status.includes(isBound(p) && p.admin_state_up ? 'ACTIVE' : 'DOWN'));
    return this.portViews(actor, rows);
  }

  /** Which network a port may be created on: own or shared (else 404 if unseen, 403 if only visible). */
  private async portNetwork(actor: Actor, networkId: string): Promise<NetworkRow> {
    const n = await this.networkRow(actor, networkId);
    if (!actor.admin && n.project_id !== actor.projectId && !n.shared) {
      throw new NeutronError(403, 'PolicyNotAuthorized', `Ports on network ${networkId} can be created only by its project or an admin.`, { fields: { path: 'port.network_id' } });
    }
    return n;
  }

  private async subnetsOf(db: AnyDB, networkId: string): Promise<SubnetRow[]> {
    return (await db.selectFrom('network_subnets').selectAll().where('network_id', '=', networkId).orderBy('created_at').orderBy('id').execute()) as SubnetRow[];
  }

  /** Allocates the requested fixed IPs (or one from the first subnet with room) for a new port. */
  private async allocateFor(trx: AnyDB, portId: string, networkId: string, requests: FixedIpRequest[] | undefined, path: string): Promise<void> {
    const subnets = await this.subnetsOf(trx, networkId);
    if (requests === undefined) {
      // Neutron: an IPv4 port gets one address, from the first subnet that has one free.
      for (const s of subnets) if (await allocate(trx, ipamSubnet(s), portId, undefined, path, true)) return;
      if (subnets.length) throw NeutronError.conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${networkId}.`, { network_id: networkId });
      return;
    }
    const seen = new Set<string>();
    for (const [i, r] of requests.entries()) {
      const f = `${path}[${i}]`;
      const s = this.subnetFor(subnets, r, f, networkId);
      if (r.ip_address !== undefined) {
        const key = `${s.id}/${intToIp(ipToInt(r.ip_address, `${f}.ip_address`))}`;
        if (seen.has(key)) throw NeutronError.invalidInput(`${f}.ip_address`, `${r.ip_address} is requested twice`);
        seen.add(key);
      }
      await allocate(trx, ipamSubnet(s), portId, r.ip_address === undefined ? undefined : intToIp(ipToInt(r.ip_address, `${f}.ip_address`)), `${f}.ip_address`);
    }
  }

  private subnetFor(subnets: SubnetRow[], r: FixedIpRequest, f: string, networkId: string): SubnetRow {
    if (r.subnet_id !== undefined) {
      const s = subnets.find((x) => x.id === r.subnet_id);
      if (!s) throw NeutronError.invalidInput(`${f}.subnet_id`, `subnet ${r.subnet_id} is not on network ${networkId}`);
      if (r.ip_address !== undefined && !contains(parseCidr(s.cidr, 'cidr'), ipToInt(r.ip_address, `${f}.ip_address`))) {
        throw NeutronError.invalidInput(`${f}.ip_address`, `${r.ip_address} is not in subnet ${s.id} (${s.cidr})`);
      }
      return s;
    }
    const ip = ipToInt(r.ip_address!, `${f}.ip_address`);
    const s = subnets.find((x) => contains(parseCidr(x.cidr, 'cidr'), ip));
    if (!s) throw NeutronError.invalidInput(`${f}.ip_address`, `${r.ip_address} is in no subnet of network ${networkId}`);
    return s;
  }

  private async checkMacFree(db: AnyDB, networkId: string, mac: string, path: string, exceptPort?: string): Promise<void> {
    let sel = db.selectFrom('network_ports').select('id').where('network_id', '=', networkId).where('mac_address', '=', mac);
    if (exceptPort) sel = sel.where('id', '!=', exceptPort);
    if (await sel.executeTakeFirst()) throw NeutronError.conflict('MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`, { path });
  }

  private bindingOf(body: Body, path: string): { host_id?: string; profile?: string; vnic_type?: string } {
    const out: { host_id?: string; profile?: string; vnic_type?: string } = {};
    const host = body['binding:host_id'];
    if (host !== undefined) {
      if (typeof host !== 'string' || host.length > 255) throw NeutronError.invalidInput(`${path}.binding:host_id`, `'${String(host)}' is not a valid string`);
      out.host_id = host;
    }
    const profile = body['binding:profile'];
    if (profile !== undefined) {
      if (profile !== null && (typeof profile !== 'object' || Array.isArray(profile))) throw NeutronError.invalidInput(`${path}.binding:profile`, 'must be an object');
      const text = toJson(profile ?? {});
      if (text.length > 4096) throw NeutronError.invalidInput(`${path}.binding:profile`, 'larger than 4096 bytes');
      out.profile = text;
    }
    const vnic = body['binding:vnic_type'];
    if (vnic !== undefined) {
      if (typeof vnic !== 'string' || !VNIC_TYPES.includes(vnic)) throw NeutronError.invalidInput(`${path}.binding:vnic_type`, `'${String(vnic)}' is not one of ${VNIC_TYPES.join(', ')}`);
      out.vnic_type = vnic;
    }
    return out;
  }

  async createPort(actor: Actor, body: Body): Promise<NeutronPort> {
    const path = 'port';
    refuseUnknown(body, ['name', 'description', 'network_id', 'project_id', 'tenant_id', 'fixed_ips', 'mac_address', 'device_id', 'device_owner', 'admin_state_up', 'dns_name', 'binding:host_id', 'binding:profile', 'binding:vnic_type', 'security_groups', 'port_security_enabled'], path);
    const networkId = str(body, 'network_id', path);
    if (!networkId) throw NeutronError.invalidInput(`${path}.network_id`, 'is required');
    const projectId = str(body, 'project_id', path) ?? str(body, 'tenant_id', path) ?? actor.projectId;
    if (!projectId) throw NeutronError.invalidInput(`${path}.project_id`, 'a project-scoped token or a project_id is needed');
    this.enforce(actor, 'network:create_port', projectId);
    const n = await this.portNetwork(actor, networkId);
    const fixed = body.fixed_ips === undefined ? undefined : checkFixedIps(body.fixed_ips, `${path}.fixed_ips`);
    if (fixed?.some((f) => f.ip_address !== undefined)) this.enforce(actor, 'network:create_port:fixed_ips:ip_address', n.project_id);
    const mac = body.mac_address === undefined ? undefined : normalizeMacAddress(body.mac_address as string, `${path}.mac_address`);
    if (mac) this.enforce(actor, 'network:create_port:mac_address', n.project_id);
    const owner = str(body, 'device_owner', path) ?? '';
    if (owner.startsWith('network:')) this.enforce(actor, 'network:create_port:device_owner', n.project_id);
    const binding = this.bindingOf(body, path);
    if (binding.host_id !== undefined || binding.profile !== undefined) this.enforce(actor, 'network:create_port:binding', n.project_id);
    const groups = body.security_groups;
    if (groups !== undefined && !(Array.isArray(groups) && groups.length === 0)) throw NeutronError.invalidInput(`${path}.security_groups`, 'security groups are not implemented; only [] is accepted');
    if (bool(body, 'port_security_enabled', path)) throw NeutronError.invalidInput(`${path}.port_security_enabled`, 'port security is not implemented; only false is accepted');
    const at = now();
    const row: PortRow = {
      id: randomUUID(),
      network_id: n.id,
      project_id: projectId,
      name: str(body, 'name', path) ?? '',
      description: str(body, 'description', path) ?? '',
      mac_address: mac ?? '',
      admin_state_up: bool(body, 'admin_state_up', path) === false ? 0 : 1,
      device_id: str(body, 'device_id', path) ?? '',
      device_owner: owner,
      host_id: binding.host_id ?? '',
      profile: binding.profile ?? '{}',
      vnic_type: binding.vnic_type ?? 'normal',
      dns_name: str(body, 'dns_name', path) ?? '',
      revision_number: 1,
      created_at: at,
      updated_at: at,
    };
    await this.insertPort(row, fixed, path);
    await this.refreshReservation(row.id);
    return this.getPort(actor.auth ? actor : SYSTEM, row.id);
  }

  /** Inserts a port with its addresses in one transaction (an address or MAC refused undoes both). */
  async insertPort(row: PortRow, fixed: FixedIpRequest[] | undefined, path: string): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        if (row.mac_address) await this.checkMacFree(trx, row.network_id, row.mac_address, `${path}.mac_address`);
        else {
          // 2^24 MACs per network: a few tries find a free one unless the network is absurdly full.
          for (let i = 0; i < 16 && !row.mac_address; i++) {
            const m = generatedMac();
            const taken = await trx.selectFrom('network_ports').select('id').where('network_id', '=', row.network_id).where('mac_address', '=', m).executeTakeFirst();
            if (!taken) row.mac_address = m;
          }
          if (!row.mac_address) throw NeutronError.conflict('MacAddressGenerationFailure', `Unable to generate a unique mac on network ${row.network_id}.`);
        }
        await trx.insertInto('network_ports').values(row).execute();
        await this.allocateFor(trx, row.id, row.network_id, fixed, `${path}.fixed_ips`);
      });
    } catch (err) {
      // A concurrent request took the same MAC between our check and our insert.
      if (isUniqueViolation(err)) throw NeutronError.conflict('MacAddressInUse', `Unable to complete operation for network ${row.network_id}. The mac address ${row.mac_address} is in use.`, { path: `${path}.mac_address` });
      throw err;
    }
  }

  async updatePort(actor: Actor, id: string, body: Body): Promise<NeutronPort> {
    const path = 'port';
    const p = await this.portRow(actor, id);
    this.enforce(actor, 'network:update_port', p.project_id);
    refuseUnknown(body, ['name', 'description', 'fixed_ips', 'mac_address', 'device_id', 'device_owner', 'admin_state_up', 'dns_name', 'binding:host_id', 'binding:profile', 'binding:vnic_type', 'security_groups', 'port_security_enabled'], path);
    const n = (await this.db.selectFrom('network_networks').selectAll().where('id', '=', p.network_id).executeTakeFirst()) as NetworkRow;
    const patch: Partial<PortRow> = {};
    for (const key of ['name', 'description', 'device_id', 'dns_name'] as const) {
      const v = str(body, key, path);
      if (v !== undefined) patch[key] = v;
    }
    const owner = str(body, 'device_owner', path);
    if (owner !== undefined) {
      if (owner.startsWith('network:')) this.enforce(actor, 'network:update_port:device_owner', n.project_id);
      patch.device_owner = owner;
    }
    const up = bool(body, 'admin_state_up', path);
    if (up !== undefined) patch.admin_state_up = up ? 1 : 0;
    const binding = this.bindingOf(body, path);
    if (binding.host_id !== undefined || binding.profile !== undefined) this.enforce(actor, 'network:update_port:binding', n.project_id);
    Object.assign(patch, binding);
    const groups = body.security_groups;
    if (groups !== undefined && !(Array.isArray(groups) && groups.length === 0)) throw NeutronError.invalidInput(`${path}.security_groups`, 'security groups are not implemented; only [] is accepted');
    if (bool(body, 'port_security_enabled', path)) throw NeutronError.invalidInput(`${path}.port_security_enabled`, 'port security is not implemented; only false is accepted');
    if (body.mac_address !== undefined) {
      const mac = normalizeMacAddress(body.mac_address as string, `${path}.mac_address`);
      if (mac !== p.mac_address) {
        this.enforce(actor, 'network:update_port:mac_address', n.project_id);
        // A bound port's MAC is what its host's NIC has: changing it under the host breaks it.
        if (isBound(p) && (binding.host_id ?? p.host_id) !== '') throw NeutronError.conflict('PortBound', `Unable to complete operation on port ${id}, port is already bound, port type: other, old_mac ${p.mac_address}, new_mac ${mac}.`, { path: `${path}.mac_address` });
        patch.mac_address = mac;
      }
    }
    const fixed = body.fixed_ips === undefined ? undefined : checkFixedIps(body.fixed_ips, `${path}.fixed_ips`);
    if (fixed?.some((f) => f.ip_address !== undefined)) this.enforce(actor, 'network:update_port:fixed_ips:ip_address', n.project_id);
    await this.writePort(p, patch, fixed, path);
    await this.refreshReservation(id, p.mac_address);
    return this.getPort(actor.auth ? actor : SYSTEM, id);
  }

  /** Applies a port update (and its new fixed IPs, keeping the addresses asked for again) in one transaction. */
  async writePort(p: PortRow, patch: Partial<PortRow>, fixed: FixedIpRequest[] | undefined, path: string): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        if (patch.mac_address) await this.checkMacFree(trx, p.network_id, patch.mac_address, `${path}.mac_address`, p.id);
        await trx.updateTable('network_ports').set({ ...patch, updated_at: now(), revision_number: p.revision_number + 1 }).where('id', '=', p.id).execute();
        if (fixed !== undefined) await this.replaceFixedIps(trx, p, fixed, `${path}.fixed_ips`);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw NeutronError.conflict('MacAddressInUse', `Unable to complete operation for network ${p.network_id}. The mac address ${String(patch.mac_address)} is in use.`, { path: `${path}.mac_address` });
      throw err;
    }
  }

  private async replaceFixedIps(trx: AnyDB, p: PortRow, fixed: FixedIpRequest[], path: string): Promise<void> {
    const subnets = await this.subnetsOf(trx, p.network_id);
    const current = (await this.fixedIpsOf([p.id], trx)).get(p.id) ?? [];
    const keep = new Set<string>();
    const todo: Array<{ s: SubnetRow; ip?: string; f: string }> = [];
    for (const [i, r] of fixed.entries()) {
      const f = `${path}[${i}]`;
      const s = this.subnetFor(subnets, r, f, p.network_id);
      const ip = r.ip_address === undefined ? undefined : intToIp(ipToInt(r.ip_address, `${f}.ip_address`));
      // Already this port's: kept as it is. A bare subnet_id keeps the port's address there, if any.
      const mine = current.find((c) => c.subnet_id === s.id && (ip === undefined ? !keep.has(`${c.subnet_id}/${c.ip_address}`) : c.ip_address === ip));
      if (mine) {
        if (keep.has(`${mine.subnet_id}/${mine.ip_address}`)) throw NeutronError.invalidInput(`${f}.ip_address`, `${mine.ip_address} is requested twice`);
        keep.add(`${mine.subnet_id}/${mine.ip_address}`);
      } else todo.push({ s, ip, f });
    }
    for (const c of current) {
      if (!keep.has(`${c.subnet_id}/${c.ip_address}`)) {
        await trx.deleteFrom('network_ip_allocations').where('port_id', '=', p.id).where('subnet_id', '=', c.subnet_id).where('ip_address', '=', c.ip_address).execute();
      }
    }
    for (const t of todo) await allocate(trx, ipamSubnet(t.s), p.id, t.ip, `${t.f}.ip_address`);
  }

  async deletePort(actor: Actor, id: string): Promise<void> {
    const p = await this.portRow(actor, id);
    this.enforce(actor, 'network:delete_port', p.project_id);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('network_ip_allocations').where('port_id', '=', id).execute();
      await trx.deleteFrom('network_ports').where('id', '=', id).execute();
    });
    await this.refreshReservation(id, p.mac_address);
  }

  // ---- the provisioning network's DHCP reservations ----------------------------------------

  /** The reservation a port should have now: bound, enabled, on the provisioning network, with an address. */
  private async wantedReservation(portId: string): Promise<{ mac: string; ip: string; hostname?: string } | undefined> {
    const p = (await this.db.selectFrom('network_ports').selectAll().where('id', '=', portId).executeTakeFirst()) as PortRow | undefined;
    if (!p || !isBound(p) || !p.admin_state_up) return undefined;
    const n = await this.db.selectFrom('network_networks').select(['network_type', 'physical_network']).where('id', '=', p.network_id).executeTakeFirst();
    if (!n || n.network_type !== 'flat' || n.physical_network !== this.o.provisioningPhysnet) return undefined;
    const ip = ((await this.fixedIpsOf([p.id])).get(p.id) ?? [])[0];
    if (!ip) return undefined;
    return { mac: p.mac_address, ip: ip.ip_address, hostname: hostnameOf(p) };
  }

  /**
   * Brings dnsmasq's entry for a port in line with the database: queued, and reading the port
   * when it runs, so concurrent changes of one port end in the state of the last commit.
   * `oldMac` is the MAC the port had before the change (removed if it is no longer wanted).
   */
  refreshReservation(portId: string, oldMac?: string): Promise<void> {
    const dhcp = this.o.reservations;
    if (!dhcp) return Promise.resolve();
    const run = this.reservationQueue.then(async () => {
      const want = await this.wantedReservation(portId);
      if (oldMac && oldMac !== want?.mac) await dhcp.remove(oldMac);
      if (want) await dhcp.set(want.mac, want.ip, want.hostname);
    });
    this.reservationQueue = run.catch(() => undefined);
    return run;
  }

  /** Every reservation from the database (at start). */
  async resyncReservations(): Promise<number> {
    const dhcp = this.o.reservations;
    if (!dhcp) return 0;
    const rows = (await this.db
      .selectFrom('network_ports')
      .innerJoin('network_networks', 'network_networks.id', 'network_ports.network_id')
      .selectAll('network_ports')
      .where('network_networks.network_type', '=', 'flat')
      .where('network_networks.physical_network', '=', this.o.provisioningPhysnet)
      .where('network_ports.host_id', '!=', '')
      .where('network_ports.admin_state_up', '=', 1)
      .execute()) as PortRow[];
    const ips = await this.fixedIpsOf(rows.map((r) => r.id));
    const entries = rows.flatMap((p) => {
      const ip = ips.get(p.id)?.[0];
      return ip ? [{ mac: p.mac_address, ip: ip.ip_address, hostname: hostnameOf(p) }] : [];
    });
    await dhcp.replaceAll(entries);
    return entries.length;
  }
}
