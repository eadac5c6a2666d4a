// OS::Neutron::Net, OS::Neutron::Subnet and OS::Neutron::Port through the NetworkProvider the
// server injects (src/server/orchestration-network.ts: the network service). Every call acts
// for the stack's project; get_resource gives the record's id; attributes are read live.
// Properties follow Heat's resource reference; those naming features the network service does
// not have (security groups, QoS, address pairs, DHCP agents, subnet pools, IPv6) validate and
// are refused at create when they ask for something, naming the property.
import type { PropSchema, ResourceType, RuntimeResource } from '../registry.js';
import type { FixedIp, NetworkRecord, PortRecord, PortRequest, SubnetRecord } from '../network-provider.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

type Fail = (property: string | undefined, message: string) => never;

/** At create/update: the error names the property. */
const fail: Fail = (property, message) => {
  throw new Error(`${property ? `properties.${property}: ` : ''}${message}`);
};

function str(v: Json | undefined): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

/** Properties the network service has no feature for: only their empty/neutral value is accepted. */
function refuseUnsupported(props: JsonMap, fail: Fail, names: readonly string[]): void {
  for (const k of names) {
    const v = props[k];
    if (v === undefined || v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0) || (isMapping(v) && Object.keys(v).length === 0)) continue;
    fail(k, `is not supported by this cloud's network service (${JSON.stringify(v).slice(0, 80)}); leave it out`);
  }
}

async function networkId(r: RuntimeResource, props: JsonMap, fail: Fail): Promise<string> {
  const ref = str(props.network) ?? str(props.network_id);
  const key = props.network !== undefined ? 'network' : 'network_id';
  if (!ref) fail('network', 'is required');
  const n = await r.engine.network.findNetwork(ref, r.projectId);
  if (!n) fail(key, `network ${ref} could not be found`);
  return n.id;
}

// ---------- OS::Neutron::Net ----------

const NET_UNSUPPORTED = ['dhcp_agent_ids', 'port_security_enabled', 'qos_policy', 'dns_domain', 'value_specs'] as const;

const netProps: Record<string, PropSchema> = {
  name: { type: 'string', updateAllowed: true },
  admin_state_up: { type: 'boolean', default: true, updateAllowed: true },
  // Sharing needs an admin; Heat acts for the stack's project, whose roles it does not carry, so
  // only false is accepted (an admin shares a network through the network API).
  shared: { type: 'boolean', default: false, updateAllowed: true },
  tenant_id: { type: 'string' },
  dhcp_agent_ids: { type: 'list', updateAllowed: true },
  port_security_enabled: { type: 'boolean', updateAllowed: true },
  qos_policy: { type: 'string', updateAllowed: true },
  dns_domain: { type: 'string', updateAllowed: true },
  value_specs: { type: 'map', default: {}, updateAllowed: true },
  tags: { type: 'list', updateAllowed: true },
};

/** At create (validation accepts what Heat accepts: templates name admin features, e.g. provider value_specs). */
function refuseNet(props: JsonMap, fail: Fail): void {
  if (props.shared === true) fail('shared', 'a shared network needs an admin: create it with the network API (orchestration acts as the stack\'s project)');
  refuseUnsupported(props, fail, NET_UNSUPPORTED);
}

function checkTenant(r: RuntimeResource, fail: Fail): void {
  const t = str(r.properties.tenant_id);
  if (t !== undefined && t !== r.projectId) fail('tenant_id', `must be the stack's project (${r.projectId}); records are created for the stack's project only`);
}

async function showNetwork(r: RuntimeResource): Promise<NetworkRecord | undefined> {
  return r.physicalId ? r.engine.network.findNetwork(r.physicalId, r.projectId) : undefined;
}

export const netType: ResourceType = {
  name: 'OS::Neutron::Net',
  properties: netProps,
  attributes: ['admin_state_up', 'mtu', 'name', 'status', 'subnets', 'tenant_id', 'port_security_enabled', 'qos_policy_id', 'segments', 'l2_adjacency', 'show'],
  plugin: {
    async create(r) {
      refuseNet(r.properties, fail);
      checkTenant(r, fail);
      const n = await r.engine.network.createNetwork(r.projectId, {
        name: str(r.properties.name) ?? `${r.stackName}-${r.name}`,
        adminStateUp: r.properties.admin_state_up !== false,
      });
      r.physicalId = n.id;
    },
    async update(r) {
      refuseNet(r.properties, fail);
      if (!r.physicalId) return;
      await r.engine.network.updateNetwork(r.physicalId, r.projectId, { name: str(r.properties.name) ?? `${r.stackName}-${r.name}`, adminStateUp: r.properties.admin_state_up !== false });
    },
    async delete(r) {
      if (r.physicalId) await r.engine.network.deleteNetwork(r.physicalId, r.projectId);
    },
    async attribute(r, name) {
      const n = await showNetwork(r);
      if (!n) return null;
      switch (name) {
        case 'tenant_id':
          return n.project_id;
        case 'port_security_enabled':
          return false;
        case 'qos_policy_id':
          return null;
        case 'segments':
          return [];
        case 'l2_adjacency':
          return true;
        case 'admin_state_up':
        case 'mtu':
        case 'name':
        case 'status':
        case 'subnets':
          return n[name];
        default:
          return n;
      }
    },
  },
};

// ---------- OS::Neutron::Subnet ----------

const SUBNET_UNSUPPORTED = ['ipv6_address_mode', 'ipv6_ra_mode', 'prefixlen', 'subnetpool', 'segment', 'value_specs', 'use_default_subnetpool'] as const;

const subnetProps: Record<string, PropSchema> = {
  network: { type: 'string' },
  network_id: { type: 'string' },
  cidr: { type: 'string' },
  ip_version: { type: 'integer', default: 4, allowed: [4, 6] },
  name: { type: 'string', updateAllowed: true },
  gateway_ip: { type: 'string', updateAllowed: true },
  allocation_pools: { type: 'list', updateAllowed: true },
  dns_nameservers: { type: 'list', default: [], updateAllowed: true },
  enable_dhcp: { type: 'boolean', default: true, updateAllowed: true },
  host_routes: { type: 'list', updateAllowed: true },
  tenant_id: { type: 'string' },
  ipv6_address_mode: { type: 'string' },
  ipv6_ra_mode: { type: 'string' },
  prefixlen: { type: 'integer' },
  subnetpool: { type: 'string' },
  segment: { type: 'string', updateAllowed: true },
  use_default_subnetpool: { type: 'boolean' },
  value_specs: { type: 'map', default: {}, updateAllowed: true },
  tags: { type: 'list', updateAllowed: true },
};

function pairs<K extends string>(v: Json | undefined, keys: readonly [K, K], field: string, fail: Fail): Record<K, string>[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(field, 'must be a list');
  return v.map((e, i) => {
    if (!isMapping(e)) fail(`${field}[${i}]`, `must be a map with ${keys.join(' and ')}`);
    const extra = Object.keys(e).filter((k) => !(keys as readonly string[]).includes(k));
    if (extra.length) fail(`${field}[${i}].${extra[0]}`, `unknown key; expected ${keys.join(' and ')}`);
    const out = {} as Record<K, string>;
    for (const k of keys) {
      if (typeof e[k] !== 'string') fail(`${field}[${i}].${k}`, 'is required (a string)');
      out[k] = e[k] as string;
    }
    return out;
  });
}

function strings(v: Json | undefined, field: string, fail: Fail): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(field, 'must be a list of strings');
  return v as string[];
}

/** Shapes, at validation and create. */
function checkSubnet(props: JsonMap, fail: Fail): void {
  pairs(props.allocation_pools, ['start', 'end'], 'allocation_pools', fail);
  pairs(props.host_routes, ['destination', 'nexthop'], 'host_routes', fail);
  strings(props.dns_nameservers, 'dns_nameservers', fail);
}

/** At create and update: what the network service cannot do. */
function refuseSubnet(props: JsonMap, fail: Fail): void {
  if (props.ip_version === 6) fail('ip_version', 'IPv6 subnets are not supported yet');
  refuseUnsupported(props, fail, SUBNET_UNSUPPORTED);
}

function subnetRequest(r: RuntimeResource, fail: Fail) {
  const p = r.properties;
  return {
    name: str(p.name) ?? `${r.stackName}-${r.name}`,
    // Heat: an empty string means no gateway.
    ...(p.gateway_ip !== undefined ? { gatewayIp: p.gateway_ip === '' || p.gateway_ip === null ? null : String(p.gateway_ip) } : {}),
    ...(p.allocation_pools !== undefined ? { allocationPools: pairs(p.allocation_pools, ['start', 'end'], 'allocation_pools', fail) } : {}),
    ...(p.host_routes !== undefined ? { hostRoutes: pairs(p.host_routes, ['destination', 'nexthop'], 'host_routes', fail) } : {}),
    dnsNameservers: strings(p.dns_nameservers, 'dns_nameservers', fail) ?? [],
    enableDhcp: p.enable_dhcp !== false,
  };
}

async function showSubnet(r: RuntimeResource): Promise<SubnetRecord | undefined> {
  return r.physicalId ? r.engine.network.findSubnet(r.physicalId, r.projectId) : undefined;
}

export const subnetType: ResourceType = {
  name: 'OS::Neutron::Subnet',
  properties: subnetProps,
  attributes: ['allocation_pools', 'cidr', 'dns_nameservers', 'enable_dhcp', 'gateway_ip', 'host_routes', 'ip_version', 'name', 'network_id', 'tenant_id', 'subnetpool_id', 'show'],
  check: checkSubnet,
  plugin: {
    async create(r) {
      checkSubnet(r.properties, fail);
      refuseSubnet(r.properties, fail);
      checkTenant(r, fail);
      const cidr = str(r.properties.cidr);
      if (!cidr) fail('cidr', 'is required (subnet pools are not supported)');
      const net = await networkId(r, r.properties, fail);
      const s = await r.engine.network.createSubnet(r.projectId, { ...subnetRequest(r, fail), networkId: net, cidr, ipVersion: 4 });
      r.physicalId = s.id;
    },
    async update(r) {
      checkSubnet(r.properties, fail);
      refuseSubnet(r.properties, fail);
      if (!r.physicalId) return;
      await r.engine.network.updateSubnet(r.physicalId, r.projectId, subnetRequest(r, fail));
    },
    async delete(r) {
      if (r.physicalId) await r.engine.network.deleteSubnet(r.physicalId, r.projectId);
    },
    async attribute(r, name) {
      const s = await showSubnet(r);
      if (!s) return null;
      switch (name) {
        case 'tenant_id':
          return s.project_id;
        case 'subnetpool_id':
          return null;
        case 'allocation_pools':
        case 'host_routes':
          return s[name].map((x) => ({ ...x }));
        case 'cidr':
        case 'dns_nameservers':
        case 'enable_dhcp':
        case 'gateway_ip':
        case 'ip_version':
        case 'name':
        case 'network_id':
          return s[name];
        default:
          return { ...s, allocation_pools: s.allocation_pools.map((x) => ({ ...x })), host_routes: s.host_routes.map((x) => ({ ...x })) };
      }
    },
  },
};

// ---------- OS::Neutron::Port ----------

const PORT_UNSUPPORTED = ['security_groups', 'allowed_address_pairs', 'port_security_enabled', 'qos_policy', 'value_specs', 'propagate_uplink_status'] as const;

const portProps: Record<string, PropSchema> = {
  network: { type: 'string' },
  network_id: { type: 'string' },
  name: { type: 'string', updateAllowed: true },
  admin_state_up: { type: 'boolean', default: true, updateAllowed: true },
  fixed_ips: { type: 'list', updateAllowed: true },
  no_fixed_ips: { type: 'boolean', default: false, updateAllowed: true },
  // A port's MAC changes only through a binding (bare metal): a new MAC is a new port.
  mac_address: { type: 'string' },
  device_id: { type: 'string', updateAllowed: true },
  device_owner: { type: 'string', updateAllowed: true },
  dns_name: { type: 'string', updateAllowed: true },
  // The binding (host, vnic type) is made by compute when a server takes the port.
  'binding:vnic_type': { type: 'string', default: 'normal', allowed: ['normal', 'direct', 'macvtap', 'direct-physical', 'baremetal', 'virtio-forwarder', 'smart-nic'], updateAllowed: true },
  security_groups: { type: 'list', updateAllowed: true },
  allowed_address_pairs: { type: 'list', updateAllowed: true },
  port_security_enabled: { type: 'boolean', updateAllowed: true },
  qos_policy: { type: 'string', updateAllowed: true },
  value_specs: { type: 'map', default: {}, updateAllowed: true },
  replacement_policy: { type: 'string', default: 'AUTO', allowed: ['REPLACE_ALWAYS', 'AUTO'], updateAllowed: true },
  propagate_uplink_status: { type: 'boolean', updateAllowed: true },
  tags: { type: 'list', updateAllowed: true },
};

/** Shapes, at validation and create; features the network service lacks are refused at create. */
function checkPort(props: JsonMap, fail: Fail): void {
  const f = props.fixed_ips;
  if (f !== undefined && f !== null) {
    if (!Array.isArray(f)) fail('fixed_ips', 'must be a list');
    if (props.no_fixed_ips === true && f.length) fail('no_fixed_ips', 'cannot be true when fixed_ips are given');
    for (const [i, e] of f.entries()) {
      if (!isMapping(e)) fail(`fixed_ips[${i}]`, 'must be a map with subnet and/or ip_address');
      const extra = Object.keys(e).filter((k) => !['subnet', 'subnet_id', 'ip_address'].includes(k));
      if (extra.length) fail(`fixed_ips[${i}].${extra[0]}`, 'unknown key; expected subnet, subnet_id or ip_address');
      for (const k of ['subnet', 'subnet_id', 'ip_address'] as const) if (e[k] !== undefined && e[k] !== null && typeof e[k] !== 'string') fail(`fixed_ips[${i}].${k}`, 'must be a string');
    }
  }
}

async function fixedIps(r: RuntimeResource, fail: Fail): Promise<PortRequest['fixedIps']> {
  const p = r.properties;
  if (p.no_fixed_ips === true) return [];
  if (!Array.isArray(p.fixed_ips)) return undefined;
  const out: NonNullable<PortRequest['fixedIps']> = [];
  for (const [i, e] of p.fixed_ips.entries()) {
    const m = isMapping(e) ? e : {};
    const ref = str(m.subnet) ?? str(m.subnet_id);
    let subnetId: string | undefined;
    if (ref) {
      const s = await r.engine.network.findSubnet(ref, r.projectId);
      if (!s) fail(`fixed_ips[${i}].${m.subnet !== undefined ? 'subnet' : 'subnet_id'}`, `subnet ${ref} could not be found`);
      subnetId = s.id;
    }
    const ip = str(m.ip_address);
    out.push({ ...(subnetId ? { subnetId } : {}), ...(ip ? { ipAddress: ip } : {}) });
  }
  return out;
}

async function showPort(r: RuntimeResource): Promise<PortRecord | undefined> {
  return r.physicalId ? r.engine.network.showPort(r.physicalId, r.projectId) : undefined;
}

const fixedIpsJson = (f: FixedIp[]): Json => f.map((x) => ({ subnet_id: x.subnet_id, ip_address: x.ip_address }));

export const portType: ResourceType = {
  name: 'OS::Neutron::Port',
  properties: portProps,
  attributes: ['admin_state_up', 'allowed_address_pairs', 'device_id', 'device_owner', 'dns_assignment', 'fixed_ips', 'mac_address', 'name', 'network', 'network_id', 'port_security_enabled', 'qos_policy_id', 'security_groups', 'status', 'subnets', 'tenant_id', 'show'],
  check: checkPort,
  // replacement_policy REPLACE_ALWAYS: Heat's (deprecated) way to force a new port on every update.
  replaceOnUpdate: (props) => props.replacement_policy === 'REPLACE_ALWAYS',
  plugin: {
    async create(r) {
      checkPort(r.properties, fail);
      refuseUnsupported(r.properties, fail, PORT_UNSUPPORTED);
      const net = await networkId(r, r.properties, fail);
      const p = r.properties;
      const port = await r.engine.network.createPort(r.projectId, {
        networkId: net,
        name: str(p.name) ?? `${r.stackName}-${r.name}`,
        adminStateUp: p.admin_state_up !== false,
        ...(str(p.mac_address) ? { macAddress: str(p.mac_address) } : {}),
        ...(str(p.device_id) ? { deviceId: str(p.device_id) } : {}),
        ...(str(p.device_owner) ? { deviceOwner: str(p.device_owner) } : {}),
        ...(str(p.dns_name) ? { dnsName: str(p.dns_name) } : {}),
        fixedIps: await fixedIps(r, fail),
      });
      r.physicalId = port.id;
    },
    async update(r, _old, changed) {
      checkPort(r.properties, fail);
      refuseUnsupported(r.properties, fail, PORT_UNSUPPORTED);
      if (!r.physicalId) return;
      const p = r.properties;
      await r.engine.network.updatePort(r.physicalId, r.projectId, {
        name: str(p.name) ?? `${r.stackName}-${r.name}`,
        adminStateUp: p.admin_state_up !== false,
        ...(changed.includes('device_id') ? { deviceId: str(p.device_id) ?? '' } : {}),
        ...(changed.includes('device_owner') ? { deviceOwner: str(p.device_owner) ?? '' } : {}),
        ...(changed.includes('dns_name') ? { dnsName: str(p.dns_name) ?? '' } : {}),
        // Addresses change only when the template changed them: the port keeps what it has.
        ...(changed.includes('fixed_ips') || changed.includes('no_fixed_ips') ? { fixedIps: (await fixedIps(r, fail)) ?? [{}] } : {}),
      });
    },
    async delete(r) {
      if (r.physicalId) await r.engine.network.deletePort(r.physicalId, r.projectId);
    },
    async attribute(r, name) {
      const port = await showPort(r);
      if (!port) return null;
      switch (name) {
        case 'fixed_ips':
          return fixedIpsJson(port.fixed_ips);
        case 'tenant_id':
          return port.project_id;
        case 'allowed_address_pairs':
        case 'security_groups':
          return [];
        case 'port_security_enabled':
          return false;
        case 'qos_policy_id':
          return null;
        case 'dns_assignment':
          return port.fixed_ips.map((f) => ({ hostname: port.dns_name, ip_address: f.ip_address, fqdn: port.dns_name }));
        case 'network': {
          const n = await r.engine.network.findNetwork(port.network_id, r.projectId);
          return n ?? null;
        }
        case 'subnets': {
          const out: Json[] = [];
          for (const id of [...new Set(port.fixed_ips.map((f) => f.subnet_id))]) {
            const s = await r.engine.network.findSubnet(id, r.projectId);
            if (s) out.push({ ...s, allocation_pools: s.allocation_pools.map((x) => ({ ...x })), host_routes: s.host_routes.map((x) => ({ ...x })) });
          }
          return out;
        }
        case 'admin_state_up':
        case 'device_id':
        case 'device_owner':
        case 'mac_address':
        case 'name':
        case 'network_id':
        case 'status':
          return port[name];
        default:
          return { ...port, fixed_ips: fixedIpsJson(port.fixed_ips) };
      }
    },
  },
};
