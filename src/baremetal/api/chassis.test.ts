// Chassis and conductors through the HTTP API: chassis CRUD, paging and fields, a node's
// chassis_uuid (create, patch, filter, the chassis's node list, delete refused while it has
// nodes), the operator-only rules, and /conductors with the node's conductor field from 1.49.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { faultMessage, startBaremetal, type Harness, type Loose } from '../../../test/baremetal-helpers.js';

let h: Harness;
before(async () => {
  h = await startBaremetal({ background: false });
});
after(async () => {
  await h.stop();
});

const member = { 'x-auth-token': 'member-token' };

test('chassis: create (given UUID, unicode description), show, list, detail, patch, delete', async () => {
  const uuid = randomUUID();
  const created = await h.call('POST', '/baremetal/v1/chassis', { uuid, description: 'В Україні ♡ OpenStack!', extra: { rack: 'r1' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.uuid, uuid);
  assert.equal(created.body.description, 'В Україні ♡ OpenStack!');
  assert.deepEqual(created.body.extra, { rack: 'r1' });
  assert.equal(created.body.updated_at, null);
  assert.ok(created.body.links[0].href.endsWith(`/baremetal/v1/chassis/${uuid}`));
  assert.ok(created.body.nodes[0].href.endsWith(`/baremetal/v1/chassis/${uuid}/nodes`));
  assert.ok(created.headers.get('location')?.endsWith(`/v1/chassis/${uuid}`));

  const shown = await h.call('GET', `/baremetal/v1/chassis/${uuid}`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, created.body);

  const list = await h.call('GET', '/baremetal/v1/chassis');
  const item = list.body.chassis.find((c: Loose) => c.uuid === uuid);
  assert.deepEqual(Object.keys(item).sort(), ['description', 'links', 'uuid']);
  const detail = await h.call('GET', '/baremetal/v1/chassis/detail');
  assert.deepEqual(detail.body.chassis.find((c: Loose) => c.uuid === uuid).extra, { rack: 'r1' });
  const fields = await h.call('GET', `/baremetal/v1/chassis/${uuid}?fields=extra`);
  assert.deepEqual(Object.keys(fields.body).sort(), ['extra', 'links']);
  assert.equal((await h.call('GET', '/baremetal/v1/chassis?fields=bogus')).status, 400);
  assert.equal((await h.call('GET', '/baremetal/v1/chassis/detail?fields=uuid')).status, 400);

  const patched = await h.call('PATCH', `/baremetal/v1/chassis/${uuid}`, [
    { op: 'replace', path: '/description', value: 'new' },
    { op: 'add', path: '/extra/row', value: 3 },
  ]);
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.description, 'new');
  assert.deepEqual(patched.body.extra, { rack: 'r1', row: 3 });
  assert.ok(patched.body.updated_at);
  assert.equal((await h.call('GET', `/baremetal/v1/chassis/${uuid}`)).body.description, 'new');
  const internal = await h.call('PATCH', `/baremetal/v1/chassis/${uuid}`, [{ op: 'replace', path: '/uuid', value: randomUUID() }]);
  assert.equal(internal.status, 400);

  assert.equal((await h.call('POST', '/baremetal/v1/chassis', { uuid })).status, 409);
  assert.equal((await h.call('POST', '/baremetal/v1/chassis', { description: 'x'.repeat(256) })).status, 400);
  assert.equal((await h.call('POST', '/baremetal/v1/chassis', { uuid: 'not-a-uuid' })).status, 400);

  assert.equal((await h.call('DELETE', `/baremetal/v1/chassis/${uuid}`)).status, 204);
  const gone = await h.call('GET', `/baremetal/v1/chassis/${uuid}`);
  assert.equal(gone.status, 404);
  assert.match(faultMessage(gone.body), new RegExp(uuid));
  assert.equal((await h.call('GET', '/baremetal/v1/chassis/not-a-uuid')).status, 400);
});

test('chassis list pages with limit, marker and sort', async () => {
  const made: string[] = [];
  for (const d of ['c', 'a', 'b']) made.push((await h.call('POST', '/baremetal/v1/chassis', { description: `page-${d}` })).body.uuid as string);
  const sorted = await h.call('GET', '/baremetal/v1/chassis?sort_key=description&sort_dir=desc&limit=2');
  const descs = sorted.body.chassis.map((c: Loose) => c.description);
  assert.deepEqual(descs, ['page-c', 'page-b']);
  assert.match(sorted.body.next, /\/v1\/chassis\?.*marker=/);
  const next = await h.call('GET', sorted.body.next.slice(sorted.body.next.indexOf('/baremetal/')));
  assert.deepEqual(next.body.chassis.map((c: Loose) => c.description), ['page-a']);
  assert.equal((await h.call('GET', '/baremetal/v1/chassis?sort_key=extra')).status, 400);
  assert.equal((await h.call('GET', `/baremetal/v1/chassis?marker=${randomUUID()}`)).status, 404);
  for (const id of made) assert.equal((await h.call('DELETE', `/baremetal/v1/chassis/${id}`)).status, 204);
});

test("a node's chassis: create, filter, the chassis's nodes, patch, and delete refused while in use", async () => {
  const chassis = (await h.call('POST', '/baremetal/v1/chassis', { description: 'rack' })).body.uuid as string;
  const missing = randomUUID();
  const bad = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', chassis_uuid: missing });
  assert.equal(bad.status, 400);
  assert.match(faultMessage(bad.body), new RegExp(`Chassis ${missing} could not be found`));

  const node = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', chassis_uuid: chassis });
  assert.equal(node.status, 201, JSON.stringify(node.body));
  assert.equal(node.body.chassis_uuid, chassis);
  const other = (await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware' })).body.uuid as string;

  const filtered = await h.call('GET', `/baremetal/v1/nodes?chassis_uuid=${chassis}`);
  assert.deepEqual(filtered.body.nodes.map((n: Loose) => n.uuid), [node.body.uuid]);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes?chassis_uuid=${missing}`)).status, 404);
  const ofChassis = await h.call('GET', `/baremetal/v1/chassis/${chassis}/nodes`);
  assert.deepEqual(ofChassis.body.nodes.map((n: Loose) => n.uuid), [node.body.uuid]);
  const ofChassisDetail = await h.call('GET', `/baremetal/v1/chassis/${chassis}/nodes/detail`);
  assert.equal(ofChassisDetail.body.nodes[0].chassis_uuid, chassis);
  assert.equal((await h.call('GET', `/baremetal/v1/chassis/${missing}/nodes`)).status, 404);

  const refused = await h.call('DELETE', `/baremetal/v1/chassis/${chassis}`);
  assert.equal(refused.status, 400);
  assert.match(faultMessage(refused.body), /contains nodes/);

  const moved = await h.call('PATCH', `/baremetal/v1/nodes/${other}`, [{ op: 'add', path: '/chassis_uuid', value: chassis }]);
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.chassis_uuid, chassis);
  const badPatch = await h.call('PATCH', `/baremetal/v1/nodes/${other}`, [{ op: 'replace', path: '/chassis_uuid', value: missing }]);
  assert.equal(badPatch.status, 400);
  for (const id of [node.body.uuid as string, other]) {
    const out = await h.call('PATCH', `/baremetal/v1/nodes/${id}`, [{ op: 'remove', path: '/chassis_uuid' }]);
    assert.equal(out.body.chassis_uuid, null);
  }
  assert.equal((await h.call('DELETE', `/baremetal/v1/chassis/${chassis}`)).status, 204);
});

test('chassis and conductors are the operator’s: a project member is refused', async () => {
  const chassis = (await h.call('POST', '/baremetal/v1/chassis', {})).body.uuid as string;
  assert.equal((await h.call('POST', '/baremetal/v1/chassis', {}, member)).status, 403);
  assert.equal((await h.call('GET', '/baremetal/v1/chassis', undefined, member)).status, 403);
  assert.equal((await h.call('GET', `/baremetal/v1/chassis/${chassis}`, undefined, member)).status, 403);
  assert.equal((await h.call('PATCH', `/baremetal/v1/chassis/${chassis}`, [{ op: 'add', path: '/description', value: 'x' }], member)).status, 403);
  assert.equal((await h.call('DELETE', `/baremetal/v1/chassis/${chassis}`, undefined, member)).status, 403);
  assert.equal((await h.call('GET', '/baremetal/v1/conductors', undefined, member)).status, 403);
  const node = (await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', owner: 'p1' })).body.uuid as string;
  const patch = await h.call('PATCH', `/baremetal/v1/nodes/${node}`, [{ op: 'add', path: '/chassis_uuid', value: chassis }], member);
  assert.equal(patch.status, 403);
  assert.match(faultMessage(patch.body), /baremetal:node:update:chassis_uuid/);
});

test('conductors: list, detail, fields, show; the node conductor field from 1.49', async () => {
  const host = h.service.conductor.options.host;
  const list = await h.call('GET', '/baremetal/v1/conductors');
  assert.equal(list.status, 200);
  assert.equal(list.body.conductors.length, 1);
  const c = list.body.conductors[0];
  assert.deepEqual(Object.keys(c).sort(), ['alive', 'conductor_group', 'hostname', 'links']);
  assert.equal(c.hostname, host);
  assert.equal(c.alive, true);
  const detail = (await h.call('GET', '/baremetal/v1/conductors/detail')).body.conductors[0];
  assert.ok(detail.drivers.includes('fake-hardware'));
  assert.ok(detail.created_at);
  assert.deepEqual(Object.keys((await h.call('GET', '/baremetal/v1/conductors?fields=hostname')).body.conductors[0]).sort(), ['hostname', 'links']);
  const shown = await h.call('GET', `/baremetal/v1/conductors/${encodeURIComponent(host)}`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, detail);
  assert.equal((await h.call('GET', '/baremetal/v1/conductors/no-such-host')).status, 404);
  const old = await h.call('GET', '/baremetal/v1/conductors', undefined, { 'x-openstack-ironic-api-version': '1.48' });
  assert.equal(old.status, 404);

  const node = (await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware' })).body.uuid as string;
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${node}`)).body.conductor, host);
  const before49 = await h.call('GET', `/baremetal/v1/nodes/${node}`, undefined, { 'x-openstack-ironic-api-version': '1.48' });
  assert.equal('conductor' in before49.body, false);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${node}?fields=conductor`, undefined, { 'x-openstack-ironic-api-version': '1.48' })).status, 406);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes?fields=conductor`, undefined, { 'x-openstack-ironic-api-version': '1.48' })).status, 406);
});

test('the /v1 document links chassis and conductors', async () => {
  const v1 = (await h.call('GET', '/baremetal/v1/')).body;
  assert.ok(v1.chassis[0].href.endsWith('/baremetal/v1/chassis/'));
  assert.ok(v1.conductors[0].href.endsWith('/baremetal/v1/conductors/'));
});
