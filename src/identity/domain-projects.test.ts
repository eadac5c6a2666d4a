// Domains through the project API (Keystone's is_domain projects), as tempest's
// test_create_is_domain_project and its clean-up use them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;

before(async () => {
  seed = await startSeed();
  admin = await seed.token();
});
after(() => seed.stop());

test('a project created with is_domain true is a domain, listed, shown, updated and deleted as one', async () => {
  const c = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'dp-one', domain_id: null, is_domain: true, description: 'd' } } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.project.id as string;
  assert.equal(c.body.project.is_domain, true);
  assert.equal(c.body.project.domain_id, null);
  const asDomains = await seed.call('GET', '/identity/v3/domains', { token: admin });
  assert.ok(asDomains.body.domains.some((d: { id: string }) => d.id === id));
  const asProjects = await seed.call('GET', '/identity/v3/projects?is_domain=true', { token: admin });
  const ids = asProjects.body.projects.map((p: { id: string }) => p.id);
  assert.ok(ids.includes(id) && ids.includes('default'));
  // Without the filter, domains are not among the projects.
  const plain = await seed.call('GET', '/identity/v3/projects', { token: admin });
  assert.ok(!plain.body.projects.some((p: { id: string }) => p.id === id));
  assert.equal((await seed.call('GET', `/identity/v3/projects/${id}`, { token: admin })).body.project.is_domain, true);
  // An enabled domain is not deleted, through either route.
  const refused = await seed.call('DELETE', `/identity/v3/projects/${id}`, { token: admin });
  assert.equal(refused.status, 403);
  assert.match(JSON.stringify(refused.body), /enabled/);
  const off = await seed.call('PATCH', `/identity/v3/projects/${id}`, { token: admin, body: { project: { enabled: false } } });
  assert.equal(off.status, 200);
  assert.equal(off.body.project.enabled, false);
  assert.equal((await seed.call('GET', `/identity/v3/domains/${id}`, { token: admin })).body.domain.enabled, false);
  assert.equal((await seed.call('DELETE', `/identity/v3/projects/${id}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/domains/${id}`, { token: admin })).status, 404);
});

test('a project that is a domain takes no parent; the default domain is not disabled through the project route', async () => {
  const r = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'dp-two', is_domain: true, domain_id: 'default' } } });
  assert.equal(r.status, 400);
  assert.match(JSON.stringify(r.body), /body\.project\.domain_id/);
  assert.equal((await seed.call('PATCH', '/identity/v3/projects/default', { token: admin, body: { project: { enabled: false } } })).status, 403);
});
