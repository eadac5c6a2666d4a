// The RBAC matrix: every route of every service, called by six callers — no token, and the
// admin, member and reader of project A, and the member and reader of project B — on records
// that belong to project A. The expectations are OpenStack's default ("secure RBAC",
// project-scoped) policies of Keystone, Glance, Ironic, Heat, Neutron and Nova, not what the code
// happens to do:
//
//   ok    2xx or 3xx
//   none  2xx, and the body names none of project A's records (another project's listing)
//   401   no token                      403  forbidden (the caller may see the record)
//   404   hidden: the record is reported missing to a caller who may not see it
//   deny  any of 401/403/404 (credential-in-URL routes, and where OpenStack allows either)
//   409   allowed, but the route's precondition does not hold in this world (the pivot's source
//         routes before a pivot began)
//   past  let through authorisation: any answer but 401/403/404 (what follows depends on the
//         world's state at that moment)
//
// Columns:  anon  adminA  memberA  readerA  memberB  readerB
//
// The admin role on any project is the cloud admin, so adminA stands for Keystone's/Ironic's
// system admin as well as for the project admin (a system-scoped admin token is tested in
// src/identity/system-scope.test.ts). System-scoped readers and members are checked against
// every row too (one test before the rows): never more than project B's reader and member.
//
// The list of routes comes from the running Fastify app: a route without a row fails the test,
// and so does a row naming a route (or parameter) the app does not have. GET rows also check
// HEAD (Fastify registers it with the GET). Destructive routes run on fresh records: one per
// caller expected to succeed, one shared by the callers expected to be refused.
//
// A failing row is a disagreement between the code and OpenStack's defaults: fix the code, or
// change the row with the reason written beside it; never just copy what the code does. The last
// test lists every disagreement (DISCREPANCY lines) in one place.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import {
  LONG_TAG, LONG_TRAIT, WHO, buildWorld, cidr, mac, normalizeRoute, passwordAuth, registeredRoutes, request, routeMismatch, sshKey, unique, SMALL_TEMPLATE,
  type Fixtures, type FreshKind, type Who, type World,
} from './support/rbac-fixtures.js';

type Outcome = 'ok' | 'none' | '401' | '403' | '404' | '409' | 'deny' | 'past';
const OUTCOMES: readonly string[] = ['ok', 'none', '401', '403', '404', '409', 'deny', 'past'];

interface Cell {
  f: Fixtures;
  who: Who;
}

interface Row {
  /** "METHOD /path/:param" exactly as registered. */
  route: string;
  /** Six outcomes, one per caller (see the header). */
  expect: string;
  /** Why this route has a second row (a different body or caller-specific target). */
  note?: string;
  body?: unknown | ((c: Cell) => unknown);
  raw?: { type: string; data: string };
  headers?: (c: Cell) => Record<string, string>;
  /** The concrete path, when the default parameter values (PARAMS) are not the ones to use. */
  path?: (c: Cell) => string;
  /** The route destroys or changes its target: fresh records of this kind per cell. */
  fresh?: FreshKind;
}

const row = (route: string, expect: string, opts: Omit<Row, 'route' | 'expect'> = {}): Row => ({ route, expect, ...opts });

const PUBLIC = 'ok   ok  ok  ok  ok  ok';
const ANY_TOKEN = '401  ok  ok  ok  ok  ok';
const ADMIN = '401  ok  403 403 403 403';
/** Read a record of A: B's callers are told it does not exist. */
const READ_A = '401  ok  ok  ok  404 404';
/** Change a record of A (member): A's reader is forbidden, B's callers are told it does not exist. */
const WRITE_A = '401  ok  ok  403 404 404';
/** Owner-admin (Ironic SYSTEM_MEMBER_OR_OWNER_ADMIN / SYSTEM_ADMIN_OR_OWNER_ADMIN) on a node of A. */
const OWNER_ADMIN_A = '401  ok  403 403 404 404';
/** A listing: A's callers see, B's callers get their own (without A's records). */
const LIST = '401  ok  ok  ok  none none';
/** A credential in the path or a header is the authorisation: a wrong one is refused for everybody. */
const REFUSED = 'deny deny deny deny deny deny';

const selfUser = (c: Cell) => (c.who === 'anon' ? c.f.user : c.f.userIds[c.who]);
const agent = (c: Cell) => ({ 'x-agent-token': c.f.agentToken });
const jsonPatch = (ops: unknown[]) => ({ type: 'application/openstack-images-v2.1-json-patch', data: JSON.stringify(ops) });

const IDENTITY: Row[] = [
  row('GET /identity', PUBLIC),
  row('GET /identity/', PUBLIC),
  row('GET /identity/v3', PUBLIC),
  row('GET /identity/v3/', PUBLIC),
  row('POST /identity/v3/auth/tokens', PUBLIC, { body: (c: Cell) => passwordAuth('rbac-a-member', c.f.projectA) }),
  // Validate/revoke a token: the token's own user or an admin (Keystone admin_or_token_subject).
  row('GET /identity/v3/auth/tokens', '401 ok ok 403 403 403', { headers: (c) => ({ 'x-subject-token': c.f.subjectToken }) }),
  row('DELETE /identity/v3/auth/tokens', '401 ok ok 403 403 403', { headers: (c) => ({ 'x-subject-token': c.f.subjectToken }), fresh: 'subjectToken' }),
  row('GET /identity/v3/auth/catalog', ANY_TOKEN),
  row('GET /identity/v3/auth/projects', ANY_TOKEN),
  row('GET /identity/v3/auth/domains', ANY_TOKEN),
  row('GET /identity/v3/domains', ADMIN),
  row('POST /identity/v3/domains', ADMIN, { body: () => ({ domain: { name: unique('rbac-d') } }) }),
  // get_domain: also any project-scoped token of a project in that domain.
  row('GET /identity/v3/domains/:id', ANY_TOKEN),
  row('PATCH /identity/v3/domains/:id', ADMIN, { body: { domain: { description: '' } } }),
  row('DELETE /identity/v3/domains/:id', ADMIN, { fresh: 'domain', path: (c) => `/identity/v3/domains/${c.f.domain}` }),
  // get_domain_config is the admin's; domain-specific configuration is not built: absent for the admin.
  row('GET /identity/v3/domains/:id/config', '401 404 403 403 403 403'),
  row('GET /identity/v3/projects', ADMIN),
  row('POST /identity/v3/projects', ADMIN, { body: () => ({ project: { name: unique('rbac-p') } }) }),
  row('GET /identity/v3/projects/:id', '401 ok ok ok 403 403'),
  row('PATCH /identity/v3/projects/:id', ADMIN, { body: { project: { description: 'rbac' } } }),
  row('DELETE /identity/v3/projects/:id', ADMIN, { fresh: 'project' }),
  row('GET /identity/v3/users', ADMIN),
  row('POST /identity/v3/users', ADMIN, { body: () => ({ user: { name: unique('rbac-u') } }) }),
  row('GET /identity/v3/users/:id', ADMIN),
  row('GET /identity/v3/users/:id', ANY_TOKEN, { note: 'own user', path: (c) => `/identity/v3/users/${selfUser(c)}` }),
  row('PATCH /identity/v3/users/:id', ADMIN, { body: { user: { description: 'rbac' } } }),
  row('DELETE /identity/v3/users/:id', ADMIN, { fresh: 'user' }),
  // change_password: Keystone checks no policy (the original password is the proof) and answers
  // a wrong original with 401, to anybody. Here a token of that very user or of the admin is
  // also required, so another user's password is 403 for the others: stricter.
  row('POST /identity/v3/users/:id/password', '401 401 403 403 403 403', { body: { user: { original_password: 'not-it', password: 'rbac-new-pw' } } }),
  // Own user with a wrong original: 401 (counted as a failed login; one per caller is far below
  // the lockout). A right one would end the caller's tokens, which the other rows still use.
  row('POST /identity/v3/users/:id/password', '401 401 401 401 401 401', {
    note: 'own user, wrong original', path: (c) => `/identity/v3/users/${selfUser(c)}/password`,
    body: { user: { original_password: 'not-it', password: 'rbac-new-pw' } },
  }),
  row('GET /identity/v3/users/:id/projects', ADMIN),
  row('GET /identity/v3/users/:id/projects', ANY_TOKEN, { note: 'own user', path: (c) => `/identity/v3/users/${selfUser(c)}/projects` }),
  row('GET /identity/v3/roles', ADMIN),
  row('POST /identity/v3/roles', ADMIN, { body: () => ({ role: { name: unique('rbac-r') } }) }),
  row('GET /identity/v3/roles/:id', ADMIN),
  row('DELETE /identity/v3/roles/:id', ADMIN, { fresh: 'role' }),
  row('GET /identity/v3/projects/:target/users/:user/roles', ADMIN),
  row('PUT /identity/v3/projects/:target/users/:user/roles/:role', ADMIN),
  row('HEAD /identity/v3/projects/:target/users/:user/roles/:role', ADMIN),
  row('DELETE /identity/v3/projects/:target/users/:user/roles/:role', ADMIN, { fresh: 'grant' }),
  row('GET /identity/v3/domains/:target/users/:user/roles', ADMIN),
  row('PUT /identity/v3/domains/:target/users/:user/roles/:role', ADMIN),
  row('HEAD /identity/v3/domains/:target/users/:user/roles/:role', ADMIN),
  row('DELETE /identity/v3/domains/:target/users/:user/roles/:role', ADMIN, { fresh: 'grant' }),
  ...['projects/:target', 'domains/:target', 'system'].flatMap((target) => [
    row(`GET /identity/v3/${target}/groups/:group/roles`, ADMIN),
    row(`PUT /identity/v3/${target}/groups/:group/roles/:role`, ADMIN),
    row(`${target === 'system' ? 'GET' : 'HEAD'} /identity/v3/${target}/groups/:group/roles/:role`, ADMIN),
    row(`DELETE /identity/v3/${target}/groups/:group/roles/:role`, ADMIN, { fresh: 'group' }),
  ]),
  ...['projects/:target', 'domains/:target'].flatMap((target) => ['users/:user', 'groups/:group'].flatMap((holder) => [
    row(`GET /identity/v3/OS-INHERIT/${target}/${holder}/roles/inherited_to_projects`, ADMIN),
    row(`PUT /identity/v3/OS-INHERIT/${target}/${holder}/roles/:role/inherited_to_projects`, ADMIN),
    row(`HEAD /identity/v3/OS-INHERIT/${target}/${holder}/roles/:role/inherited_to_projects`, ADMIN),
    row(`DELETE /identity/v3/OS-INHERIT/${target}/${holder}/roles/:role/inherited_to_projects`, ADMIN, { fresh: holder === 'users/:user' ? 'grant' : 'group' }),
  ])),
  row('GET /identity/v3/system/users/:user/roles', ADMIN),
  row('PUT /identity/v3/system/users/:user/roles/:role', ADMIN),
  row('GET /identity/v3/system/users/:user/roles/:role', ADMIN),
  row('DELETE /identity/v3/system/users/:user/roles/:role', ADMIN, { fresh: 'grant' }),
  row('GET /identity/v3/auth/system', ANY_TOKEN),
  row('GET /identity/v3/groups', ADMIN),
  row('POST /identity/v3/groups', ADMIN, { body: () => ({ group: { name: unique('rbac-grp') } }) }),
  row('GET /identity/v3/groups/:id', ADMIN),
  row('PATCH /identity/v3/groups/:id', ADMIN, { body: { group: { description: 'rbac' } } }),
  row('DELETE /identity/v3/groups/:id', ADMIN, { fresh: 'group' }),
  row('GET /identity/v3/groups/:id/users', ADMIN),
  row('PUT /identity/v3/groups/:id/users/:user', ADMIN),
  row('GET /identity/v3/groups/:id/users/:user', ADMIN),
  row('DELETE /identity/v3/groups/:id/users/:user', ADMIN, { fresh: 'group' }),
  row('GET /identity/v3/users/:id/groups', ADMIN),
  row('GET /identity/v3/users/:id/groups', ANY_TOKEN, { note: 'own user', path: (c) => `/identity/v3/users/${selfUser(c)}/groups` }),
  row('GET /identity/v3/role_assignments', ADMIN),
  row('PATCH /identity/v3/roles/:id', ADMIN, { body: { role: { description: 'rbac' } } }),
  row('GET /identity/v3/roles/:prior/implies', ADMIN),
  row('PUT /identity/v3/roles/:prior/implies/:implied', ADMIN),
  row('GET /identity/v3/roles/:prior/implies/:implied', ADMIN),
  row('DELETE /identity/v3/roles/:prior/implies/:implied', ADMIN, { fresh: 'implication' }),
  row('GET /identity/v3/role_inferences', ADMIN),
  // Keystone: get_region and list_regions are '' (any valid token).
  row('GET /identity/v3/regions', ANY_TOKEN),
  row('GET /identity/v3/regions/:id', ANY_TOKEN),
  row('POST /identity/v3/regions', ADMIN, { body: { region: {} } }),
  row('PUT /identity/v3/regions/:id', ADMIN, { path: () => `/identity/v3/regions/${unique('rbac-reg')}`, body: { region: {} } }),
  row('PATCH /identity/v3/regions/:id', ADMIN, { body: { region: { description: '' } } }),
  row('DELETE /identity/v3/regions/:id', ADMIN, { fresh: 'region' }),
  row('GET /identity/v3/services', ADMIN),
  row('GET /identity/v3/services/:id', ADMIN),
  row('POST /identity/v3/services', ADMIN, { body: () => ({ service: { type: unique('rbac-t') } }) }),
  row('PATCH /identity/v3/services/:id', ADMIN, { body: { service: { enabled: true } } }),
  row('DELETE /identity/v3/services/:id', ADMIN, { fresh: 'service' }),
  row('GET /identity/v3/endpoints', ADMIN),
  row('GET /identity/v3/endpoints/:id', ADMIN),
  // Disabled: the world's token catalogs stay as they are.
  row('POST /identity/v3/endpoints', ADMIN, { body: (c: Cell) => ({ endpoint: { service_id: c.f.service, interface: 'admin', url: 'https://rbac.example', enabled: false } }) }),
  row('PATCH /identity/v3/endpoints/:id', ADMIN, { body: { endpoint: { enabled: true } } }),
  row('DELETE /identity/v3/endpoints/:id', ADMIN, { fresh: 'endpoint' }),
  // OS-EP-FILTER (Keystone: admin_required throughout). The world's group and endpoint are given
  // to project A; the delete rows take fresh ones.
  row('POST /identity/v3/OS-EP-FILTER/endpoint_groups', ADMIN, { body: { endpoint_group: { name: 'rbac', filters: { interface: 'admin' } } } }),
  row('GET /identity/v3/OS-EP-FILTER/endpoint_groups', ADMIN),
  row('GET /identity/v3/OS-EP-FILTER/endpoint_groups/:id', ADMIN),
  row('HEAD /identity/v3/OS-EP-FILTER/endpoint_groups/:id', ADMIN),
  row('PATCH /identity/v3/OS-EP-FILTER/endpoint_groups/:id', ADMIN, { body: { endpoint_group: { description: 'rbac' } } }),
  row('DELETE /identity/v3/OS-EP-FILTER/endpoint_groups/:id', ADMIN, { fresh: 'endpointGroup' }),
  row('GET /identity/v3/OS-EP-FILTER/endpoint_groups/:id/endpoints', ADMIN),
  row('GET /identity/v3/OS-EP-FILTER/endpoint_groups/:id/projects', ADMIN),
  row('PUT /identity/v3/OS-EP-FILTER/endpoint_groups/:id/projects/:project', ADMIN),
  row('GET /identity/v3/OS-EP-FILTER/endpoint_groups/:id/projects/:project', ADMIN),
  row('HEAD /identity/v3/OS-EP-FILTER/endpoint_groups/:id/projects/:project', ADMIN),
  row('DELETE /identity/v3/OS-EP-FILTER/endpoint_groups/:id/projects/:project', ADMIN, { fresh: 'endpointGroup' }),
  row('GET /identity/v3/OS-EP-FILTER/projects/:project/endpoint_groups', ADMIN),
  row('PUT /identity/v3/OS-EP-FILTER/projects/:project/endpoints/:endpoint', ADMIN),
  row('GET /identity/v3/OS-EP-FILTER/projects/:project/endpoints/:endpoint', ADMIN),
  row('HEAD /identity/v3/OS-EP-FILTER/projects/:project/endpoints/:endpoint', ADMIN),
  row('DELETE /identity/v3/OS-EP-FILTER/projects/:project/endpoints/:endpoint', ADMIN, { fresh: 'endpointGroup' }),
  row('GET /identity/v3/OS-EP-FILTER/projects/:project/endpoints', ADMIN),
  row('GET /identity/v3/OS-EP-FILTER/endpoints/:endpoint/projects', ADMIN),
  // Credentials (Keystone admin_or_cred_owner): the admin's, or their own user's. The world's
  // credential is user A's, who is none of the callers. A non-admin's listing shows only theirs.
  row('POST /identity/v3/credentials', ADMIN, { body: (c: Cell) => ({ credential: { user_id: c.f.user, type: 'totp', blob: 'rbac' } }) }),
  row('POST /identity/v3/credentials', ANY_TOKEN, { note: 'own user', body: (c: Cell) => ({ credential: { user_id: selfUser(c), type: 'totp', blob: 'rbac' } }) }),
  row('GET /identity/v3/credentials', '401 ok none none none none'),
  row('GET /identity/v3/credentials/:id', ADMIN),
  row('PATCH /identity/v3/credentials/:id', ADMIN, { body: { credential: { type: 'totp' } } }),
  row('DELETE /identity/v3/credentials/:id', ADMIN, { fresh: 'credential' }),
  // A user's EC2 credentials (Keystone admin_or_owner on the path's user).
  row('GET /identity/v3/users/:id/credentials/OS-EC2', ADMIN),
  row('GET /identity/v3/users/:id/credentials/OS-EC2', ANY_TOKEN, { note: 'own user', path: (c) => `/identity/v3/users/${selfUser(c)}/credentials/OS-EC2` }),
  row('POST /identity/v3/users/:id/credentials/OS-EC2', ADMIN, { body: (c: Cell) => ({ tenant_id: c.f.projectA }) }),
  row('POST /identity/v3/users/:id/credentials/OS-EC2', ANY_TOKEN, {
    note: 'own user', path: (c) => `/identity/v3/users/${selfUser(c)}/credentials/OS-EC2`,
    body: (c: Cell) => ({ tenant_id: c.who.endsWith('B') ? c.f.projectB : c.f.projectA }),
  }),
  row('GET /identity/v3/users/:id/credentials/OS-EC2/:access', ADMIN),
  row('DELETE /identity/v3/users/:id/credentials/OS-EC2/:access', ADMIN, { fresh: 'ec2Credential' }),
  // The deprecated policy store: the admin's.
  row('GET /identity/v3/policies', ADMIN),
  row('POST /identity/v3/policies', ADMIN, { body: { policy: { type: 'application/json', blob: '{}' } } }),
  row('GET /identity/v3/policies/:id', ADMIN),
  row('PATCH /identity/v3/policies/:id', ADMIN, { body: { policy: { type: 'text/plain' } } }),
  row('DELETE /identity/v3/policies/:id', ADMIN, { fresh: 'policy' }),
];

const IMAGES: Row[] = [
  row('GET /image', PUBLIC),
  row('GET /image/', PUBLIC),
  row('GET /image/versions', PUBLIC),
  row('GET /image/v2', PUBLIC),
  // add_image: a member, for its own project.
  row('POST /image/v2/images', '401 ok ok 403 ok 403', { body: () => ({ name: unique('rbac-new'), disk_format: 'raw', container_format: 'bare' }) }),
  row('POST /image/v2/images', '401 ok ok 403 403 403', { note: 'owner: project A', body: (c: Cell) => ({ name: unique('rbac-new'), owner: c.f.projectA }) }),
  // publicize_image: admin only.
  row('POST /image/v2/images', ADMIN, { note: 'visibility: public', body: () => ({ name: unique('rbac-pub'), visibility: 'public' }) }),
  row('GET /image/v2/images', LIST),
  row('GET /image/v2/images/:id', READ_A),
  row('PATCH /image/v2/images/:id', WRITE_A, { raw: jsonPatch([{ op: 'add', path: '/rbac_note', value: 'x' }]) }),
  row('DELETE /image/v2/images/:id', WRITE_A, { fresh: 'image' }),
  row('PUT /image/v2/images/:id/tags/:tag', WRITE_A),
  row('DELETE /image/v2/images/:id/tags/:tag', WRITE_A, { fresh: 'image' }),
  row('PUT /image/v2/images/:id/tags/*', WRITE_A),
  row('DELETE /image/v2/images/:id/tags/*', WRITE_A, { fresh: 'image' }),
  row('PUT /image/v2/images/:id/file', WRITE_A, { fresh: 'image', raw: { type: 'application/octet-stream', data: 'new bytes' } }),
  row('GET /image/v2/images/:id/file', READ_A),
  // deactivate/reactivate: the owner's members (Glance's ADMIN_OR_PROJECT_MEMBER); B is told the image does not exist.
  row('POST /image/v2/images/:id/actions/deactivate', WRITE_A, { fresh: 'activeImage' }),
  row('POST /image/v2/images/:id/actions/reactivate', WRITE_A, { fresh: 'activeImage' }),
  // Members, on a shared image of A offered to B: A's members add and remove, B (the member
  // project) answers for itself; readers of either side may look.
  row('GET /image/v2/images/:id/members', '401 ok ok ok ok ok', { fresh: 'sharedImage' }),
  row('POST /image/v2/images/:id/members', '401 ok ok 403 403 403', { fresh: 'sharedImage', body: () => ({ member: unique('rbac-member') }) }),
  row('GET /image/v2/images/:id/members/:member', '401 ok ok ok ok ok', { fresh: 'sharedImage' }),
  row('PUT /image/v2/images/:id/members/:member', '401 ok 403 403 ok 403', { fresh: 'sharedImage', body: { status: 'accepted' } }),
  row('DELETE /image/v2/images/:id/members/:member', '401 ok ok 403 403 403', { fresh: 'sharedImage' }),
  row('GET /image/v2/schemas/image', ANY_TOKEN),
  row('GET /image/v2/schemas/images', ANY_TOKEN),
  row('GET /image/v2/schemas/member', ANY_TOKEN),
  row('GET /image/v2/schemas/members', ANY_TOKEN),
];

// Ironic: a project sees nodes it owns (or leases); a node it cannot see is 404 whatever the
// operation, and only then is the operation's own rule applied (403). Node create/delete are
// the (project) admin's; drivers are system readers' (Bootstack's admin).
const BAREMETAL: Row[] = [
  row('GET /baremetal', PUBLIC),
  row('GET /baremetal/', PUBLIC),
  row('GET /baremetal/v1', PUBLIC),
  row('GET /baremetal/v1/', PUBLIC),
  row('POST /baremetal/v1/nodes', ADMIN, { body: () => ({ driver: 'fake-hardware', name: unique('rbac-new') }) }),
  row('GET /baremetal/v1/nodes', LIST),
  row('GET /baremetal/v1/nodes/', LIST),
  row('GET /baremetal/v1/nodes/detail', LIST),
  row('GET /baremetal/v1/nodes/:ident', READ_A),
  row('PATCH /baremetal/v1/nodes/:ident', WRITE_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/nodes/:ident', OWNER_ADMIN_A, { fresh: 'node' }),
  row('GET /baremetal/v1/nodes/:ident/states', READ_A),
  row('PUT /baremetal/v1/nodes/:ident/states/provision', WRITE_A, { fresh: 'node', body: { target: 'manage' } }),
  row('PUT /baremetal/v1/nodes/:ident/states/power', WRITE_A, { fresh: 'node', body: { target: 'power on' } }),
  row('GET /baremetal/v1/nodes/:ident/states/console', WRITE_A),
  row('GET /baremetal/v1/nodes/states/console/:ident', WRITE_A, { path: (c) => `/baremetal/v1/nodes/states/console/${c.f.node}` }),
  row('PUT /baremetal/v1/nodes/:ident/states/console', WRITE_A, { fresh: 'node', body: { enabled: true } }),
  row('PUT /baremetal/v1/nodes/:ident/states/raid', WRITE_A, { fresh: 'node', body: { logical_disks: [{ size_gb: 10, raid_level: '1' }] } }),
  row('PUT /baremetal/v1/nodes/:ident/maintenance', WRITE_A, { fresh: 'node', body: { reason: 'rbac' } }),
  row('DELETE /baremetal/v1/nodes/:ident/maintenance', WRITE_A, { fresh: 'node' }),
  row('GET /baremetal/v1/nodes/:ident/traits', READ_A),
  row('PUT /baremetal/v1/nodes/:ident/traits', OWNER_ADMIN_A, { body: { traits: ['CUSTOM_RBAC'] } }),
  row('PUT /baremetal/v1/nodes/:ident/traits/:trait', OWNER_ADMIN_A),
  row('PUT /baremetal/v1/nodes/:ident/traits/*', OWNER_ADMIN_A),
  row('DELETE /baremetal/v1/nodes/:ident/traits', OWNER_ADMIN_A, { fresh: 'node' }),
  row('DELETE /baremetal/v1/nodes/:ident/traits/:trait', OWNER_ADMIN_A, { fresh: 'node' }),
  row('DELETE /baremetal/v1/nodes/:ident/traits/*', OWNER_ADMIN_A, { fresh: 'node' }),
  row('PUT /baremetal/v1/nodes/:ident/management/boot_device', OWNER_ADMIN_A, { body: { boot_device: 'pxe' } }),
  row('GET /baremetal/v1/nodes/:ident/management/boot_device', OWNER_ADMIN_A),
  row('GET /baremetal/v1/nodes/:ident/management/boot_device/supported', OWNER_ADMIN_A),
  // validate: SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN (a reader may not).
  row('GET /baremetal/v1/nodes/:ident/validate', WRITE_A),
  row('GET /baremetal/v1/nodes/:ident/ports', READ_A),
  row('GET /baremetal/v1/nodes/:ident/ports/detail', READ_A),
  row('GET /baremetal/v1/nodes/:ident/history', READ_A),
  row('GET /baremetal/v1/nodes/:ident/history/detail', READ_A),
  row('GET /baremetal/v1/nodes/:ident/history/:event', READ_A),
  row('GET /baremetal/v1/nodes/:ident/allocation', READ_A),
  row('POST /baremetal/v1/ports', '401 ok 403 403 deny deny', { body: (c: Cell) => ({ node_uuid: c.f.node, address: mac() }) }),
  row('GET /baremetal/v1/ports', LIST),
  row('GET /baremetal/v1/ports/', LIST),
  row('GET /baremetal/v1/ports/detail', LIST),
  row('GET /baremetal/v1/ports/:ident', READ_A),
  row('PATCH /baremetal/v1/ports/:ident', OWNER_ADMIN_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/ports/:ident', OWNER_ADMIN_A, { fresh: 'port' }),
  // Port groups: Ironic's rules are the ports' (owner admin creates, updates and deletes).
  row('POST /baremetal/v1/portgroups', '401 ok 403 403 deny deny', { body: (c: Cell) => ({ node_uuid: c.f.node, address: mac() }) }),
  row('GET /baremetal/v1/portgroups', LIST),
  row('GET /baremetal/v1/portgroups/', LIST),
  row('GET /baremetal/v1/portgroups/detail', LIST),
  row('GET /baremetal/v1/portgroups/:ident', READ_A),
  row('PATCH /baremetal/v1/portgroups/:ident', OWNER_ADMIN_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/portgroups/:ident', OWNER_ADMIN_A, { fresh: 'portgroup' }),
  row('GET /baremetal/v1/portgroups/:ident/ports', READ_A),
  row('GET /baremetal/v1/portgroups/:ident/ports/detail', READ_A),
  row('GET /baremetal/v1/nodes/:ident/portgroups', READ_A),
  row('GET /baremetal/v1/nodes/:ident/portgroups/detail', READ_A),
  // Volume records: rules about their node. Ironic's GET /v1/volume checks baremetal:volume:get
  // without a node (the operator only); create/update/delete are SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN.
  row('GET /baremetal/v1/volume', ADMIN),
  row('GET /baremetal/v1/nodes/:ident/volume', READ_A),
  row('GET /baremetal/v1/nodes/:ident/volume/connectors', READ_A),
  row('GET /baremetal/v1/nodes/:ident/volume/targets', READ_A),
  row('POST /baremetal/v1/volume/connectors', '401 ok 403 403 deny deny', { body: (c: Cell) => ({ node_uuid: c.f.node, type: 'wwpn', connector_id: unique('rbac-wwpn') }) }),
  row('GET /baremetal/v1/volume/connectors', LIST),
  row('GET /baremetal/v1/volume/connectors/', LIST),
  row('GET /baremetal/v1/volume/connectors/detail', LIST),
  row('GET /baremetal/v1/volume/connectors/:ident', READ_A),
  row('PATCH /baremetal/v1/volume/connectors/:ident', OWNER_ADMIN_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/volume/connectors/:ident', OWNER_ADMIN_A, { fresh: 'volumeConnector' }),
  row('POST /baremetal/v1/volume/targets', '401 ok 403 403 deny deny', { body: (c: Cell) => ({ node_uuid: c.f.node, volume_type: 'iscsi', volume_id: unique('rbac-vol'), boot_index: 1000 + Math.floor(Math.random() * 1e6) }) }),
  row('GET /baremetal/v1/volume/targets', LIST),
  row('GET /baremetal/v1/volume/targets/', LIST),
  row('GET /baremetal/v1/volume/targets/detail', LIST),
  row('GET /baremetal/v1/volume/targets/:ident', READ_A),
  row('PATCH /baremetal/v1/volume/targets/:ident', OWNER_ADMIN_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/volume/targets/:ident', OWNER_ADMIN_A, { fresh: 'volumeTarget' }),
  // Deploy templates have no project: Ironic's SYSTEM_READER / SYSTEM_ADMIN rules.
  row('POST /baremetal/v1/deploy_templates', ADMIN, {
    body: () => ({ name: unique('CUSTOM_RBAC_').toUpperCase().replace(/[^A-Z0-9_]/g, '_'), steps: [{ interface: 'bios', step: 'apply_configuration', args: {}, priority: 10 }] }),
  }),
  row('GET /baremetal/v1/deploy_templates', ADMIN),
  row('GET /baremetal/v1/deploy_templates/', ADMIN),
  row('GET /baremetal/v1/deploy_templates/detail', ADMIN),
  row('GET /baremetal/v1/deploy_templates/:ident', ADMIN),
  row('PATCH /baremetal/v1/deploy_templates/:ident', ADMIN, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/deploy_templates/:ident', ADMIN, { fresh: 'deployTemplate' }),
  // allocation:create is any member (for its own project).
  row('POST /baremetal/v1/allocations', '401 ok ok 403 ok 403', { body: { resource_class: 'rbac-none' } }),
  row('GET /baremetal/v1/allocations', LIST),
  row('GET /baremetal/v1/allocations/', LIST),
  row('GET /baremetal/v1/allocations/:ident', READ_A),
  row('PATCH /baremetal/v1/allocations/:ident', WRITE_A, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/allocations/:ident', WRITE_A, { fresh: 'allocation' }),
  row('GET /baremetal/v1/drivers', ADMIN),
  row('GET /baremetal/v1/drivers/', ADMIN),
  row('GET /baremetal/v1/drivers/:name', ADMIN),
  row('GET /baremetal/v1/drivers/:name/properties', ADMIN),
  row('GET /baremetal/v1/drivers/:name/raid/logical_disk_properties', ADMIN),
  // Chassis and conductors: Ironic's SYSTEM_READER / SYSTEM_ADMIN rules. A chassis's nodes are a
  // node listing (baremetal:node:list), so B's callers get theirs (none) and A's see A's node.
  row('POST /baremetal/v1/chassis', ADMIN, { body: { description: 'rbac' } }),
  row('GET /baremetal/v1/chassis', ADMIN),
  row('GET /baremetal/v1/chassis/', ADMIN),
  row('GET /baremetal/v1/chassis/detail', ADMIN),
  row('GET /baremetal/v1/chassis/:chassis_uuid', ADMIN),
  row('PATCH /baremetal/v1/chassis/:chassis_uuid', ADMIN, { body: [{ op: 'add', path: '/extra/rbac', value: 'x' }] }),
  row('DELETE /baremetal/v1/chassis/:chassis_uuid', ADMIN, { fresh: 'chassis' }),
  row('GET /baremetal/v1/chassis/:chassis_uuid/nodes', LIST),
  row('GET /baremetal/v1/chassis/:chassis_uuid/nodes/detail', LIST),
  row('GET /baremetal/v1/conductors', ADMIN),
  row('GET /baremetal/v1/conductors/', ADMIN),
  row('GET /baremetal/v1/conductors/detail', ADMIN),
  row('GET /baremetal/v1/conductors/:hostname', ADMIN),
];

// Machines have no Keystone token: the /boot routes are public, and those that matter carry
// their own credential (a deploy-image token in the path, a one-time boot secret, an agent token).
const BOOT: Row[] = [
  row('GET /boot/boot.ipxe', PUBLIC),
  row('GET /boot/:name', PUBLIC),
  row('GET /boot/files/:file', PUBLIC),
  row('GET /boot/images/:token', PUBLIC),
  row('GET /boot/images/:token', REFUSED, { note: 'wrong token', path: () => '/boot/images/wrong' }),
  row('POST /boot/agent/lookup', PUBLIC, { fresh: 'bootSecret', body: (c: Cell) => ({ macs: [c.f.bootMac], boot_secret: c.f.bootSecret }) }),
  row('POST /boot/agent/lookup', REFUSED, { note: 'wrong boot secret', body: (c: Cell) => ({ macs: [c.f.bootMac], boot_secret: 'wrong' }) }),
  row('POST /boot/agent/nodes/:nodeId/heartbeat', PUBLIC, { headers: agent, body: { status: { phase: 'rbac' } } }),
  row('POST /boot/agent/nodes/:nodeId/heartbeat', REFUSED, { note: 'wrong agent token', headers: () => ({ 'x-agent-token': 'wrong' }), body: {} }),
  row('GET /boot/agent/nodes/:nodeId/commands/next', PUBLIC, { headers: agent }),
  row('GET /boot/agent/nodes/:nodeId/commands/next', REFUSED, { note: 'wrong agent token', headers: () => ({ 'x-agent-token': 'wrong' }) }),
  row('POST /boot/agent/nodes/:nodeId/commands/:commandId/result', PUBLIC, { fresh: 'command', headers: agent, body: { status: 'succeeded', result: {} } }),
  row('POST /boot/agent/nodes/:nodeId/commands/:commandId/result', REFUSED, { note: 'wrong agent token', fresh: 'command', headers: () => ({ 'x-agent-token': 'wrong' }), body: { status: 'succeeded' } }),
];

// Heat: every route exists twice, under /v1/{tenant_id} (Heat's own paths; the tenant is A, so
// B's callers are refused 403 for the tenant mismatch) and at the service root, where the
// project is the token's (B's callers act in B: A's records are not found, 404, once the role
// allows the operation in their own project, 403 before).
const R_P = '401 ok ok ok  403 403'; // read (PROJECT_READER), tenant in the URL
const R_U = '401 ok ok ok  404 404'; // read, project from the token
const W_P = '401 ok ok 403 403 403'; // write (PROJECT_MEMBER), tenant in the URL
const W_U = '401 ok ok 403 404 403'; // write, project from the token
const C_U = '401 ok ok 403 ok  403'; // create in the caller's own project
const L_U = '401 ok ok ok  none none'; // list of the caller's own project

function heat(method: string, path: string, prefixed: string, unprefixed: string, opts: Omit<Row, 'route' | 'expect'> = {}): Row[] {
  return [row(`${method} /orchestration/v1/:tenant_id${path}`, prefixed, opts), row(`${method} /orchestration${path}`, unprefixed, opts)];
}

const stackRoutes = (sb: string): Row[] => [
  ...heat('PUT', sb, W_P, W_U, { fresh: 'stack', body: { template: SMALL_TEMPLATE, parameters: { p: 'two' } } }),
  ...heat('PATCH', sb, W_P, W_U, { fresh: 'stack', body: { parameters: { p: 'three' } } }),
  ...heat('DELETE', sb, W_P, W_U, { fresh: 'stack' }),
  // actions:check is PROJECT_READER (the other actions are PROJECT_MEMBER).
  ...heat('POST', `${sb}/actions`, R_P, R_U, { fresh: 'stack', body: { check: null } }),
  ...['/template', '/environment', '/files', '/outputs', '/outputs/:key', '/resources', '/resources/:res', '/resources/:res/metadata', '/events', '/resources/:res/events', '/resources/:res/events/:event']
    .flatMap((p) => heat('GET', `${sb}${p}`, R_P, R_U)),
  // resource:signal is PROJECT_READER_OR_STACK_USER; mark_unhealthy is PROJECT_MEMBER.
  ...heat('POST', `${sb}/resources/:res/signal`, R_P, R_U, { body: { status: 'SUCCESS', reason: 'rbac' } }),
  ...heat('PATCH', `${sb}/resources/:res`, W_P, W_U, { fresh: 'stack', body: { mark_unhealthy: true, resource_status_reason: 'rbac' } }),
];

const ORCHESTRATION: Row[] = [
  row('GET /orchestration', PUBLIC),
  row('GET /orchestration/', PUBLIC),
  ...heat('GET', '/stacks', R_P, L_U),
  ...heat('POST', '/stacks', W_P, C_U, { body: () => ({ stack_name: unique('rbac-new'), template: SMALL_TEMPLATE }) }),
  // stacks:preview is PROJECT_READER; stacks:validate_template is PROJECT_MEMBER.
  ...heat('POST', '/stacks/preview', R_P, ANY_TOKEN, { body: { stack_name: 'rbac-preview', template: SMALL_TEMPLATE } }),
  ...heat('POST', '/validate', W_P, C_U, { body: { template: SMALL_TEMPLATE } }),
  ...heat('GET', '/resource_types', R_P, ANY_TOKEN),
  ...heat('GET', '/resource_types/:type', R_P, ANY_TOKEN),
  // stacks:generate_template, list_template_versions, list_template_functions: PROJECT_READER.
  ...heat('GET', '/resource_types/:type/template', R_P, ANY_TOKEN),
  ...heat('GET', '/template_versions', R_P, ANY_TOKEN),
  ...heat('GET', '/template_versions/:version/functions', R_P, ANY_TOKEN),
  ...heat('GET', '/stacks/:stack_name', R_P, R_U),
  ...heat('GET', '/stacks/:stack_name/:stack_id', R_P, R_U),
  ...stackRoutes('/stacks/:stack_name'),
  ...stackRoutes('/stacks/:stack_name/:stack_id'),
  // Software configs (Heat's own default is only "not a stack user"; we hold them to reader/member).
  ...heat('POST', '/software_configs', W_P, C_U, { body: () => ({ name: unique('rbac-cfg'), group: 'script', config: 'true' }) }),
  ...heat('GET', '/software_configs', R_P, L_U),
  ...heat('GET', '/software_configs/:id', R_P, R_U),
  ...heat('DELETE', '/software_configs/:id', W_P, W_U, { fresh: 'config' }),
  ...heat('GET', '/software_deployments', R_P, L_U),
  ...heat('GET', '/software_deployments/metadata/:server_id', R_P, L_U),
  // A deployment of A's config: B's member is not shown A's config (not found), B's reader may not create.
  ...heat('POST', '/software_deployments', W_P, '401 ok ok 403 deny 403', { body: (c: Cell) => ({ config_id: c.f.config, server_id: c.f.server }) }),
  ...heat('GET', '/software_deployments/:id', R_P, R_U),
  ...heat('PUT', '/software_deployments/:id', W_P, W_U, { body: { status: 'COMPLETE', status_reason: 'rbac' } }),
  ...heat('DELETE', '/software_deployments/:id', W_P, W_U, { fresh: 'deployment' }),
  // Signal URLs: the token in the path is the credential.
  row('POST /orchestration/signal/wait/:id/:token', PUBLIC, { path: (c) => c.f.waitSignal, body: { status: 'SUCCESS', reason: 'rbac' } }),
  row('POST /orchestration/signal/wait/:id/:token', REFUSED, { note: 'wrong token', path: (c) => c.f.waitSignal.replace(/[^/]+$/, 'wrong'), body: { status: 'SUCCESS' } }),
  row('POST /orchestration/signal/deployments/:id/:token', PUBLIC, { path: (c) => c.f.deploySignal, body: { deploy_status_code: 0 } }),
  row('POST /orchestration/signal/deployments/:id/:token', REFUSED, { note: 'wrong token', path: (c) => c.f.deploySignal.replace(/[^/]+$/, 'wrong'), body: { deploy_status_code: 0 } }),
  // TEMP_URL_SIGNAL: the same URL, PUT as to a Swift temp URL.
  row('PUT /orchestration/signal/deployments/:id/:token', PUBLIC, { path: (c) => c.f.deploySignal, body: { deploy_status_code: 0 } }),
  row('PUT /orchestration/signal/deployments/:id/:token', REFUSED, { note: 'wrong token', path: (c) => c.f.deploySignal.replace(/[^/]+$/, 'wrong'), body: { deploy_status_code: 0 } }),
  // POLL_TEMP_URL / POLL_SERVER_CFN: a server's metadata at a signed URL (the token is the credential).
  row('GET /orchestration/metadata/:id/:token', PUBLIC, { path: (c) => c.f.metadataUrl }),
  row('GET /orchestration/metadata/:id/:token', REFUSED, { note: 'wrong token', path: (c) => c.f.metadataUrl.replace(/[^/]+$/, 'f'.repeat(48)) }),
];

// Neutron: a project sees its own networks (plus shared and external ones), the subnets of those,
// and only its own ports; what it cannot see is 404 (update/delete included). Creating a subnet or
// a port checks first that the network is the caller's or shared (Neutron's ownership hook: 404
// "to hide the existence of the network"), then the policy (member).
const NETWORK: Row[] = [
  row('GET /networking', PUBLIC),
  row('GET /networking/', PUBLIC),
  row('GET /networking/v2.0', ANY_TOKEN),
  row('GET /networking/v2.0/extensions', ANY_TOKEN),
  row('GET /networking/v2.0/extensions/:id', ANY_TOKEN),
  row('GET /networking/v2.0/networks', LIST),
  row('GET /networking/v2.0/networks/:id', READ_A),
  // create_network: a member, in its own project.
  row('POST /networking/v2.0/networks', '401 ok ok 403 ok 403', { body: () => ({ network: { name: unique('rbac-new') } }) }),
  row('PUT /networking/v2.0/networks/:id', WRITE_A, { body: { network: { name: 'x' } } }),
  row('DELETE /networking/v2.0/networks/:id', WRITE_A, { fresh: 'network' }),
  row('GET /networking/v2.0/subnets', LIST),
  row('GET /networking/v2.0/subnets/:id', READ_A),
  row('POST /networking/v2.0/subnets', '401 ok ok 403 404 404', { body: (c: Cell) => ({ subnet: { network_id: c.f.networkA, cidr: cidr(), ip_version: 4 } }) }),
  row('PUT /networking/v2.0/subnets/:id', WRITE_A, { body: { subnet: { name: 'x' } } }),
  row('DELETE /networking/v2.0/subnets/:id', WRITE_A, { fresh: 'subnet' }),
  row('GET /networking/v2.0/ports', LIST),
  row('GET /networking/v2.0/ports/:id', READ_A),
  // Neutron answers B's reader 404 too (the network ownership check comes before the policy);
  // we check create_port (member, in the caller's own project) first: a 403 that says nothing
  // about A's network, as Heat's W_U rows. Moving the check after the network lookup in
  // src/network/networking.ts (createPort) would give Neutron's 404.
  row('POST /networking/v2.0/ports', '401 ok ok 403 404 403', { body: (c: Cell) => ({ port: { network_id: c.f.networkA } }) }),
  row('PUT /networking/v2.0/ports/:id', WRITE_A, { body: { port: { name: 'x' } } }),
  row('DELETE /networking/v2.0/ports/:id', WRITE_A, { fresh: 'neutronPort' }),
];

// Nova: another project's server is not found (the instance lookup is project-filtered), and the
// rule is checked after it. Flavors are everyone's (a private one only its projects'); flavor
// writes, flavor access, hypervisors and quota writes are the admin's; key pairs are their user's
// (another user's is not found, naming another user is admin-only); quotas are their project's
// readers'. No header means microversion 2.1.
const NOVA_210 = { 'openstack-api-version': 'compute 2.10' };
/** Key pairs: each user lists only its own (memberA's key is in nobody else's list). */
const OWN_KEYS = '401 none ok none none none';
const COMPUTE: Row[] = [
  row('GET /compute', PUBLIC),
  row('GET /compute/', PUBLIC),
  row('GET /compute/v2.1', PUBLIC),
  row('GET /compute/v2.1/', PUBLIC),
  // Lists show public flavors and the private ones the project has access to (A's private flavor: not B's).
  row('GET /compute/v2.1/flavors', LIST),
  row('GET /compute/v2.1/flavors/detail', LIST),
  row('GET /compute/v2.1/flavors/:id', ANY_TOKEN),
  row('GET /compute/v2.1/flavors/:id', '401 ok ok ok 404 404', { note: 'private flavor of A', path: (c) => `/compute/v2.1/flavors/${c.f.flavorPrivate}` }),
  row('POST /compute/v2.1/flavors', ADMIN, { body: () => ({ flavor: { name: unique('rbac-flavor'), ram: 1, vcpus: 1, disk: 0 } }) }),
  row('DELETE /compute/v2.1/flavors/:id', ADMIN, { fresh: 'flavor' }),
  row('GET /compute/v2.1/flavors/:id/os-extra_specs', ANY_TOKEN),
  row('GET /compute/v2.1/flavors/:id/os-extra_specs/:key', ANY_TOKEN),
  row('POST /compute/v2.1/flavors/:id/os-extra_specs', ADMIN, { body: { extra_specs: { 'hw:rbac': 'y' } } }),
  row('PUT /compute/v2.1/flavors/:id/os-extra_specs/:key', ADMIN, { body: { 'hw:rbac': 'z' } }),
  row('DELETE /compute/v2.1/flavors/:id/os-extra_specs/:key', ADMIN, { fresh: 'flavor' }),
  row('GET /compute/v2.1/flavors/:id/os-flavor-access', ADMIN, { path: (c) => `/compute/v2.1/flavors/${c.f.flavorPrivate}/os-flavor-access` }),
  // On a fresh private flavor (project B given access to the shared one would see it afterwards).
  row('POST /compute/v2.1/flavors/:id/action', ADMIN, { fresh: 'flavor', body: (c: Cell) => ({ addTenantAccess: { tenant: c.f.projectB } }) }),
  row('GET /compute/v2.1/os-hypervisors', ADMIN),
  row('GET /compute/v2.1/os-hypervisors/detail', ADMIN),
  row('GET /compute/v2.1/os-hypervisors/:id', ADMIN),
  row('GET /compute/v2.1/limits', ANY_TOKEN),
  row('GET /compute/v2.1/os-keypairs', OWN_KEYS),
  row('POST /compute/v2.1/os-keypairs', ANY_TOKEN, { body: () => ({ keypair: { name: unique('rbac-kp'), public_key: sshKey() } }) }),
  // memberA's key pair, looked up as each caller's own: only memberA has one of that name.
  row('GET /compute/v2.1/os-keypairs/:name', '401 404 ok 404 404 404'),
  // Naming memberA (user_id, from 2.10): the admin may; anyone else is refused (admin_api or user_id:%(user_id)s).
  row('GET /compute/v2.1/os-keypairs/:name', '401 ok ok 403 403 403', {
    note: "?user_id=memberA's",
    headers: () => NOVA_210,
    path: (c) => `/compute/v2.1/os-keypairs/${c.f.keypair}?user_id=${c.f.userIds.memberA}`,
  }),
  row('DELETE /compute/v2.1/os-keypairs/:name', '401 404 ok 404 404 404', { fresh: 'keypair' }),
  // os-quota-sets:show/detail: a reader of the project (B's callers are refused, not hidden).
  row('GET /compute/v2.1/os-quota-sets/:project', '401 ok ok ok 403 403'),
  row('GET /compute/v2.1/os-quota-sets/:project/detail', '401 ok ok ok 403 403'),
  row('GET /compute/v2.1/os-quota-sets/:project/defaults', ANY_TOKEN),
  row('PUT /compute/v2.1/os-quota-sets/:project', ADMIN, { body: { quota_set: { instances: 10 } } }),
  row('DELETE /compute/v2.1/os-quota-sets/:project', ADMIN),
  row('GET /compute/v2.1/os-server-groups', LIST),
  row('POST /compute/v2.1/os-server-groups', '401 ok ok 403 ok 403', { body: () => ({ server_group: { name: unique('rbac-group'), policies: ['anti-affinity'] } }) }),
  // Departure: Nova looks a group up by id alone and then checks show/delete against its project,
  // so B's callers get 403 there; we hide another project's group (404) as Nova hides its servers.
  row('GET /compute/v2.1/os-server-groups/:id', READ_A),
  row('DELETE /compute/v2.1/os-server-groups/:id', WRITE_A, { fresh: 'serverGroup' }),
  row('GET /compute/v2.1/servers', LIST),
  row('GET /compute/v2.1/servers/detail', LIST),
  // servers:create: a member, in its own project (each success takes a fake node of the shared pool).
  row('POST /compute/v2.1/servers', '401 ok ok 403 ok 403', {
    body: (c: Cell) => ({ server: { name: unique('rbac-s'), imageRef: c.f.publicImage, flavorRef: c.f.serverFlavor, networks: 'none' } }),
  }),
  row('GET /compute/v2.1/servers/:id', READ_A),
  row('PUT /compute/v2.1/servers/:id', WRITE_A, { body: { server: { name: 'rbac-s' } } }),
  row('DELETE /compute/v2.1/servers/:id', WRITE_A, { fresh: 'novaServer' }),
  row('POST /compute/v2.1/servers/:id/action', WRITE_A, { fresh: 'novaServer', body: { reboot: { type: 'HARD' } } }),
  row('GET /compute/v2.1/servers/:id/os-instance-actions', READ_A),
  row('GET /compute/v2.1/servers/:id/os-instance-actions/:requestId', READ_A),
];

// The pivot (ours, not OpenStack's: docs/pivot.md). The source routes are the cloud admin's
// ('pivot:source'); export, files, blobs and complete need a begun pivot (409 before one).
// The receiver routes take no Keystone token but X-Pivot-Token, and this world's server is not
// configured to receive (no pivot.token): refused for everybody.
const ADMIN_AFTER_BEGIN = '401  409 403 403 403 403';
const PIVOT: Row[] = [
  row('GET /pivot/v1', ADMIN),
  row('GET /pivot/v1/export', ADMIN_AFTER_BEGIN),
  row('GET /pivot/v1/files/:name', ADMIN_AFTER_BEGIN),
  row('GET /pivot/v1/blobs/:id', ADMIN_AFTER_BEGIN),
  row('POST /pivot/v1/complete', ADMIN_AFTER_BEGIN, { body: { pivot_id: 'rbac', counts: {} } }),
  row('GET /pivot/v1/receiver', REFUSED),
  row('HEAD /pivot/v1/receiver/blobs/:id', REFUSED),
  row('PUT /pivot/v1/receiver/blobs/:id', REFUSED, { raw: { type: 'application/octet-stream', data: 'rbac' } }),
  row('HEAD /pivot/v1/receiver/files/:name', REFUSED),
  row('PUT /pivot/v1/receiver/files/:name', REFUSED, { raw: { type: 'application/octet-stream', data: 'rbac' } }),
  row('POST /pivot/v1/receiver/import', REFUSED, { body: { pivot_id: 'rbac' } }),
  // Last of all rows: the admin's begin, once let through, either waits for the world's stack in
  // progress (409) or begins and turns this world read-only.
  row('POST /pivot/v1/begin', '401 past 403 403 403 403', { body: { to: 'http://192.0.2.1:6385' } }),
];

const MATRIX: Row[] = [row('GET /', PUBLIC), ...IDENTITY, ...IMAGES, ...BAREMETAL, ...BOOT, ...ORCHESTRATION, ...NETWORK, ...COMPUTE, ...PIVOT];

/** Default parameter values, by "<previous path segment>/:<param>". */
const PARAMS: Record<string, (f: Fixtures) => string> = {
  'projects/:id': (f) => f.project,
  'projects/:target': (f) => f.project,
  'users/:id': (f) => f.user,
  'users/:user': (f) => f.user,
  'roles/:id': (f) => f.role,
  'roles/:role': (f) => f.role,
  'groups/:group': (f) => f.group,
  'roles/:prior': (f) => f.role,
  'implies/:implied': (f) => f.impliedRole,
  'groups/:id': (f) => f.group,
  'domains/:id': () => 'default',
  'domains/:target': () => 'default',
  'services/:id': (f) => f.service,
  'endpoints/:id': (f) => f.endpoint,
  'regions/:id': (f) => f.region,
  'endpoint_groups/:id': (f) => f.endpointGroup,
  'projects/:project': (f) => f.project,
  'endpoints/:endpoint': (f) => f.endpoint,
  'credentials/:id': (f) => f.credential,
  'OS-EC2/:access': (f) => f.ec2Access,
  'policies/:id': (f) => f.policy,
  'images/:id': (f) => f.image,
  'members/:member': (f) => f.projectB,
  'tags/:tag': () => 'rbac',
  'tags/*': () => LONG_TAG,
  'nodes/:ident': (f) => f.node,
  'traits/:trait': () => 'CUSTOM_RBAC',
  'traits/*': () => LONG_TRAIT,
  'history/:event': (f) => f.historyEvent,
  'ports/:ident': (f) => f.port,
  'portgroups/:ident': (f) => f.portgroup,
  'deploy_templates/:ident': (f) => f.deployTemplate,
  'allocations/:ident': (f) => f.allocation,
  'drivers/:name': () => 'fake-hardware',
  'chassis/:chassis_uuid': (f) => f.chassis,
  'connectors/:ident': (f) => f.volumeConnector,
  'targets/:ident': (f) => f.volumeTarget,
  // The world's conductor keeps the default host name (config.ts): this machine's.
  'conductors/:hostname': () => hostname(),
  'boot/:name': () => '52-54-00-12-34-56.ipxe',
  'files/:file': () => 'deploy.kernel',
  'images/:token': (f) => f.bootImageToken,
  'nodes/:nodeId': (f) => f.agentNode,
  'commands/:commandId': (f) => f.command,
  'v1/:tenant_id': (f) => f.projectA,
  'stacks/:stack_name': (f) => f.stackName,
  ':stack_name/:stack_id': (f) => f.stackId,
  'resources/:res': () => 'handle',
  'events/:event': (f) => f.eventId,
  'outputs/:key': () => 'out',
  'resource_types/:type': () => 'OS::Heat::RandomString',
  'template_versions/:version': () => 'heat_template_version.2016-10-14',
  'software_configs/:id': (f) => f.config,
  'software_deployments/:id': (f) => f.deployment,
  'metadata/:server_id': (f) => f.server,
  'extensions/:id': () => 'provider',
  'networks/:id': (f) => f.networkA,
  'subnets/:id': (f) => f.subnetA,
  'ports/:id': (f) => f.neutronPortA,
  'flavors/:id': (f) => f.flavor,
  'os-extra_specs/:key': () => 'hw:rbac',
  'os-keypairs/:name': (f) => f.keypair,
  'os-quota-sets/:project': (f) => f.projectA,
  'os-server-groups/:id': (f) => f.serverGroup,
  'servers/:id': (f) => f.novaServer,
  'os-instance-actions/:requestId': (f) => f.instanceAction,
  'os-hypervisors/:id': (f) => f.hypervisor,
  'blobs/:id': (f) => f.image,
  'files/:name': () => 'deploy.kernel',
};

function fill(url: string, f: Fixtures): string {
  const parts = url.split('/');
  return parts
    .map((seg, i) => {
      if (!seg.startsWith(':') && seg !== '*') return seg;
      const value = PARAMS[`${parts[i - 1]}/${seg}`];
      if (!value) throw new Error(`no default value for ${seg} in ${url}: add it to PARAMS or give the row a path`);
      return encodeURIComponent(value(f));
    })
    .join('/');
}

function parseRow(r: Row): { method: string; url: string; outcomes: Outcome[] } {
  const [method, url] = r.route.split(' ') as [string, string];
  const outcomes = r.expect.trim().split(/\s+/);
  if (outcomes.length !== WHO.length || outcomes.some((o) => !OUTCOMES.includes(o))) throw new Error(`${r.route}: bad expectation "${r.expect}"`);
  return { method, url, outcomes: outcomes as Outcome[] };
}

const allows = (o: Outcome) => o === 'ok' || o === 'none';

let world: World;
const discrepancies: string[] = [];
let requests = 0;

function judge(expected: Outcome, status: number, text: string): string | undefined {
  const ok = status >= 200 && status < 400;
  switch (expected) {
    case 'ok':
      return ok ? undefined : 'refused';
    case 'none': {
      if (!ok) return 'refused';
      const leaked = world.secretsOfA.filter((s) => text.includes(s));
      return leaked.length ? `lists project A's ${leaked.join(', ')}` : undefined;
    }
    case 'deny':
      return [401, 403, 404].includes(status) ? undefined : 'not refused';
    case 'past':
      return [401, 403, 404].includes(status) ? 'refused' : undefined;
    default:
      return String(status) === expected ? undefined : 'other status';
  }
}

async function runCell(r: Row, method: string, url: string, who: Who, expected: Outcome, f: Fixtures): Promise<string | undefined> {
  const c: Cell = { f, who };
  const path = r.path ? r.path(c) : fill(url, f);
  const body = method === 'HEAD' ? undefined : typeof r.body === 'function' ? (r.body as (c: Cell) => unknown)(c) : r.body;
  const res = await request(world.app, method, path, {
    token: world.tokens[who],
    body,
    raw: method === 'HEAD' ? undefined : r.raw,
    headers: r.headers?.(c),
  });
  requests += 1;
  const why = judge(expected, res.status, res.text);
  if (!why) return undefined;
  const detail = res.text.replace(/\s+/g, ' ').slice(0, 160);
  return `${method} ${url}${r.note ? ` (${r.note})` : ''} — ${who}: expected ${expected}, got ${res.status} (${why}) ${detail}`;
}

async function runRow(r: Row): Promise<string[]> {
  const { method, url, outcomes } = parseRow(r);
  // Destructive rows: a fresh record for each caller expected to succeed (made just before its
  // call: some records, like a running agent command, exist one at a time), one for all the others.
  let victim: Fixtures | undefined;
  const fixtureFor = async (expected: Outcome): Promise<Fixtures> => {
    if (!r.fresh) return world.f;
    if (allows(expected)) return { ...world.f, ...(await world.fresh[r.fresh]()) };
    return (victim ??= { ...world.f, ...(await world.fresh[r.fresh]()) });
  };
  const cell = async (who: Who, i: number): Promise<string[]> => {
    const expected = outcomes[i]!;
    const f = await fixtureFor(expected);
    const found = [await runCell(r, method, url, who, expected, f)];
    if (method === 'GET') found.push(await runCell(r, 'HEAD', url, who, expected, f));
    return found.filter((p): p is string => p !== undefined);
  };
  // Reads run the six callers at once; anything that writes runs them one after the other.
  if (method === 'GET' || method === 'HEAD') return (await Promise.all(WHO.map(cell))).flat();
  const problems: string[] = [];
  for (const [i, who] of WHO.entries()) problems.push(...(await cell(who, i)));
  return problems;
}

before(async () => {
  world = await buildWorld();
});

after(async () => {
  await world?.stop();
});

test('every registered route has a row in the matrix', () => {
  const covered = new Set<string>();
  for (const r of MATRIX) {
    const { method, url } = parseRow(r);
    covered.add(`${method} ${normalizeRoute(url)}`);
    // Fastify answers HEAD for every GET route with the GET handler: the GET row covers it.
    if (method === 'GET') covered.add(`HEAD ${normalizeRoute(url)}`);
  }
  const routes = registeredRoutes(world.app);
  assert.ok(routes.length > 100, `only ${routes.length} routes found: is the route listing broken?`);
  const missing = routes.filter((r) => !covered.has(r));
  assert.deepEqual(missing, [], `routes without an RBAC row (add one to test/rbac-matrix.test.ts):\n${missing.join('\n')}`);
});

test('every row of the matrix names a registered route and its parameters', () => {
  const wrong = MATRIX.map((r) => {
    const { method, url } = parseRow(r);
    const why = routeMismatch(world.app, method, url);
    return why && `${r.route}: ${why}`;
  }).filter(Boolean);
  assert.deepEqual(wrong, []);
});

// Before the rows: the pivot's rows end with this world read-only.
// System-scoped tokens without the admin role (Keystone's system reader and member): Bootstack
// does not give them rules of their own yet (docs/identity.md), so they must never get more than
// project B's reader or member. Each row is called as B's caller would call it (B's path and
// body), with a system-scoped token instead: where B is refused, so must they be; where B is let
// through, they may be refused, and a listing must not show project A's records.
async function systemToken(role: 'reader' | 'member'): Promise<string> {
  const admin = world.tokens.adminA!;
  const name = unique(`rbac-system-${role}`);
  const user = await request(world.app, 'POST', '/identity/v3/users', { token: admin, body: { user: { name, password: `${name}-pw` } } });
  assert.equal(user.status, 201, user.text);
  const roles = await request(world.app, 'GET', `/identity/v3/roles?name=${role}`, { token: admin });
  assert.equal(roles.body.roles?.length, 1, roles.text);
  const grant = await request(world.app, 'PUT', `/identity/v3/system/users/${user.body.user.id}/roles/${roles.body.roles[0].id}`, { token: admin });
  assert.equal(grant.status, 204);
  const auth = { identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password: `${name}-pw` } } }, scope: { system: { all: true } } };
  const t = await request(world.app, 'POST', '/identity/v3/auth/tokens?nocatalog', { body: { auth } });
  assert.equal(t.status, 201, t.text);
  return String(t.headers['x-subject-token']);
}

test('system-scoped readers and members get no more than project B\'s reader and member', async () => {
  const callers = [
    { name: 'systemReader', token: await systemToken('reader'), as: 'readerB' as Who },
    { name: 'systemMember', token: await systemToken('member'), as: 'memberB' as Who },
  ];
  const problems: string[] = [];
  for (const r of MATRIX) {
    const { method, url, outcomes } = parseRow(r);
    for (const caller of callers) {
      const asB = outcomes[WHO.indexOf(caller.as)]!;
      // A route that destroys its target is called on the shared records only where B is
      // refused (so must this caller be); where B may destroy, B's fresh records are not made
      // again here (quotas, one running agent command at a time): the row is left out.
      if (r.fresh && allows(asB)) continue;
      const f = world.f;
      const c: Cell = { f, who: caller.as };
      const path = r.path ? r.path(c) : fill(url, f);
      const body = typeof r.body === 'function' ? (r.body as (c: Cell) => unknown)(c) : r.body;
      const res = await request(world.app, method, path, { token: caller.token, body, raw: r.raw, headers: r.headers?.(c) });
      const refused = [401, 403, 404].includes(res.status);
      const leaked = res.status < 400 ? world.secretsOfA.filter((s) => res.text.includes(s)) : [];
      if (!allows(asB) && asB !== 'past' && !refused) problems.push(`${method} ${url} — ${caller.name}: ${asB} for ${caller.as}, got ${res.status}`);
      else if (allows(asB) && asB === 'none' && leaked.length) problems.push(`${method} ${url} — ${caller.name}: lists project A's ${leaked.join(', ')}`);
    }
  }
  assert.deepEqual(problems, []);
});

for (const r of MATRIX) {
  test(`${r.route}${r.note ? ` (${r.note})` : ''}`, async () => {
    const problems = await runRow(r);
    discrepancies.push(...problems);
    assert.deepEqual(problems, []);
  });
}

test('summary', (t) => {
  const routes = registeredRoutes(world.app);
  t.diagnostic(`${routes.length} routes (${routes.filter((r) => !r.startsWith('HEAD ')).length} without the HEAD twins), ${MATRIX.length} rows, ${MATRIX.length * WHO.length} cells, ${requests} requests (HEAD twins included), ${discrepancies.length} discrepancies`);
  for (const d of discrepancies) t.diagnostic(`DISCREPANCY ${d}`);
});
