// Keystone v3 API of the seed, over HTTP: discovery, tokens (password/token methods, project
// and domain scope, validate/check/revoke, expiry), catalog, projects/users/roles/grants,
// policy, bad input, the bootstrap files, and secrets kept out of the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';
import { hashToken } from '../src/identity/index.js';

let seed: TestSeed;
let admin: string;

before(async () => {
  // Only the services under test: another area's start-up problems must not fail these.
  seed = await startSeed({ services: ['identity', 'images'] });
  admin = await seed.token();
});
after(async () => seed?.stop());

const passwordAuth = (name: string, password: string, scope?: unknown) => ({
  auth: { identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } }, ...(scope ? { scope } : {}) },
});

test('version discovery at /identity and /identity/v3', async () => {
  const root = await seed.call('GET', '/identity');
  assert.equal(root.status, 300);
  const v = root.body.versions.values[0];
  assert.equal(v.status, 'stable');
  assert.equal(v.links[0].href, `${seed.url}/identity/v3/`);
  const v3 = await seed.call('GET', '/identity/v3');
  assert.equal(v3.status, 200);
  assert.match(v3.body.version.id, /^v3\./);
});

test('bootstrap wrote clouds.yaml and the password file, both 0600', () => {
  for (const f of ['clouds.yaml', 'admin-password']) {
    assert.equal(statSync(join(seed.stateDir, f)).mode & 0o777, 0o600, f);
  }
  const clouds = parse(readFileSync(join(seed.stateDir, 'clouds.yaml'), 'utf8'));
  const c = clouds.clouds.bootstack;
  assert.equal(c.auth.auth_url, `${seed.url}/identity`);
  assert.equal(c.auth.password, seed.adminPassword);
  assert.equal(c.auth.username, 'admin');
  assert.equal(c.region_name, 'RegionOne');
  assert.equal(c.identity_api_version, 3);
});

test('password token: project scope, roles, catalog with identity and image, X-Subject-Token', async () => {
  const res = await seed.call('POST', '/identity/v3/auth/tokens', {
    body: passwordAuth('admin', seed.adminPassword, { project: { name: 'admin', domain: { name: 'Default' } } }),
  });
  assert.equal(res.status, 201);
  const token = res.headers.get('x-subject-token')!;
  assert.match(token, /^[A-Za-z0-9_-]{40,}$/);
  const t = res.body.token;
  assert.deepEqual(t.methods, ['password']);
  assert.equal(t.project.name, 'admin');
  assert.deepEqual(t.roles.map((r: { name: string }) => r.name).sort(), ['admin', 'member', 'reader']);
  // Every enabled service with a catalog entry is listed (others join as they land).
  const types = t.catalog.map((s: { type: string }) => s.type);
  assert.equal(new Set(types).size, types.length);
  assert.ok(types.includes('identity') && types.includes('image'), `catalog: ${types}`);
  const expected = seed.server.services.filter((s) => s.catalog).map((s) => s.catalog!.type).sort();
  assert.deepEqual([...types].sort(), expected);
  const image = t.catalog.find((s: { type: string }) => s.type === 'image');
  assert.deepEqual(image.endpoints.map((e: { interface: string }) => e.interface).sort(), ['admin', 'internal', 'public']);
  assert.equal(image.endpoints[0].url, `${seed.url}/image`);
  assert.equal(image.endpoints[0].region, 'RegionOne');
  // Expiry: 12 h by default.
  const ttl = Date.parse(t.expires_at) - Date.parse(t.issued_at);
  assert.ok(Math.abs(ttl - 12 * 3600_000) < 5000, `ttl ${ttl}`);
  // Stored hashed, never in clear.
  const rows = await seed.server.database.db.selectFrom('identity_tokens').select('token_hash').execute();
  assert.ok(rows.some((r: { token_hash: string }) => r.token_hash === hashToken(token)));
  assert.ok(!rows.some((r: { token_hash: string }) => r.token_hash === token));
});

test('token method, domain scope, unscoped token and nocatalog', async () => {
  const res = await seed.call('POST', '/identity/v3/auth/tokens?nocatalog', {
    body: { auth: { identity: { methods: ['token'], token: { id: admin } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } },
  });
  assert.equal(res.status, 201);
  // The admin token came from a password: the new token says both, as Keystone's does.
  assert.deepEqual([...res.body.token.methods].sort(), ['password', 'token']);
  assert.equal(res.body.token.catalog, undefined);
  // Grant admin on the default domain, then scope to it.
  const roles = (await seed.call('GET', '/identity/v3/roles?name=admin', { token: admin })).body.roles;
  const me = (await seed.call('GET', '/identity/v3/users?name=admin', { token: admin })).body.users[0];
  assert.equal((await seed.call('PUT', `/identity/v3/domains/default/users/${me.id}/roles/${roles[0].id}`, { token: admin })).status, 204);
  const dom = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', seed.adminPassword, { domain: { id: 'default' } }) });
  assert.equal(dom.status, 201);
  assert.equal(dom.body.token.domain.id, 'default');
  assert.equal(dom.body.token.project, undefined);
  const unscoped = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', seed.adminPassword, 'unscoped') });
  assert.equal(unscoped.status, 201);
  assert.equal(unscoped.body.token.catalog, undefined);
  assert.equal(unscoped.body.token.roles, undefined);
});

test('GET/HEAD/DELETE /v3/auth/tokens: validate, check, revoke; a revoked token stops working at once', async () => {
  const victim = await seed.token();
  // Warm the validation cache with the victim.
  assert.equal((await seed.call('GET', '/identity/v3/auth/catalog', { token: victim })).status, 200);
  const get = await seed.call('GET', '/identity/v3/auth/tokens', { token: admin, headers: { 'x-subject-token': victim } });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('x-subject-token'), victim);
  assert.equal(get.body.token.user.name, 'admin');
  const head = await fetch(`${seed.url}/identity/v3/auth/tokens`, { method: 'HEAD', headers: { 'x-auth-token': admin, 'x-subject-token': victim } });
  assert.equal(head.status, 200);
  const del = await seed.call('DELETE', '/identity/v3/auth/tokens', { token: admin, headers: { 'x-subject-token': victim } });
  assert.equal(del.status, 204);
  const after = await seed.call('GET', '/identity/v3/auth/catalog', { token: victim });
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, 401);
  const again = await seed.call('GET', '/identity/v3/auth/tokens', { token: admin, headers: { 'x-subject-token': victim } });
  assert.equal(again.status, 404);
});

test('missing, invalid and expired tokens are 401 in Keystone format', async () => {
  const missing = await seed.call('GET', '/identity/v3/projects');
  assert.equal(missing.status, 401);
  assert.ok(missing.body.error.message);
  assert.match(missing.headers.get('www-authenticate') ?? '', /Keystone uri=/);
  assert.equal((await seed.call('GET', '/identity/v3/projects', { token: 'not-a-token' })).status, 401);
  assert.equal((await seed.call('GET', '/image/v2/images', { token: 'not-a-token' })).status, 401);
  // Issue a token, make it expired in the store before its first validation.
  const t = await seed.token();
  await seed.server.database.db.updateTable('identity_tokens').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('token_hash', '=', hashToken(t)).execute();
  const expired = await seed.call('GET', '/identity/v3/projects', { token: t });
  assert.equal(expired.status, 401);
  assert.match(expired.body.error.message, /expired/);
  const wrongPw = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', 'wrong') });
  assert.equal(wrongPw.status, 401);
  const noUser = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('nobody', 'x') });
  assert.equal(noUser.status, 401);
  assert.equal(noUser.body.error.message, wrongPw.body.error.message);
});

test('projects, users, roles and grants; a member of a project can scope to it and see it', async () => {
  const p = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'demo', description: 'demo project', domain_id: 'default', enabled: true } } });
  assert.equal(p.status, 201);
  assert.equal(p.body.project.domain_id, 'default');
  const dup = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'demo' } } });
  assert.equal(dup.status, 409);
  const list = await seed.call('GET', '/identity/v3/projects', { token: admin });
  assert.deepEqual(list.body.projects.map((x: { name: string }) => x.name).sort(), ['admin', 'demo']);
  assert.equal((await seed.call('GET', '/identity/v3/projects?name=demo', { token: admin })).body.projects.length, 1);
  const u = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'alice', password: 'alice-pw', default_project_id: p.body.project.id, email: 'a@example.org' } } });
  assert.equal(u.status, 201);
  assert.equal(u.body.user.password, undefined);
  // No role yet: cannot scope to the project.
  const denied = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('alice', 'alice-pw', { project: { id: p.body.project.id } }) });
  assert.equal(denied.status, 401);
  const member = (await seed.call('GET', '/identity/v3/roles?name=member', { token: admin })).body.roles[0];
  const path = `/identity/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${member.id}`;
  assert.equal((await seed.call('PUT', path, { token: admin })).status, 204);
  assert.equal((await fetch(seed.url + path, { method: 'HEAD', headers: { 'x-auth-token': admin } })).status, 204);
  const granted = await seed.call('GET', `/identity/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles`, { token: admin });
  assert.deepEqual(granted.body.roles.map((r: { name: string }) => r.name), ['member']);
  const ra = await seed.call('GET', `/identity/v3/role_assignments?user.id=${u.body.user.id}&include_names`, { token: admin });
  assert.equal(ra.body.role_assignments[0].role.name, 'member');
  assert.equal(ra.body.role_assignments[0].scope.project.name, 'demo');
  // Unscoped request with a default project: scoped to it, roles member+reader.
  const tok = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('alice', 'alice-pw') });
  assert.equal(tok.status, 201);
  assert.equal(tok.body.token.project.name, 'demo');
  assert.deepEqual(tok.body.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
  const alice = tok.headers.get('x-subject-token')!;
  assert.equal((await seed.call('GET', `/identity/v3/projects/${p.body.project.id}`, { token: alice })).status, 200);
  const mine = await seed.call('GET', '/identity/v3/auth/projects', { token: alice });
  assert.deepEqual(mine.body.projects.map((x: { name: string }) => x.name), ['demo']);
  // Policy: a member is not an admin (403 in Keystone's format)...
  const forbidden = await seed.call('POST', '/identity/v3/projects', { token: alice, body: { project: { name: 'x' } } });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, 403);
  assert.equal((await seed.call('GET', '/identity/v3/users', { token: alice })).status, 403);
  // ...and revoking the grant takes effect on the next request, cache or not.
  assert.equal((await seed.call('DELETE', path, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/projects/${p.body.project.id}`, { token: alice })).status, 401);
  // Disabling a user ends their tokens; deleting a project cleans its grants.
  const bob = await userWithRole(seed, admin, 'demo', 'bob', 'reader');
  assert.equal((await seed.call('PATCH', `/identity/v3/users/${bob.userId}`, { token: admin, body: { user: { enabled: false } } })).status, 200);
  assert.equal((await seed.call('GET', '/identity/v3/auth/projects', { token: bob.token })).status, 401);
  assert.equal((await seed.call('DELETE', `/identity/v3/projects/${p.body.project.id}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/projects/${p.body.project.id}`, { token: admin })).status, 404);
});

test('bad input: malformed JSON, unknown fields, wrong types, oversized values and bodies', async () => {
  const malformed = await seed.call('POST', '/identity/v3/auth/tokens', { raw: '{"auth": {', headers: { 'content-type': 'application/json' } });
  assert.equal(malformed.status, 400);
  const unknown = await seed.call('POST', '/identity/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'] }, bogus: 1 } } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /body\.auth\.bogus/);
  const wrongType = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'p', enabled: 'yes' } } });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.body.error.message, /body\.project\.enabled/);
  const unknownProject = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'p', colour: 'red' } } });
  assert.equal(unknownProject.status, 400);
  assert.match(unknownProject.body.error.message, /body\.project\.colour/);
  const long = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'x'.repeat(300) } } });
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /body\.user\.name/);
  const huge = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'p', description: 'x'.repeat(2 * 1024 * 1024) } } });
  assert.equal(huge.status, 413);
});

test('neither the admin password nor any token appears in the logs', async () => {
  const joined = seed.logLines.join('');
  assert.ok(joined.includes('/identity/v3/auth/tokens'), 'requests were logged');
  assert.ok(!joined.includes(seed.adminPassword), 'password leaked into the log');
  assert.ok(!joined.includes(admin), 'token leaked into the log');
});

test('services, endpoints and regions are read-only views of the catalog (admin only)', async () => {
  const services = (await seed.call('GET', '/identity/v3/services', { token: admin })).body.services;
  const image = services.find((s: { type: string }) => s.type === 'image');
  assert.equal(image.name, 'glance');
  assert.equal((await seed.call('GET', '/identity/v3/services?name=glance', { token: admin })).body.services.length, 1);
  const eps = (await seed.call('GET', `/identity/v3/endpoints?service_id=${image.id}&interface=public`, { token: admin })).body.endpoints;
  assert.equal(eps.length, 1);
  assert.equal(eps[0].url, `${seed.url}/image`);
  assert.equal((await seed.call('GET', `/identity/v3/endpoints/${eps[0].id}`, { token: admin })).body.endpoint.service_id, image.id);
  assert.deepEqual((await seed.call('GET', '/identity/v3/regions', { token: admin })).body.regions.map((r: { id: string }) => r.id), ['RegionOne']);
  const member = await userWithRole(seed, admin, 'catalog-viewers', 'cathy', 'member');
  assert.equal((await seed.call('GET', '/identity/v3/services', { token: member.token })).status, 403);
});

test('renaming a project shows at once in a cached token validation', async () => {
  const carol = await userWithRole(seed, admin, 'before-rename', 'carol', 'member');
  const validate = () => seed.call('GET', '/identity/v3/auth/tokens?nocatalog', { token: admin, headers: { 'x-subject-token': carol.token } });
  const first = await validate();
  assert.equal(first.status, 200);
  assert.equal(first.body.token.project.name, 'before-rename');
  // The validation is cached now (validation_cache_seconds defaults to 5); the rename must clear it.
  const patched = await seed.call('PATCH', `/identity/v3/projects/${carol.projectId}`, { token: admin, body: { project: { name: 'after-rename' } } });
  assert.equal(patched.status, 200);
  const second = await validate();
  assert.equal(second.status, 200);
  assert.equal(second.body.token.project.name, 'after-rename');
});

test('unknown user attributes are kept as Keystone extras: shown, listed, merged on update, bounded', async () => {
  const p = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'extras' } } });
  // Tempest's test_associate_user_to_project body.
  const made = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'xena', project_id: p.body.project.id, email: 'x@example.org', password: 'xena-pw', tier: { level: 2 } } } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.user.project_id, p.body.project.id);
  assert.deepEqual(made.body.user.tier, { level: 2 });
  assert.equal(made.body.user.email, 'x@example.org');
  assert.equal(made.body.user.password, undefined);
  const id = made.body.user.id as string;
  assert.equal((await seed.call('GET', `/identity/v3/users/${id}`, { token: admin })).body.user.project_id, p.body.project.id);
  const listed = (await seed.call('GET', '/identity/v3/users?name=xena', { token: admin })).body.users[0];
  assert.equal(listed.project_id, p.body.project.id);
  // PATCH: the extras given replace theirs, the others stay; the user's own id sent back is fine.
  const patched = await seed.call('PATCH', `/identity/v3/users/${id}`, { token: admin, body: { user: { id, tier: 'gold', note: null } } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.user.tier, 'gold');
  assert.equal(patched.body.user.note, null);
  assert.equal(patched.body.user.project_id, p.body.project.id);
  // Extras cannot stand in for the id, the links, or a credential.
  for (const [key, value] of [['id', 'f'.repeat(32)], ['links', {}], ['original_password', 'x'], ['password_hash', 'scrypt$1']] as const) {
    const bad = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: `smuggle-${key}`, [key]: value } } });
    assert.equal(bad.status, 400, key);
    assert.match(bad.body.error.message, new RegExp(`body\\.user\\.${key}: cannot be set`));
  }
  const otherId = await seed.call('PATCH', `/identity/v3/users/${id}`, { token: admin, body: { user: { id: 'f'.repeat(32) } } });
  assert.equal(otherId.status, 400);
  assert.equal((await seed.call('GET', `/identity/v3/users/${id}`, { token: admin })).body.user.id, id);
  // Bounds, named: the 65th attribute, and the attribute past 16 KiB of JSON.
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]));
  const tooMany = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'many', ...many } } });
  assert.equal(tooMany.status, 400);
  assert.match(tooMany.body.error.message, /body\.user\.k64: a user has at most 64 extra attributes/);
  const tooBig = await seed.call('PATCH', `/identity/v3/users/${id}`, { token: admin, body: { user: { blob: 'x'.repeat(16 * 1024) } } });
  assert.equal(tooBig.status, 400);
  assert.match(tooBig.body.error.message, /body\.user\.blob: /);
  // Extras are the admin's to set, like the rest of the user.
  const xena = (await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('xena', 'xena-pw') })).headers.get('x-subject-token')!;
  assert.equal((await seed.call('GET', `/identity/v3/users/${id}`, { token: xena })).body.user.tier, 'gold');
  assert.equal((await seed.call('PATCH', `/identity/v3/users/${id}`, { token: xena, body: { user: { tier: 'platinum' } } })).status, 403);
});

test('POST /v3/users/{id}/password: own password only, original checked and counted, tokens ended', async () => {
  const dora = await userWithRole(seed, admin, 'pw-change', 'dora', 'member');
  const eve = await userWithRole(seed, admin, 'pw-change', 'eve', 'member');
  const change = (who: string, token: string | undefined, original: string, password: string) =>
    seed.call('POST', `/identity/v3/users/${who}/password`, { token, body: { user: { original_password: original, password } } });
  assert.equal((await change(dora.userId, undefined, 'dora-pw', 'new')).status, 401);
  // Another user may not, even knowing the original. The admin may (Tempest's admin client
  // calls it so), with the original password as the proof: a wrong one is 401.
  assert.equal((await change(dora.userId, eve.token, 'dora-pw', 'eve-was-here')).status, 403);
  assert.equal((await change(dora.userId, admin, 'not-dora-pw', 'admin-was-here')).status, 401);
  // Same rules as on create (and a new password must not be empty).
  assert.equal((await change(dora.userId, dora.token, 'dora-pw', '')).status, 400);
  assert.equal((await change(dora.userId, dora.token, 'dora-pw', 'x'.repeat(4097))).status, 400);
  const missing = await seed.call('POST', `/identity/v3/users/${dora.userId}/password`, { token: dora.token, body: { user: { password: 'p' } } });
  assert.equal(missing.status, 400);
  assert.match(missing.body.error.message, /original_password/);
  // A wrong original is 401 and changes nothing.
  assert.equal((await change(dora.userId, dora.token, 'wrong', 'dora-pw-2')).status, 401);
  assert.equal((await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('dora', 'dora-pw') })).status, 201);
  // The right one: 204, every token of the user ends (the caller's too, as in Keystone), the new
  // password works and the old one does not.
  assert.equal((await change(dora.userId, dora.token, 'dora-pw', 'dora-pw-2')).status, 204);
  assert.equal((await seed.call('GET', '/identity/v3/auth/projects', { token: dora.token })).status, 401);
  assert.equal((await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('dora', 'dora-pw') })).status, 401);
  const fresh = await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('dora', 'dora-pw-2') });
  assert.equal(fresh.status, 201);
  const doraToken = fresh.headers.get('x-subject-token')!;
  // Wrong originals count as failed logins: after 6 (the default lockout_failure_attempts) the
  // account is locked, for this route and for logins, even with the right password.
  for (let i = 0; i < 6; i++) assert.equal((await change(dora.userId, doraToken, `wrong-${i}`, 'whatever')).status, 401);
  const locked = await change(dora.userId, doraToken, 'dora-pw-2', 'dora-pw-3');
  assert.equal(locked.status, 401);
  assert.match(locked.body.error.message, /locked/);
  assert.equal((await seed.call('POST', '/identity/v3/auth/tokens', { body: passwordAuth('dora', 'dora-pw-2') })).status, 401);
  // eve's tokens were never touched.
  assert.equal((await seed.call('GET', '/identity/v3/auth/projects', { token: eve.token })).status, 200);
});
