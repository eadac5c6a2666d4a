// Domain update and delete through HTTP on a real seed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;
const V3 = '/identity/v3';

before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, services: ['identity'] });
  admin = await seed.token();
});
after(async () => seed?.stop());

const call = (method: string, path: string, body?: unknown, token: string | null = admin) => seed.call(method, V3 + path, { token, body });

test('PATCH changes name, description and enabled; a taken name is a conflict; limits are named', async () => {
  const d = (await call('POST', '/domains', { domain: { name: 'dom-a', description: 'a' } })).body.domain;
  await call('POST', '/domains', { domain: { name: 'dom-taken' } });
  const upd = await call('PATCH', `/domains/${d.id}`, { domain: { name: 'dom-a2', description: 'b', enabled: false } });
  assert.equal(upd.status, 200);
  assert.deepEqual([upd.body.domain.name, upd.body.domain.description, upd.body.domain.enabled], ['dom-a2', 'b', false]);
  assert.equal((await call('GET', `/domains/${d.id}`)).body.domain.name, 'dom-a2');
  assert.equal((await call('PATCH', `/domains/${d.id}`, { domain: { name: 'dom-taken' } })).status, 409);
  const long = await call('PATCH', `/domains/${d.id}`, { domain: { name: 'n'.repeat(65) } });
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /name/);
  assert.equal((await call('PATCH', '/domains/nope', { domain: { description: 'x' } })).status, 404);
});

test('the default domain can be neither disabled nor deleted', async () => {
  const off = await call('PATCH', '/domains/default', { domain: { enabled: false } });
  assert.equal(off.status, 403);
  assert.match(off.body.error.message, /default domain/);
  assert.equal((await call('PATCH', '/domains/default', { domain: { description: 'the default' } })).status, 200);
  await call('PATCH', '/domains/default', { domain: { description: '' } });
  assert.equal((await call('DELETE', '/domains/default')).status, 403);
});

test('an enabled domain is not deleted; a disabled one goes with its projects and users, whose tokens end', async () => {
  const d = (await call('POST', '/domains', { domain: { name: 'dom-gone' } })).body.domain;
  const p = (await call('POST', '/projects', { project: { name: 'p-gone', domain_id: d.id } })).body.project;
  const u = (await call('POST', '/users', { user: { name: 'u-gone', domain_id: d.id, password: 'u-gone-pw' } })).body.user;
  const auth = await call('POST', '/auth/tokens', {
    auth: { identity: { methods: ['password'], password: { user: { id: u.id, password: 'u-gone-pw' } } } },
  }, null);
  assert.equal(auth.status, 201);
  const userToken = auth.headers.get('x-subject-token')!;
  assert.equal((await seed.call('GET', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': userToken } })).status, 200);

  const refused = await call('DELETE', `/domains/${d.id}`);
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /disable it/);
  await call('PATCH', `/domains/${d.id}`, { domain: { enabled: false } });
  // Disabling ends the tokens of the domain's users.
  assert.equal((await seed.call('GET', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': userToken } })).status, 404);
  assert.equal((await call('DELETE', `/domains/${d.id}`)).status, 204);
  for (const path of [`/domains/${d.id}`, `/projects/${p.id}`, `/users/${u.id}`]) assert.equal((await call('GET', path)).status, 404, path);
  assert.equal((await call('DELETE', `/domains/${d.id}`)).status, 404);
});

test('deleting a domain or a project leaves no assignment behind: inherited ones and domain roles go too', async () => {
  const d = (await call('POST', '/domains', { domain: { name: 'dom-heirs' } })).body.domain;
  const p = (await call('POST', '/projects', { project: { name: 'p-heirs', domain_id: d.id } })).body.project;
  const outsider = (await call('POST', '/users', { user: { name: 'heirs-outsider' } })).body.user;
  const reader = (await call('GET', '/roles?name=reader')).body.roles[0].id;
  const local = (await call('POST', '/roles', { role: { name: 'heirs-local', domain_id: d.id } })).body.role;
  for (const path of [
    `/OS-INHERIT/domains/${d.id}/users/${outsider.id}/roles/${reader}/inherited_to_projects`,
    `/OS-INHERIT/projects/${p.id}/users/${outsider.id}/roles/${reader}/inherited_to_projects`,
    `/domains/${d.id}/users/${outsider.id}/roles/${local.id}`,
  ]) assert.equal((await call('PUT', path)).status, 204, path);
  const assignments = async () => (await call('GET', `/role_assignments?user.id=${outsider.id}`)).body.role_assignments.length;
  assert.equal(await assignments(), 3);
  assert.equal((await call('DELETE', `/projects/${p.id}`)).status, 204);
  assert.equal(await assignments(), 2, 'the inherited assignment on the project went with it');
  await call('PATCH', `/domains/${d.id}`, { domain: { enabled: false } });
  assert.equal((await call('DELETE', `/domains/${d.id}`)).status, 204);
  assert.equal(await assignments(), 0, 'and those on the domain with the domain');
  assert.equal((await call('GET', `/roles/${local.id}`)).status, 404, 'its domain-specific role is gone');
});

test('domain configuration is reported absent; writes are the admin\'s', async () => {
  const cfg = await call('GET', '/domains/default/config');
  assert.equal(cfg.status, 404);
  assert.match(cfg.body.error.message, /not supported/);
  await call('POST', '/users', { user: { name: 'dom-plain', password: 'dom-plain-pw' } });
  const auth = await call('POST', '/auth/tokens', {
    auth: { identity: { methods: ['password'], password: { user: { name: 'dom-plain', domain: { id: 'default' }, password: 'dom-plain-pw' } } } },
  }, null);
  const tok = auth.headers.get('x-subject-token')!;
  assert.equal((await call('PATCH', '/domains/default', { domain: { description: 'x' } }, tok)).status, 403);
  assert.equal((await call('DELETE', '/domains/default', undefined, tok)).status, 403);
  assert.equal((await call('PATCH', '/domains/default', { domain: { description: 'x' } }, null)).status, 401);
});
