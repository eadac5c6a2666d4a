// Ironic conformance through the HTTP API: paths without /v1, fields gated by microversion (hidden
// from views, 406 when named), the traits routes' old-version answers and long traits, port
// identifiers and missing nodes, protected nodes, allocations answered "allocating", drivers' RAID
// properties and the fake boot device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, faultMessage, waitForNode, type Harness } from '../../../test/baremetal-helpers.js';

let h: Harness;
before(async () => {
  h = await startBaremetal();
});
after(async () => {
  await h.stop();
});

const v = (minor: number) => ({ 'x-openstack-ironic-api-version': `1.${minor}` });
const BASE = '/baremetal/v1';

/** An available fake node (1.9 makes new nodes available), made with the fields 1.78 allows. */
async function availableNode(name: string): Promise<string> {
  const n = await h.call('POST', `${BASE}/nodes`, { name, driver: 'fake-hardware' }, v(9));
  assert.equal(n.status, 201, JSON.stringify(n.body));
  return n.body.uuid as string;
}

test('a path without a version goes to v1, as Ironic\'s root routes it', async () => {
  const uuid = await availableNode('nover-0');
  const list = await h.call('GET', '/baremetal/nodes/detail');
  assert.equal(list.status, 200);
  assert.ok(list.body.nodes.some((n: { uuid: string }) => n.uuid === uuid));
  assert.equal((await h.call('GET', `/baremetal/nodes/${uuid}`)).body.uuid, uuid);
  assert.equal((await h.call('GET', '/baremetal/ports/detail')).status, 200);
  // The root and the version document stay where they are; an unknown first segment is still a 404.
  assert.equal((await h.call('GET', '/baremetal/')).status, 200);
  assert.equal((await h.call('GET', '/baremetal/v1')).status, 200);
  assert.equal((await h.call('GET', '/baremetal/nothing')).status, 404);
});

test('node fields newer than the request\'s version are hidden, and naming one is a 406', async () => {
  const uuid = await availableNode('gate-0');
  const old = (await h.call('GET', `${BASE}/nodes/${uuid}`, undefined, v(1))).body;
  for (const f of ['traits', 'description', 'resource_class', 'fault', 'protected', 'owner', 'name', 'raid_config', 'boot_interface']) {
    assert.equal(f in old, false, `${f} is hidden at 1.1`);
  }
  // Before 1.2 "available" was shown as no state, in the node and in its states.
  assert.equal(old.provision_state, null);
  assert.equal((await h.call('GET', `${BASE}/nodes/${uuid}/states`, undefined, v(1))).body.provision_state, null);
  assert.equal('raid_config' in (await h.call('GET', `${BASE}/nodes/${uuid}/states`, undefined, v(1))).body, false);
  const now = (await h.call('GET', `${BASE}/nodes/${uuid}`)).body;
  assert.equal(now.provision_state, 'available');
  for (const f of ['traits', 'description', 'resource_class', 'protected']) assert.ok(f in now, `${f} is shown at 1.78`);
  assert.equal('shard' in now, false, 'a field newer than 1.78 is never shown');

  const create = await h.call('POST', `${BASE}/nodes`, { driver: 'fake-hardware', resource_class: 'rc' }, v(20));
  assert.equal(create.status, 406);
  assert.match(faultMessage(create.body), /resource_class.*1\.21/);
  assert.equal((await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'add', path: '/resource_class', value: 'x' }], v(20))).status, 406);
  assert.equal((await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'add', path: '/resource_class', value: 'x' }], v(21))).status, 200);
  const tooLong = await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'add', path: '/resource_class', value: 'r'.repeat(81) }]);
  assert.equal(tooLong.status, 400);
  assert.match(faultMessage(tooLong.body), /resource_class.*at most 80/);
  assert.equal((await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'replace', path: '/protected', value: true }], v(47))).status, 406);
  assert.equal((await h.call('GET', `${BASE}/nodes?resource_class=x`, undefined, v(20))).status, 406);
  assert.equal((await h.call('GET', `${BASE}/nodes/detail?resource_class=x`, undefined, v(20))).status, 406);
  assert.equal((await h.call('GET', `${BASE}/nodes?fields=traits`, undefined, v(36))).status, 406);
  assert.equal((await h.call('GET', `${BASE}/nodes/${uuid}?fields=description`, undefined, v(50))).status, 406);
  assert.equal((await h.call('GET', `${BASE}/nodes?fields=uuid,traits`, undefined, v(37))).status, 200);
});

test('traits: before 1.37 listing is 406, setting 405, removing 404; a trait of 255 characters is taken, 256 is a 400', async () => {
  const uuid = await availableNode('traits-0');
  assert.equal((await h.call('GET', `${BASE}/nodes/${uuid}/traits`, undefined, v(36))).status, 406);
  assert.equal((await h.call('PUT', `${BASE}/nodes/${uuid}/traits/CUSTOM_A`, undefined, v(36))).status, 405);
  assert.equal((await h.call('PUT', `${BASE}/nodes/${uuid}/traits`, { traits: ['CUSTOM_A'] }, v(36))).status, 405);
  assert.equal((await h.call('DELETE', `${BASE}/nodes/${uuid}/traits/CUSTOM_A`, undefined, v(36))).status, 404);

  const longest = `CUSTOM_${'L'.repeat(248)}`;
  assert.equal((await h.call('PUT', `${BASE}/nodes/${uuid}/traits/${longest}`)).status, 204);
  assert.deepEqual((await h.call('GET', `${BASE}/nodes/${uuid}/traits`)).body.traits, [longest]);
  const tooLong = await h.call('PUT', `${BASE}/nodes/${uuid}/traits/${longest}X`);
  assert.equal(tooLong.status, 400);
  assert.match(faultMessage(tooLong.body), /at most 255 characters/);
  assert.equal((await h.call('DELETE', `${BASE}/nodes/${uuid}/traits/${longest}`)).status, 204);
  assert.deepEqual((await h.call('GET', `${BASE}/nodes/${uuid}/traits`)).body.traits, []);
});

test('ports: a MAC or malformed identifier is a 400, a missing node in the body a 400, physical_network from 1.34', async () => {
  const uuid = await availableNode('ports-0');
  const p = await h.call('POST', `${BASE}/ports`, { node_uuid: uuid, address: '52:54:00:0c:00:01' });
  assert.equal(p.status, 201);
  for (const ident of ['52:54:00:0c:00:01', 'malformed:uuid']) {
    assert.equal((await h.call('GET', `${BASE}/ports/${ident}`)).status, 400, ident);
    assert.equal((await h.call('PATCH', `${BASE}/ports/${ident}`, [{ op: 'add', path: '/extra/a', value: 'b' }])).status, 400, ident);
    assert.equal((await h.call('DELETE', `${BASE}/ports/${ident}`)).status, 400, ident);
  }
  assert.equal((await h.call('GET', `${BASE}/ports/${crypto.randomUUID()}`)).status, 404);
  const missing = await h.call('POST', `${BASE}/ports`, { node_uuid: crypto.randomUUID(), address: '52:54:00:0c:00:02' });
  assert.equal(missing.status, 400);
  assert.match(faultMessage(missing.body), /could not be found/);
  assert.equal((await h.call('POST', `${BASE}/ports`, { node_uuid: 'malformed:nodeid', address: '52:54:00:0c:00:03' })).status, 400);
  for (const value of ['malformed:node_uuid', crypto.randomUUID()]) {
    assert.equal((await h.call('PATCH', `${BASE}/ports/${p.body.uuid}`, [{ op: 'replace', path: '/node_uuid', value }])).status, 400, value);
  }

  assert.equal((await h.call('POST', `${BASE}/ports`, { node_uuid: uuid, address: '52:54:00:0c:00:04', physical_network: 'physnet1' }, v(33))).status, 406);
  assert.equal((await h.call('PATCH', `${BASE}/ports/${p.body.uuid}`, [{ op: 'replace', path: '/physical_network', value: 'physnet1' }], v(33))).status, 406);
  const shown = (await h.call('GET', `${BASE}/ports/${p.body.uuid}`, undefined, v(33))).body;
  assert.equal('physical_network' in shown, false);
  assert.equal('pxe_enabled' in shown, true);
  assert.equal('physical_network' in (await h.call('GET', `${BASE}/ports/${p.body.uuid}`, undefined, v(34))).body, true);
});

test('protected: only a deployed node, 409 otherwise; a protected node refuses undeploy, rebuild and delete (403)', async () => {
  const uuid = await availableNode('prot-0');
  const early = await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'replace', path: '/protected', value: true }]);
  assert.equal(early.status, 409);
  assert.equal((await h.call('PUT', `${BASE}/nodes/${uuid}/states/provision`, { target: 'active' })).status, 202);
  await waitForNode(h, uuid, (n) => n.provision_state === 'active');
  const reasonAlone = await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'replace', path: '/protected_reason', value: 'why' }]);
  assert.equal(reasonAlone.status, 400);
  const set = await h.call('PATCH', `${BASE}/nodes/${uuid}`, [
    { op: 'replace', path: '/protected', value: true },
    { op: 'replace', path: '/protected_reason', value: 'reason!' },
  ]);
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.protected_reason, 'reason!');
  for (const target of ['deleted', 'rebuild']) {
    assert.equal((await h.call('PUT', `${BASE}/nodes/${uuid}/states/provision`, { target })).status, 403, target);
  }
  assert.equal((await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'replace', path: '/maintenance', value: true }])).status, 200);
  assert.equal((await h.call('DELETE', `${BASE}/nodes/${uuid}`)).status, 403);
  // Unsetting protected drops its reason.
  const unset = await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'replace', path: '/protected', value: false }]);
  assert.equal(unset.status, 200, JSON.stringify(unset.body));
  assert.equal(unset.body.protected_reason, null);
});

test('an allocation is answered as recorded ("allocating"), its outcome shows on the next GET and on the node', async () => {
  const uuid = await availableNode('alloc-0');
  await h.call('PATCH', `${BASE}/nodes/${uuid}`, [{ op: 'add', path: '/resource_class', value: 'rc-conformance' }]);
  const a = await h.call('POST', `${BASE}/allocations`, { resource_class: 'rc-conformance', candidate_nodes: ['alloc-0'] });
  assert.equal(a.status, 201);
  assert.equal(a.body.state, 'allocating');
  assert.equal(a.body.node_uuid, null);
  assert.deepEqual(a.body.candidate_nodes, [uuid]);
  const later = (await h.call('GET', `${BASE}/allocations/${a.body.uuid}`)).body;
  assert.equal(later.state, 'active');
  assert.equal(later.node_uuid, uuid);
  assert.deepEqual((await h.call('GET', `/baremetal/nodes/${uuid}/allocation`)).body, later);
});

test('drivers\' RAID logical disk properties (from 1.12) and the fake machine\'s boot device', async () => {
  const props = await h.call('GET', `${BASE}/drivers/fake-hardware/raid/logical_disk_properties`);
  assert.equal(props.status, 200);
  assert.ok('size_gb' in props.body && 'raid_level' in props.body);
  assert.equal((await h.call('GET', `${BASE}/drivers/fake-hardware/raid/logical_disk_properties`, undefined, v(11))).status, 404);
  assert.equal((await h.call('GET', `${BASE}/drivers/nope/raid/logical_disk_properties`)).status, 404);
  const uuid = await availableNode('bootdev-0');
  assert.deepEqual((await h.call('GET', `${BASE}/nodes/${uuid}/management/boot_device`)).body, { boot_device: 'pxe', persistent: false });
});
