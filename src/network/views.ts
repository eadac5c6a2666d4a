// Rows as stored, and the JSON Neutron returns for them (snake_case, with the extension
// attributes' colon names). Provider and binding details are shown to admins only, as Neutron's
// default policy does (get_network:provider:*, get_port:binding:*; binding:vnic_type is public).
import { fromJson } from '../common/db.js';

export interface NetworkRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  shared: number;
  router_external: number;
  network_type: string;
  physical_network: string | null;
  segmentation_id: number | null;
  mtu: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface SubnetRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  allocation_pools: string;
  dns_nameservers: string;
  host_routes: string;
  enable_dhcp: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface PortRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  mac_address: string;
  admin_state_up: number;
  device_id: string;
  device_owner: string;
  host_id: string;
  profile: string;
  vnic_type: string;
  dns_name: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface AllocationPool {
  start: string;
  end: string;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

/** A network as the API returns it. */
export interface NeutronNetwork {
  id: string;
  name: string;
  description: string;
  project_id: string;
  tenant_id: string;
  admin_state_up: boolean;
  status: 'ACTIVE';
  subnets: string[];
  shared: boolean;
  'router:external': boolean;
  mtu: number;
  'provider:network_type'?: string;
  'provider:physical_network'?: string | null;
  'provider:segmentation_id'?: number | null;
  port_security_enabled: boolean;
  availability_zone_hints: string[];
  availability_zones: string[];
  ipv4_address_scope: null;
  ipv6_address_scope: null;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface NeutronSubnet {
  id: string;
  name: string;
  description: string;
  network_id: string;
  project_id: string;
  tenant_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  dns_nameservers: string[];
  host_routes: HostRoute[];
  enable_dhcp: boolean;
  ipv6_ra_mode: null;
  ipv6_address_mode: null;
  subnetpool_id: null;
  service_types: string[];
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

/** A port as the API returns it. */
export interface NeutronPort {
  id: string;
  name: string;
  description: string;
  network_id: string;
  project_id: string;
  tenant_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN';
  fixed_ips: FixedIp[];
  device_id: string;
  device_owner: string;
  dns_name: string;
  'binding:vnic_type': string;
  'binding:host_id'?: string;
  'binding:profile'?: Record<string, unknown>;
  'binding:vif_type'?: string;
  'binding:vif_details'?: Record<string, unknown>;
  security_groups: string[];
  allowed_address_pairs: unknown[];
  extra_dhcp_opts: unknown[];
  port_security_enabled: boolean;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export function networkView(n: NetworkRow, subnets: string[], admin: boolean): NeutronNetwork {
  return {
    id: n.id,
    name: n.name,
    description: n.description,
    project_id: n.project_id,
    tenant_id: n.project_id,
    admin_state_up: !!n.admin_state_up,
    status: 'ACTIVE',
    subnets,
    shared: !!n.shared,
    'router:external': !!n.router_external,
    mtu: n.mtu,
    ...(admin
      ? {
          'provider:network_type': n.network_type,
          'provider:physical_network': n.physical_network,
          'provider:segmentation_id': n.segmentation_id === null ? null : Number(n.segmentation_id),
        }
      : {}),
    port_security_enabled: true,
    availability_zone_hints: [],
    availability_zones: [],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    tags: [],
    revision_number: n.revision_number,
    created_at: n.created_at,
    updated_at: n.updated_at,
  };
}

export function subnetView(s: SubnetRow): NeutronSubnet {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    network_id: s.network_id,
    project_id: s.project_id,
    tenant_id: s.project_id,
    cidr: s.cidr,
    ip_version: Number(s.ip_version),
    gateway_ip: s.gateway_ip,
    allocation_pools: fromJson<AllocationPool[]>(s.allocation_pools, []),
    dns_nameservers: fromJson<string[]>(s.dns_nameservers, []),
    host_routes: fromJson<HostRoute[]>(s.host_routes, []),
    enable_dhcp: !!s.enable_dhcp,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    service_types: [],
    tags: [],
    revision_number: s.revision_number,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

export const isBound = (p: PortRow): boolean => p.host_id !== '';

export function portView(p: PortRow, fixedIps: FixedIp[], admin: boolean): NeutronPort {
  const bound = isBound(p);
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    network_id: p.network_id,
    project_id: p.project_id,
    tenant_id: p.project_id,
    mac_address: p.mac_address,
    admin_state_up: !!p.admin_state_up,
    // No agent reports link state: a port is up once a host has bound it (and it is enabled).
    status: bound && p.admin_state_up ? 'ACTIVE' : 'DOWN',
    fixed_ips: fixedIps,
    device_id: p.device_id,
    device_owner: p.device_owner,
    dns_name: p.dns_name,
    'binding:vnic_type': p.vnic_type,
    ...(admin
      ? {
          'binding:host_id': p.host_id,
          'binding:profile': fromJson<Record<string, unknown>>(p.profile, {}),
          'binding:vif_type': bound ? 'other' : 'unbound',
          'binding:vif_details': {},
        }
      : {}),
    security_groups: [],
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    port_security_enabled: false,
    tags: [],
    revision_number: p.revision_number,
    created_at: p.created_at,
    updated_at: p.updated_at,
  };
}
