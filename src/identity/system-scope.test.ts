// Keystone's system scope and groups through the HTTP API: what tempest's dynamic credentials
// and Ironic's plugin do (a user given a role on the system, then a system-scoped token), and
// that a system-scoped token is the cloud admin only with the admin role.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;
let roles: Record<string, string>;

const systemAuth = (user: string, password: string) => ({
  auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { system: { all: true } } },
});

async function newUser(name: string): Promise<string> {
  const r = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name, password: `${name}-pw` } } });
  assert.equal(r.status, 201);
  return r.body.user.id as string;
}

before(async () => {
  seed = await startSeed();
  admin = await seed.token();
  const r = await seed.call('GET', '/identity/v3/roles', { token: admin });
  roles = Object.fromEntries((r.body.roles as Array<{ id: string; name: string }>).map((x) => [x.name, x.id]));
});
after(() => seed.stop());

test('the bootstrap admin gets a system-scoped token with the admin role and a catalog', async () => {
  const r = await seed.call('POST', '/identity/v3/auth/tokens', { body: systemAuth('admin', seed.adminPassword) });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body.token.system, { all: true });
  assert.equal(r.body.token.project, undefined);
  assert.ok(r.body.token.roles.some((x: { name: string }) => x.name === 'admin'));
  assert.ok(r.body.token.catalog.length > 0);
  const token = r.headers.get('x-subject-token')!;
  // The cloud admin: it may enrol a node and list every project.
  const node = await seed.call('POST', '/baremetal/v1/nodes', { token, body: { driver: 'fake-hardware', name: 'sys-node' }, headers: { 'x-openstack-ironic-api-version': '1.78' } });
  assert.equal(node.status, 201, JSON.stringify(node.body));
  assert.equal((await seed.call('GET', '/identity/v3/projects', { token })).status, 200);
  const check = await seed.call('GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } });
  assert.deepEqual(check.body.token.system, { all: true });
});

test('a role on the system is granted, checked, listed, used and revoked', async () => {
  const user = await newUser('sys-reader');
  // Without a role on the system: no system-scoped token.
  assert.equal((await seed.call('POST', '/identity/v3/auth/tokens', { body: systemAuth('sys-reader', 'sys-reader-pw') })).status, 401);
  const grant = `/identity/v3/system/users/${user}/roles/${roles.reader}`;
  assert.equal((await seed.call('GET', grant, { token: admin })).status, 404);
  // As tempest sends it: no body, a JSON content type.
  assert.equal((await seed.call('PUT', grant, { token: admin, headers: { 'content-type': 'application/json' } })).status, 204);
  assert.equal((await seed.call('GET', grant, { token: admin })).status, 204);
  assert.equal((await seed.call('HEAD', grant, { token: admin })).status, 204);
  const list = await seed.call('GET', `/identity/v3/system/users/${user}/roles`, { token: admin });
  assert.deepEqual(list.body.roles.map((r: { name: string }) => r.name), ['reader']);
  const ra = await seed.call('GET', `/identity/v3/role_assignments?scope.system=all&user.id=${user}`, { token: admin });
  assert.deepEqual(ra.body.role_assignments.map((a: { scope: unknown }) => a.scope), [{ system: { all: true } }]);

  const r = await seed.call('POST', '/identity/v3/auth/tokens', { body: systemAuth('sys-reader', 'sys-reader-pw') });
  assert.equal(r.status, 201);
  const token = r.headers.get('x-subject-token')!;
  assert.deepEqual(r.body.token.roles.map((x: { name: string }) => x.name), ['reader']);
  assert.deepEqual((await seed.call('GET', '/identity/v3/auth/system', { token })).body.system, [{ all: true }]);
  // A system reader is not the cloud admin, and has no project to act for: refused, never widened.
  assert.equal((await seed.call('POST', '/image/v2/images', { token, body: { name: 'sys-img' } })).status, 403);
  assert.equal((await seed.call('POST', '/baremetal/v1/nodes', { token, body: { driver: 'fake-hardware' } })).status, 403);
  assert.equal((await seed.call('GET', '/identity/v3/users', { token })).status, 403);

  assert.equal((await seed.call('DELETE', grant, { token: admin })).status, 204);
  assert.equal((await seed.call('DELETE', grant, { token: admin })).status, 404);
  // The token lost its only role on the system: no longer valid.
  assert.equal((await seed.call('GET', '/identity/v3/auth/system', { token })).status, 401);
});

test('scope: one of project, domain or system; system must be all', async () => {
  const both = systemAuth('admin', seed.adminPassword);
  (both.auth.scope as Record<string, unknown>).project = { name: 'admin', domain: { id: 'default' } };
  const r = await seed.call('POST', '/identity/v3/auth/tokens', { body: both });
  assert.equal(r.status, 400);
  const notAll = systemAuth('admin', seed.adminPassword);
  (notAll.auth.scope as Record<string, unknown>).system = { all: false };
  const r2 = await seed.call('POST', '/identity/v3/auth/tokens', { body: notAll });
  assert.equal(r2.status, 400);
  assert.match(JSON.stringify(r2.body), /scope\.system/);
});

test('groups: members hold the group roles; removing a member or the group takes them away', async () => {
  const user = await newUser('grp-member');
  const project = (await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'grp-proj' } } })).body.project.id as string;
  // An attribute Keystone does not know is kept as an extra (Tempest sends project_id).
  const g = await seed.call('POST', '/identity/v3/groups', { token: admin, body: { group: { name: 'operators', description: 'ops', project_id: project } } });
  assert.equal(g.status, 201);
  const group = g.body.group.id as string;
  assert.equal(g.body.group.domain_id, 'default');
  assert.equal(g.body.group.project_id, project);
  const bad = await seed.call('POST', '/identity/v3/groups', { token: admin, body: { group: { name: 'bad', id: 'mine' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /body\.group\.id/);
  assert.equal((await seed.call('POST', '/identity/v3/groups', { token: admin, body: { group: { name: 'operators' } } })).status, 409);
  assert.equal((await seed.call('PUT', `/identity/v3/projects/${project}/groups/${group}/roles/${roles.member}`, { token: admin })).status, 204);
  const login = () => seed.call('POST', '/identity/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['password'], password: { user: { id: user, password: 'grp-member-pw' } } }, scope: { project: { id: project } } } },
  });
  assert.equal((await login()).status, 401, 'not a member yet');
  assert.equal((await seed.call('PUT', `/identity/v3/groups/${group}/users/${user}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/groups/${group}/users/${user}`, { token: admin })).status, 204);
  const ok = await login();
  assert.equal(ok.status, 201);
  const token = ok.headers.get('x-subject-token')!;
  assert.deepEqual(ok.body.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
  assert.deepEqual((await seed.call('GET', '/identity/v3/auth/projects', { token })).body.projects.map((p: { id: string }) => p.id), [project]);
  const mine = await seed.call('GET', `/identity/v3/users/${user}/groups`, { token });
  assert.deepEqual(mine.body.groups.map((x: { id: string; membership_expires_at: null }) => [x.id, x.membership_expires_at]), [[group, null]]);
  // Effective assignments show the group's role as the member's, with the membership link, and
  // the role it implies (member → reader) with the assigned role as prior_role.
  const eff = await seed.call('GET', `/identity/v3/role_assignments?effective&user.id=${user}`, { token: admin });
  assert.deepEqual(eff.body.role_assignments.map((a: { role: { id: string } }) => a.role.id), [roles.member, roles.reader]);
  assert.equal(eff.body.role_assignments[0].user.id, user);
  assert.match(eff.body.role_assignments[0].links.membership, new RegExp(`/groups/${group}/users/${user}$`));
  assert.match(eff.body.role_assignments[1].links.prior_role, new RegExp(`/roles/${roles.member}$`));
  assert.match(eff.body.role_assignments[1].links.assignment, new RegExp(`/groups/${group}/roles/${roles.member}$`));
  const plain = await seed.call('GET', `/identity/v3/role_assignments?group.id=${group}`, { token: admin });
  assert.equal(plain.body.role_assignments[0].group.id, group);

  assert.equal((await seed.call('DELETE', `/identity/v3/groups/${group}/users/${user}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', '/identity/v3/auth/projects', { token })).status, 401, 'the token lost its only role');
  assert.equal((await seed.call('PUT', `/identity/v3/groups/${group}/users/${user}`, { token: admin })).status, 204);
  assert.equal((await login()).status, 201);
  assert.equal((await seed.call('DELETE', `/identity/v3/groups/${group}`, { token: admin })).status, 204);
  assert.equal((await login()).status, 401);
  assert.equal((await seed.call('GET', `/identity/v3/groups/${group}`, { token: admin })).status, 404);
});

test('implied roles are data: a rule adds a role to tokens, removing it takes it away; domain roles only imply', async () => {
  const mk = async (body: Record<string, unknown>) => (await seed.call('POST', '/identity/v3/roles', { token: admin, body: { role: body } })).body.role as { id: string; domain_id: string | null };
  const operator = await mk({ name: 'operator' });
  const auditor = await mk({ name: 'auditor' });
  const local = await mk({ name: 'local-ops', domain_id: 'default' });
  assert.equal(local.domain_id, 'default');
  // Listed apart: the global list does not show domain roles.
  assert.ok(!(await seed.call('GET', '/identity/v3/roles', { token: admin })).body.roles.some((r: { id: string }) => r.id === local.id));
  assert.deepEqual((await seed.call('GET', '/identity/v3/roles?domain_id=default', { token: admin })).body.roles.map((r: { id: string }) => r.id), [local.id]);
  const rule = (p: string, i: string) => `/identity/v3/roles/${p}/implies/${i}`;
  assert.equal((await seed.call('PUT', rule(operator.id, operator.id), { token: admin })).status, 400);
  assert.equal((await seed.call('PUT', rule(operator.id, local.id), { token: admin })).status, 403, 'a global role may not imply a domain role');
  const put = await seed.call('PUT', rule(local.id, operator.id), { token: admin });
  assert.equal(put.status, 201);
  assert.equal(put.body.role_inference.implies.id, operator.id);
  assert.equal((await seed.call('PUT', rule(operator.id, auditor.id), { token: admin })).status, 201);
  assert.equal((await seed.call('HEAD', rule(operator.id, auditor.id), { token: admin })).status, 204);
  const all = await seed.call('GET', '/identity/v3/role_inferences', { token: admin });
  assert.ok(all.body.role_inferences.some((r: { prior_role: { name: string } }) => r.prior_role.name === 'admin'), 'the defaults are rules too');

  const user = await newUser('inferred');
  const project = (await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'inferred-proj' } } })).body.project.id as string;
  assert.equal((await seed.call('PUT', `/identity/v3/projects/${project}/users/${user}/roles/${local.id}`, { token: admin })).status, 204);
  const login = async () => {
    const r = await seed.call('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { id: user, password: 'inferred-pw' } } }, scope: { project: { id: project } } } },
    });
    return r.status === 201 ? (r.body.token.roles as Array<{ name: string }>).map((x) => x.name).sort() : r.status;
  };
  // The domain role is not held; what it implies (transitively) is.
  assert.deepEqual(await login(), ['auditor', 'operator']);
  assert.equal((await seed.call('DELETE', rule(operator.id, auditor.id), { token: admin })).status, 204);
  assert.deepEqual(await login(), ['operator']);
  assert.equal((await seed.call('DELETE', rule(local.id, operator.id), { token: admin })).status, 204);
  assert.equal(await login(), 401, 'only a domain role left: nothing applies');
  assert.equal((await seed.call('GET', rule(local.id, operator.id), { token: admin })).status, 404);
  const renamed = await seed.call('PATCH', `/identity/v3/roles/${auditor.id}`, { token: admin, body: { role: { name: 'auditor-2' } } });
  assert.equal(renamed.body.role.name, 'auditor-2');
});

test('inherited assignments (OS-INHERIT): a domain\'s reach every project in it, a project\'s its subtree only', async () => {
  const user = await newUser('heir');
  const domain = (await seed.call('POST', '/identity/v3/domains', { token: admin, body: { domain: { name: 'heirs' } } })).body.domain.id as string;
  const mkProject = async (name: string, parent?: string) =>
    (await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name, domain_id: domain, ...(parent ? { parent_id: parent } : {}) } } })).body.project.id as string;
  const top = await mkProject('heir-top');
  const leaf = await mkProject('heir-leaf', top);
  const roleNames = async (project: string) => {
    const r = await seed.call('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { id: user, password: 'heir-pw' } } }, scope: { project: { id: project } } } },
    });
    return r.status === 201 ? (r.body.token.roles as Array<{ name: string }>).map((x) => x.name).sort() : r.status;
  };
  const onTop = `/identity/v3/OS-INHERIT/projects/${top}/users/${user}/roles/${roles.member}/inherited_to_projects`;
  assert.equal((await seed.call('PUT', onTop, { token: admin })).status, 204);
  assert.equal((await seed.call('HEAD', onTop, { token: admin })).status, 204);
  assert.equal(await roleNames(top), 401, 'not on the project itself');
  assert.deepEqual(await roleNames(leaf), ['member', 'reader']);
  const eff = await seed.call('GET', `/identity/v3/role_assignments?effective&user.id=${user}&scope.project.id=${leaf}`, { token: admin });
  assert.equal(eff.body.role_assignments[0].scope.project.id, leaf);
  assert.match(eff.body.role_assignments[0].links.assignment, new RegExp(`/OS-INHERIT/projects/${top}/users/${user}/roles/${roles.member}/inherited_to_projects$`));
  const listed = await seed.call('GET', `/identity/v3/role_assignments?user.id=${user}`, { token: admin });
  assert.deepEqual(listed.body.role_assignments.map((a: { scope: Record<string, unknown> }) => a.scope), [{ project: { id: top }, 'OS-INHERIT:inherited_to': 'projects' }]);
  assert.equal((await seed.call('DELETE', onTop, { token: admin })).status, 204);
  assert.equal(await roleNames(leaf), 401);

  const onDomain = `/identity/v3/OS-INHERIT/domains/${domain}/users/${user}/roles/${roles.reader}/inherited_to_projects`;
  assert.equal((await seed.call('PUT', onDomain, { token: admin })).status, 204);
  const list = await seed.call('GET', `/identity/v3/OS-INHERIT/domains/${domain}/users/${user}/roles/inherited_to_projects`, { token: admin });
  assert.deepEqual(list.body.roles.map((r: { id: string }) => r.id), [roles.reader]);
  assert.deepEqual(await roleNames(top), ['reader']);
  assert.deepEqual(await roleNames(leaf), ['reader']);
  // Not a role on the domain itself.
  assert.equal((await seed.call('GET', `/identity/v3/domains/${domain}/users/${user}/roles`, { token: admin })).body.roles.length, 0);
});
