// Keystone's OS-EP-FILTER endpoint groups through the HTTP API, as tempest drives them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;
const P = '/identity/v3/OS-EP-FILTER';

async function newService(type: string): Promise<string> {
  const r = await seed.call('POST', '/identity/v3/services', { token: admin, body: { service: { type } } });
  assert.equal(r.status, 201);
  return r.body.service.id as string;
}
async function newEndpoint(service: string, iface: string): Promise<string> {
  const r = await seed.call('POST', '/identity/v3/endpoints', { token: admin, body: { endpoint: { service_id: service, interface: iface, url: 'https://eg.example', enabled: false } } });
  assert.equal(r.status, 201);
  return r.body.endpoint.id as string;
}
async function newProject(name: string): Promise<string> {
  const r = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name } } });
  assert.equal(r.status, 201);
  return r.body.project.id as string;
}

before(async () => {
  seed = await startSeed();
  admin = await seed.token();
});
after(() => seed.stop());

test('an endpoint group is created, listed, shown, checked, updated and deleted', async () => {
  const s1 = await newService('eg-a');
  const s2 = await newService('eg-b');
  const c = await seed.call('POST', `${P}/endpoint_groups`, { token: admin, body: { endpoint_group: { name: 'g1', description: 'd', filters: { service_id: s1 } } } });
  assert.equal(c.status, 201);
  const g = c.body.endpoint_group;
  assert.deepEqual([g.name, g.description, g.filters], ['g1', 'd', { service_id: s1 }]);
  // The listing shows the group exactly as created (tempest compares the dicts).
  const list = await seed.call('GET', `${P}/endpoint_groups`, { token: admin });
  assert.deepEqual(list.body.endpoint_groups.find((x: { id: string }) => x.id === g.id), g);
  assert.deepEqual((await seed.call('GET', `${P}/endpoint_groups/${g.id}`, { token: admin })).body.endpoint_group, g);
  assert.equal((await seed.call('HEAD', `${P}/endpoint_groups/${g.id}`, { token: admin })).status, 200);
  const u = await seed.call('PATCH', `${P}/endpoint_groups/${g.id}`, { token: admin, body: { endpoint_group: { name: 'g2', filters: { service_id: s2, interface: 'admin' } } } });
  assert.equal(u.status, 200);
  assert.deepEqual([u.body.endpoint_group.name, u.body.endpoint_group.description, u.body.endpoint_group.filters], ['g2', 'd', { service_id: s2, interface: 'admin' }]);
  assert.equal((await seed.call('DELETE', `${P}/endpoint_groups/${g.id}`, { token: admin })).status, 204);
  assert.equal((await seed.call('HEAD', `${P}/endpoint_groups/${g.id}`, { token: admin })).status, 404);
  assert.equal((await seed.call('GET', `${P}/endpoint_groups/${g.id}`, { token: admin })).status, 404);
});

test('a bad filter or a missing name is refused naming the field', async () => {
  const bad = await seed.call('POST', `${P}/endpoint_groups`, { token: admin, body: { endpoint_group: { name: 'x', filters: { url: 'y' } } } });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /filters\.url/);
  const noName = await seed.call('POST', `${P}/endpoint_groups`, { token: admin, body: { endpoint_group: { filters: {} } } });
  assert.equal(noName.status, 400);
  assert.match(JSON.stringify(noName.body), /endpoint_group\.name/);
});

test("a group's endpoints match its filters; projects are associated, listed and removed", async () => {
  const s = await newService('eg-c');
  const pub = await newEndpoint(s, 'public');
  const adm = await newEndpoint(s, 'admin');
  const other = await newEndpoint(await newService('eg-d'), 'admin');
  const g = (await seed.call('POST', `${P}/endpoint_groups`, { token: admin, body: { endpoint_group: { name: 'c-admin', filters: { service_id: s, interface: 'admin' } } } })).body.endpoint_group;
  const eps = await seed.call('GET', `${P}/endpoint_groups/${g.id}/endpoints`, { token: admin });
  assert.deepEqual(eps.body.endpoints.map((e: { id: string }) => e.id), [adm]);
  assert.ok(![pub, other].some((id) => eps.body.endpoints.some((e: { id: string }) => e.id === id)));

  const project = await newProject('eg-project');
  const assoc = `${P}/endpoint_groups/${g.id}/projects/${project}`;
  assert.equal((await seed.call('GET', assoc, { token: admin })).status, 404);
  assert.equal((await seed.call('PUT', assoc, { token: admin })).status, 204);
  assert.equal((await seed.call('HEAD', assoc, { token: admin })).status, 200);
  assert.equal((await seed.call('GET', assoc, { token: admin })).body.project.id, project);
  const projects = await seed.call('GET', `${P}/endpoint_groups/${g.id}/projects`, { token: admin });
  assert.deepEqual(projects.body.projects.map((p: { id: string }) => p.id), [project]);
  const ofProject = await seed.call('GET', `${P}/projects/${project}/endpoint_groups`, { token: admin });
  assert.deepEqual(ofProject.body.endpoint_groups.map((x: { id: string }) => x.id), [g.id]);
  // An endpoint given one by one adds to those of the project's groups.
  const pe = `${P}/projects/${project}/endpoints/${pub}`;
  assert.equal((await seed.call('HEAD', pe, { token: admin })).status, 404);
  assert.equal((await seed.call('PUT', pe, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', pe, { token: admin })).status, 204);
  const projEps = await seed.call('GET', `${P}/projects/${project}/endpoints`, { token: admin });
  assert.deepEqual(projEps.body.endpoints.map((e: { id: string }) => e.id).sort(), [adm, pub].sort());
  assert.deepEqual((await seed.call('GET', `${P}/endpoints/${pub}/projects`, { token: admin })).body.projects.map((p: { id: string }) => p.id), [project]);
  assert.equal((await seed.call('DELETE', pe, { token: admin })).status, 204);
  assert.equal((await seed.call('DELETE', pe, { token: admin })).status, 404);

  assert.equal((await seed.call('DELETE', assoc, { token: admin })).status, 204);
  assert.equal((await seed.call('HEAD', assoc, { token: admin })).status, 404);
  // Deleting the group drops its associations with it.
  assert.equal((await seed.call('PUT', assoc, { token: admin })).status, 204);
  assert.equal((await seed.call('DELETE', `${P}/endpoint_groups/${g.id}`, { token: admin })).status, 204);
  assert.deepEqual((await seed.call('GET', `${P}/projects/${project}/endpoint_groups`, { token: admin })).body.endpoint_groups, []);
});

// Who else may (the admin only) is test/rbac-matrix.test.ts's: here, that a token is needed.
test('without a token, endpoint groups are not shown', async () => {
  assert.equal((await seed.call('GET', `${P}/endpoint_groups`)).status, 401);
});
