// Regions, services and endpoints through HTTP on a real seed (identity and image), and the token
// catalog built from them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;
const V3 = '/identity/v3';

before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, services: ['identity', 'images'] });
  admin = await seed.token();
});
after(async () => seed?.stop());

const call = (method: string, path: string, body?: unknown, token: string | null = admin) => seed.call(method, V3 + path, { token, body });
const catalogOf = async () => (await call('POST', '/auth/tokens', {
  auth: {
    identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: seed.adminPassword } } },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
}, null)).body.token.catalog as Array<{ id: string; type: string; endpoints: Array<{ id: string; url: string; interface: string; region_id: string }> }>;

test("the server's own services are stored: listed, with their endpoints at the public URL, in the token catalog", async () => {
  const services = (await call('GET', '/services')).body.services as Array<{ id: string; type: string; name: string; enabled: boolean }>;
  assert.deepEqual(services.map((s) => s.type).sort(), ['identity', 'image']);
  const identity = services.find((s) => s.type === 'identity')!;
  assert.equal(identity.name, 'keystone');
  assert.equal(identity.enabled, true);
  const eps = (await call('GET', `/endpoints?service_id=${identity.id}`)).body.endpoints as Array<{ url: string; interface: string; region: string; enabled: boolean }>;
  assert.deepEqual(eps.map((e) => e.interface).sort(), ['admin', 'internal', 'public']);
  for (const e of eps) {
    assert.equal(e.url, `${seed.url}/identity`);
    assert.equal(e.region, 'RegionOne');
  }
  const cat = await catalogOf();
  assert.equal(cat.find((s) => s.type === 'identity')!.id, identity.id);
  assert.equal((await call('GET', '/regions/RegionOne')).status, 200);
});

test('regions: ids given or generated, parents, parent filter, a loop refused, delete refused while children exist', async () => {
  const parent = await call('POST', '/regions', { region: { description: 'p' } });
  assert.equal(parent.status, 201);
  assert.match(parent.body.region.id, /^[0-9a-f]{32}$/);
  const pid = parent.body.region.id as string;
  const child = await call('PUT', '/regions/rbac-child-1', { region: { description: 'c', parent_region_id: pid } });
  assert.equal(child.status, 201);
  assert.equal(child.body.region.parent_region_id, pid);
  assert.equal((await call('PUT', '/regions/rbac-child-1', { region: {} })).status, 409);
  assert.equal((await call('POST', '/regions', { region: { parent_region_id: 'nope' } })).status, 404);
  const listed = (await call('GET', `/regions?parent_region_id=${pid}`)).body.regions;
  assert.deepEqual(listed, [child.body.region]);
  const loop = await call('PATCH', `/regions/${pid}`, { region: { parent_region_id: 'rbac-child-1' } });
  assert.equal(loop.status, 400);
  assert.match(loop.body.error.message, /parent_region_id/);
  const refused = await call('DELETE', `/regions/${pid}`);
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /rbac-child-1/);
  const moved = await call('PATCH', '/regions/rbac-child-1', { region: { description: 'd2', parent_region_id: null, zone: 'z' } });
  assert.equal(moved.body.region.description, 'd2');
  assert.equal(moved.body.region.parent_region_id, null);
  assert.equal(moved.body.region.zone, 'z');
  assert.equal((await call('DELETE', `/regions/${pid}`)).status, 204);
  assert.equal((await call('DELETE', '/regions/rbac-child-1')).status, 204);
  assert.equal((await call('GET', '/regions/rbac-child-1')).status, 404);
  const long = await call('POST', '/regions', { region: { id: 'r'.repeat(256) } });
  assert.equal(long.status, 400);
});

test('services and endpoints an admin creates appear in new tokens; disabling and deleting removes them', async () => {
  const svc = await call('POST', '/services', { service: { type: 'metric', name: 'gnocchi', description: 'd', owner: 'ops' } });
  assert.equal(svc.status, 201);
  assert.equal(svc.body.service.owner, 'ops');
  const sid = svc.body.service.id as string;
  const bare = await call('POST', '/services', { service: { type: 'x-bare' } });
  assert.equal(bare.body.service.description, undefined);
  assert.equal((await call('DELETE', `/services/${bare.body.service.id}`)).status, 204);

  // The legacy `region` attribute creates the region; region_id must name one.
  const ep = await call('POST', '/endpoints', { endpoint: { service_id: sid, interface: 'public', url: 'https://metric.example:8041/$(project_id)s', region: 'rbac-r2' } });
  assert.equal(ep.status, 201);
  assert.equal(ep.body.endpoint.region, 'rbac-r2');
  assert.equal((await call('GET', '/regions/rbac-r2')).status, 200);
  const noRegion = await call('POST', '/endpoints', { endpoint: { service_id: sid, interface: 'public', url: 'https://m', region_id: 'missing' } });
  assert.equal(noRegion.status, 400);
  assert.match(noRegion.body.error.message, /region_id/);
  for (const enabled of ['False', 'True']) {
    assert.equal((await call('POST', '/endpoints', { endpoint: { service_id: sid, interface: 'public', url: 'https://m', enabled } })).status, 400);
  }
  assert.equal((await call('POST', '/endpoints', { endpoint: { service_id: 'nope', interface: 'public', url: 'https://m' } })).status, 400);
  assert.equal((await call('POST', '/endpoints', { endpoint: { service_id: sid, interface: 'sideways', url: 'https://m' } })).status, 400);

  // The project is filled into the URL, as Keystone's templates are.
  const projectId = (await call('GET', '/projects?name=admin')).body.projects[0].id as string;
  const metric = (await catalogOf()).find((s) => s.type === 'metric')!;
  assert.equal(metric.endpoints[0]!.url, `https://metric.example:8041/${projectId}`);
  assert.equal((await call('GET', `/endpoints?service_id=${sid}&interface=internal`)).body.endpoints.length, 0);
  assert.equal((await call('GET', '/endpoints?region_id=rbac-r2')).body.endpoints.length, 1);

  // A region in use by an endpoint is not deleted.
  assert.equal((await call('DELETE', '/regions/rbac-r2')).status, 403);
  const upd = await call('PATCH', `/endpoints/${ep.body.endpoint.id}`, { endpoint: { enabled: false, interface: 'internal', region: 'rbac-r3' } });
  assert.equal(upd.body.endpoint.enabled, false);
  assert.equal(upd.body.endpoint.region_id, 'rbac-r3');
  assert.equal((await catalogOf()).find((s) => s.type === 'metric'), undefined);
  await call('PATCH', `/endpoints/${ep.body.endpoint.id}`, { endpoint: { enabled: true } });
  assert.ok((await catalogOf()).find((s) => s.type === 'metric'));
  assert.equal((await call('PATCH', `/services/${sid}`, { service: { enabled: false } })).body.service.enabled, false);
  assert.equal((await catalogOf()).find((s) => s.type === 'metric'), undefined);

  // Deleting the service deletes its endpoints.
  assert.equal((await call('DELETE', `/services/${sid}`)).status, 204);
  assert.equal((await call('GET', `/endpoints/${ep.body.endpoint.id}`)).status, 404);
  assert.equal((await call('DELETE', '/regions/rbac-r2')).status, 204);
  assert.equal((await call('DELETE', '/regions/rbac-r3')).status, 204);
});

test("a built-in endpoint's URL set by an admin is kept; the service deleted stays deleted after a restart", async () => {
  const image = ((await call('GET', '/services?type=image')).body.services as Array<{ id: string }>)[0]!;
  const eps = (await call('GET', `/endpoints?service_id=${image.id}&interface=admin`)).body.endpoints as Array<{ id: string }>;
  const set = await call('PATCH', `/endpoints/${eps[0]!.id}`, { endpoint: { url: 'https://image-admin.example' } });
  assert.equal(set.body.endpoint.url, 'https://image-admin.example');
  const inToken = (await catalogOf()).find((s) => s.type === 'image')!.endpoints.find((e) => e.interface === 'admin')!;
  assert.equal(inToken.url, 'https://image-admin.example');
  assert.equal((await call('DELETE', `/services/${image.id}`)).status, 204);
  assert.equal((await catalogOf()).find((s) => s.type === 'image'), undefined);

  const again = await startSeed({ log: { level: 'warn' }, services: ['identity', 'images'] }, { stateDir: seed.stateDir });
  try {
    const tok = await again.token('admin', seed.adminPassword);
    const types = ((await again.call('GET', `${V3}/services`, { token: tok })).body.services as Array<{ type: string }>).map((s) => s.type);
    assert.deepEqual(types, ['identity']);
  } finally {
    await again.stop();
  }
});

test("built-in endpoints follow the public URL, and a service run for the first time is stored then (Heat's with the project)", async () => {
  // Another port: another public URL than the first start's.
  const again = await startSeed(
    { log: { level: 'warn' }, services: ['identity', 'images', 'orchestration'], orchestration: { compute_provider: 'fake' } },
    { stateDir: seed.stateDir },
  );
  assert.notEqual(again.url, seed.url);
  try {
    const tok = await again.token('admin', seed.adminPassword);
    const get = async (path: string) => (await again.call('GET', V3 + path, { token: tok })).body;
    const identity = (await get('/services?type=identity')).services[0];
    for (const e of (await get(`/endpoints?service_id=${identity.id}`)).endpoints) assert.equal(e.url, `${again.url}/identity`);
    const heat = (await get('/services?type=orchestration')).services[0];
    assert.equal(heat.name, 'heat');
    const info = await again.call('GET', `${V3}/auth/tokens`, { token: tok, headers: { 'x-subject-token': tok } });
    const project = info.body.token.project.id as string;
    const inToken = (info.body.token.catalog as Array<{ type: string; endpoints: Array<{ url: string }> }>).find((s) => s.type === 'orchestration')!;
    assert.equal(inToken.endpoints[0]!.url, `${again.url}/orchestration/v1/${project}`);
  } finally {
    await again.stop();
  }
});

test('writes are the admin\'s; reading regions takes any token, an unscoped one too', async () => {
  // An unscoped token of a user without roles: enough to read regions (Keystone's "" rule), nothing else.
  await call('POST', '/users', { user: { name: 'cat-plain', password: 'cat-plain-pw' } });
  const auth = await call('POST', '/auth/tokens', {
    auth: { identity: { methods: ['password'], password: { user: { name: 'cat-plain', domain: { id: 'default' }, password: 'cat-plain-pw' } } } },
  }, null);
  assert.equal(auth.status, 201);
  const tok = auth.headers.get('x-subject-token')!;
  assert.equal((await call('GET', '/regions', undefined, tok)).status, 200);
  assert.equal((await call('POST', '/regions', { region: {} }, tok)).status, 403);
  assert.equal((await call('POST', '/services', { service: { type: 't' } }, tok)).status, 403);
  assert.equal((await call('GET', '/endpoints', undefined, tok)).status, 403);
  assert.equal((await call('GET', '/regions', undefined, null)).status, 401);
});
