// Neutron's default policies (the "secure RBAC" project-scoped defaults) as data. Which records a
// project may see at all is decided first (networking.ts: own networks plus shared and external
// ones, own subnets plus those of shared networks, own ports only; admins everything), and a
// record it may not see is "not found"; these rules then say what it may do with what it sees.
// Rules with ownProjectOnly are checked against the record's project, or for the "network owner"
// rules (attributes only the network's owner may set on ports) against the network's project.
import type { PolicyTable } from '../common/auth.js';

const READER = { roles: ['reader'] } as const;
const MEMBER_OWN = { roles: ['member'], ownProjectOnly: true } as const;
const NETWORK_OWNER = MEMBER_OWN;

export const networkPolicy: PolicyTable = {
  'network:get_network': READER,
  'network:create_network': MEMBER_OWN,
  'network:update_network': MEMBER_OWN,
  'network:delete_network': MEMBER_OWN,
  // Absent on purpose, so admin-only: create/update_network:shared, :router:external and
  // :provider (provider:network_type, provider:physical_network, provider:segmentation_id).

  'network:get_subnet': READER,
  // Subnets go on the caller's own networks (the target is the network's project).
  'network:create_subnet': MEMBER_OWN,
  'network:update_subnet': MEMBER_OWN,
  'network:delete_subnet': MEMBER_OWN,

  'network:get_port': { roles: ['reader'], ownProjectOnly: true },
  // Ports go on the caller's own networks or on shared ones (visibility decides which network).
  'network:create_port': MEMBER_OWN,
  'network:update_port': MEMBER_OWN,
  'network:delete_port': MEMBER_OWN,
  // Choosing an address, a MAC or a network:* device owner is for the network's owner.
  'network:create_port:fixed_ips:ip_address': NETWORK_OWNER,
  'network:create_port:mac_address': NETWORK_OWNER,
  'network:create_port:device_owner': NETWORK_OWNER,
  'network:update_port:fixed_ips:ip_address': NETWORK_OWNER,
  'network:update_port:device_owner': NETWORK_OWNER,
  // Absent on purpose, so admin-only: create/update_port:binding (binding:host_id,
  // binding:profile) and update_port:mac_address.
};
