// os-net-config's configuration: {network_config: [objects]} in YAML or JSON, objects of type
// interface, vlan, linux_bond, linux_bridge (ovs_bridge is read as a Linux bridge), each with
// addresses [{ip_netmask}], routes [{ip_netmask|destination, next_hop|nexthop, default}], mtu,
// dns_servers, use_dhcp, members. Validation names the object by its index and name.
import { ValidationError } from '../../common/errors.js';

export interface Address {
  ip: string;
  prefix: number;
}

export interface Route {
  destination: string;
  nextHop?: string;
  metric?: number;
}

export interface NetObject {
  type: 'interface' | 'vlan' | 'linux_bond' | 'linux_bridge';
  /** As written (nic1 may be mapped later). */
  name: string;
  useDhcp: boolean;
  useDhcpv6: boolean;
  addresses: Address[];
  routes: Route[];
  mtu?: number;
  dnsServers: string[];
  defroute: boolean;
  members: NetObject[];
  vlanId?: number;
  device?: string;
  bondingOptions?: string;
  primary: boolean;
}

type Raw = Record<string, unknown>;

function fail(msg: string, path: string, file?: string): never {
  throw new ValidationError(msg, { file, path });
}

export function parseAddress(s: unknown, path: string, file?: string): Address {
  if (typeof s !== 'string') fail('ip_netmask must be a string like 192.0.2.1/24', path, file);
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) fail(`"${s}" is not an address with a prefix length (ip_netmask)`, path, file);
  const ip = m[1] as string;
  const prefix = Number(m[2]);
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);
  if ((v4 && prefix > 32) || (!v4 && !ip.includes(':')) || prefix > 128) fail(`"${s}" is not a valid address`, path, file);
  return { ip, prefix };
}

function parseObject(raw: unknown, path: string, file?: string): NetObject {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a mapping', path, file);
  const r = raw as Raw;
  let type = r.type;
  if (type === 'ovs_bridge') type = 'linux_bridge';
  if (type === 'ovs_bond') type = 'linux_bond';
  if (type !== 'interface' && type !== 'vlan' && type !== 'linux_bond' && type !== 'linux_bridge') {
    fail(`unsupported type ${JSON.stringify(r.type)} (interface, vlan, linux_bond, linux_bridge)`, `${path}.type`, file);
  }
  const vlanId = r.vlan_id === undefined ? undefined : Number(r.vlan_id);
  if (type === 'vlan' && (vlanId === undefined || !Number.isInteger(vlanId) || vlanId < 1 || vlanId > 4094)) {
    fail('vlan_id must be an integer 1-4094', `${path}.vlan_id`, file);
  }
  const name = typeof r.name === 'string' ? r.name : type === 'vlan' ? `vlan${vlanId}` : fail('name is required', `${path}.name`, file);
  const where = `${path}(${name})`;
  const list = (k: string): unknown[] => {
    const v = r[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(`${k} must be a list`, `${where}.${k}`, file);
    return v;
  };
  const bool = (k: string, d = false): boolean => {
    const v = r[k];
    if (v === undefined) return d;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|yes|on|1)$/i.test(v)) return true;
    if (typeof v === 'string' && /^(false|no|off|0)$/i.test(v)) return false;
    return fail(`${k} must be a boolean`, `${where}.${k}`, file);
  };
  const mtu = r.mtu === undefined ? undefined : Number(r.mtu);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) fail('mtu must be an integer 68-65535', `${where}.mtu`, file);
  const routes = list('routes').map((x, i): Route => {
    const rr = (x ?? {}) as Raw;
    const rp = `${where}.routes[${i}]`;
    const isDefault = rr.default === true || rr.default === 'true';
    const dest = (rr.ip_netmask ?? rr.destination) as string | undefined;
    const nextHop = (rr.next_hop ?? rr.nexthop) as string | undefined;
    if (!isDefault && dest === undefined) fail('a route needs ip_netmask (or destination) or default: true', rp, file);
    if (dest !== undefined) parseAddress(dest, `${rp}.ip_netmask`, file);
    if (nextHop !== undefined && !/^[0-9a-fA-F:.]+$/.test(String(nextHop))) fail(`next_hop "${String(nextHop)}" is not an address`, rp, file);
    const metric = rr.route_options !== undefined ? Number(/metric\s+(\d+)/.exec(String(rr.route_options))?.[1] ?? NaN) : undefined;
    return { destination: isDefault ? (String(nextHop ?? '').includes(':') ? '::/0' : '0.0.0.0/0') : (dest as string), nextHop, metric: Number.isNaN(metric) ? undefined : metric };
  });
  return {
    type,
    name,
    useDhcp: bool('use_dhcp'),
    useDhcpv6: bool('use_dhcpv6'),
    addresses: list('addresses').map((x, i) => parseAddress((x as Raw | null)?.ip_netmask, `${where}.addresses[${i}].ip_netmask`, file)),
    routes,
    mtu,
    dnsServers: list('dns_servers').map(String),
    defroute: bool('defroute', true),
    members: list('members').map((m, i) => parseObject(m, `${where}.members[${i}]`, file)),
    vlanId,
    device: typeof r.device === 'string' ? r.device : undefined,
    bondingOptions: typeof r.bonding_options === 'string' ? r.bonding_options : undefined,
    primary: bool('primary'),
  };
}

export function parseNetworkConfig(doc: unknown, file?: string): NetObject[] {
  if (typeof doc !== 'object' || doc === null || !('network_config' in doc)) fail('no network_config key', 'network_config', file);
  const list = (doc as Raw).network_config;
  if (!Array.isArray(list)) fail('network_config must be a list', 'network_config', file);
  return list.map((o, i) => parseObject(o, `network_config[${i}]`, file));
}
