// Nova's default policies (2023 "secure RBAC" defaults) as data, under Nova's rule names.
// Roles: reader reads, member acts, admin does anything; project-scoped rules limit
// non-admins to their own project's records. Where Nova's rule is about the user (key pairs)
// the check is in keypairs.ts. A rule missing here is admin-only (common/auth.ts): the
// hypervisor, flavor-write, quota-write and all-projects rules are deliberately absent.
import type { PolicyTable } from '../common/auth.js';

const READER = { roles: ['reader'], ownProjectOnly: true } as const;
const MEMBER = { roles: ['member'], ownProjectOnly: true } as const;
/** Any token with a role on its project (flavors, limits, quota defaults). */
const ANY = { roles: ['reader'] } as const;

export const computePolicy: PolicyTable = {
  'os_compute_api:servers:index': READER,
  'os_compute_api:servers:detail': READER,
  'os_compute_api:servers:show': READER,
  'os_compute_api:servers:create': MEMBER,
  'os_compute_api:servers:update': MEMBER,
  'os_compute_api:servers:delete': MEMBER,
  'os_compute_api:servers:reboot': MEMBER,
  'os_compute_api:servers:start': MEMBER,
  'os_compute_api:servers:stop': MEMBER,
  'os_compute_api:servers:rebuild': MEMBER,
  'os_compute_api:os-console-output': MEMBER,
  'os_compute_api:os-instance-actions:list': READER,
  'os_compute_api:os-instance-actions:show': READER,
  'os_compute_api:server-metadata:index': READER,
  'os_compute_api:flavors:index': ANY,
  'os_compute_api:flavors:show': ANY,
  'os_compute_api:os-flavor-extra-specs:index': ANY,
  'os_compute_api:os-flavor-extra-specs:show': ANY,
  'os_compute_api:os-keypairs:index': ANY,
  'os_compute_api:os-keypairs:show': ANY,
  'os_compute_api:os-keypairs:create': ANY,
  'os_compute_api:os-keypairs:delete': ANY,
  'os_compute_api:os-server-groups:index': READER,
  'os_compute_api:os-server-groups:show': READER,
  'os_compute_api:os-server-groups:create': MEMBER,
  'os_compute_api:os-server-groups:delete': MEMBER,
  'os_compute_api:limits': ANY,
  'os_compute_api:os-quota-sets:show': READER,
  'os_compute_api:os-quota-sets:defaults': ANY,
  // Admin-only (absent on purpose): os_compute_api:servers:index:get_all_tenants,
  // os_compute_api:servers:show:host_status / extended attributes, os-hypervisors:*,
  // os-flavor-manage:*, os-flavor-extra-specs:create/update/delete, os-flavor-access*,
  // os-quota-sets:update/delete, os-keypairs for another user.
};
