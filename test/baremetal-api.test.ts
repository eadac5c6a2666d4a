// The Ironic-compatible API in-process: microversions, nodes through the whole provision state
// machine with fake-hardware, invalid moves, patch, ports, traits, allocations, drivers, owner
// policy, secrets masking, history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, waitForNode, faultMessage, type Harness, type Loose } from './baremetal-helpers.js';

let h: Harness;
before(async () => {
  h = await startBaremetal();
});
after(async () => {
  await h.stop();
});

test('root and /v1 documents are public and advertise the version range', async () => {
  const root = await fetch(`${h.url}/baremetal/`);
  assert.equal(root.status, 200);
  const doc = (await root.json()) as Loose;
  assert.equal(doc.default_version.min_version, '1.1');
  assert.equal(doc.default_version.version, '1.78');
  assert.equal(root.headers.get('x-openstack-ironic-api-maximum-version'), '1.78');
  const v1 = await fetch(`${h.url}/baremetal/v1`);
  assert.equal(v1.status, 200);
  assert.ok(((await v1.json()) as Loose).nodes[0].href.endsWith('/baremetal/v1/nodes/'));
});

test('microversions: latest, out of range (406) and garbage (400)', async () => {
  const latest = await h.call('GET', '/baremetal/v1/nodes', undefined, { 'x-openstack-ironic-api-version': 'latest' });
  assert.equal(latest.headers.get('x-openstack-ironic-api-version'), '1.78');
  const tooNew = await h.call('GET', '/baremetal/v1/nodes', undefined, { 'x-openstack-ironic-api-version': '1.999' });
  assert.equal(tooNew.status, 406);
  assert.equal(tooNew.headers.get('x-openstack-ironic-api-minimum-version'), '1.1');
  assert.match(faultMessage(tooNew.body), /supported version range is: \[1\.1, 1\.78\]/);
  const bad = await h.call('GET', '/baremetal/v1/nodes', undefined, { 'x-openstack-ironic-api-version': 'one' });
  assert.equal(bad.status, 400);
  const none = await h.call('GET', '/baremetal/v1/nodes', undefined, { 'x-openstack-ironic-api-version': '' });
  assert.equal(none.headers.get('x-openstack-ironic-api-version'), '1.1');
  // Resources newer than the requested version are not there (as in Ironic).
  const old = await h.call('GET', '/baremetal/v1/allocations', undefined, { 'x-openstack-ironic-api-version': '1.51' });
  assert.equal(old.status, 404);
  assert.match(faultMessage(old.body), /Allocations \(available from API 1\.52\)/);
  assert.equal((await h.call('GET', '/baremetal/v1/allocations', undefined, { 'x-openstack-ironic-api-version': '1.52' })).status, 200);
});

test('unauthenticated requests are refused in the ironic fault format', async () => {
  const res = await fetch(`${h.url}/baremetal/v1/nodes`);
  assert.equal(res.status, 401);
  const body = (await res.json()) as Loose;
  assert.ok(JSON.parse(body.error_message).faultstring);
});

test('a fake-hardware node goes enroll → manageable → available → active → available', async () => {
  const created = await h.call('POST', '/baremetal/v1/nodes', {
    name: 'node-0',
    driver: 'fake-hardware',
    driver_info: { fake_password: 'hunter2', fake_delay_ms: 0 },
    resource_class: 'baremetal',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.provision_state, 'enroll');
  assert.equal(created.body.driver_info.fake_password, '******');
  assert.equal(created.body.power_interface, 'fake');
  const id = created.body.uuid as string;

  const bad = await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'active' });
  assert.equal(bad.status, 409);
  assert.match(faultMessage(bad.body), /state "enroll".*"manage"/);

  const steps: Array<[string, string]> = [
    ['manage', 'manageable'],
    ['provide', 'available'],
    ['active', 'active'],
    ['deleted', 'available'],
  ];
  for (const [verb, want] of steps) {
    const res = await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: verb });
    assert.equal(res.status, 202, `${verb}: ${JSON.stringify(res.body)}`);
    const node = await waitForNode(h, id, (n) => n.provision_state === want && n.reservation === null);
    assert.equal(node.target_provision_state, null);
    assert.equal(node.last_error, null);
    assert.ok(node.provision_updated_at);
  }
  const hist = await h.call('GET', `/baremetal/v1/nodes/${id}/history?detail=true`);
  const events = hist.body.history.map((e: Loose) => e.event);
  assert.ok(events.includes('enroll -> verifying (manage)'), events.join('\n'));
  assert.ok(events.includes('deploying -> active (done)'), events.join('\n'));
  assert.ok(events.includes('deleting -> cleaning (clean)'), events.join('\n'));
});

test('nodes created at an old microversion start available (Ironic before 1.11)', async () => {
  const res = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
  assert.equal(res.status, 201);
  assert.equal(res.body.provision_state, 'available');
});

test('create refuses unknown drivers, fields and bad names, naming the field', async () => {
  const unknown = await h.call('POST', '/baremetal/v1/nodes', { driver: 'nope' });
  assert.equal(unknown.status, 400);
  assert.match(faultMessage(unknown.body), /unknown driver "nope"/);
  const extra = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', colour: 'red' });
  assert.equal(extra.status, 400);
  assert.match(faultMessage(extra.body), /colour/);
  const name = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', name: 'bad name' });
  assert.equal(name.status, 400);
  const iface = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', power_interface: 'redfish' });
  assert.equal(iface.status, 400);
  assert.match(faultMessage(iface.body), /power_interface/);
  await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', name: 'dup' });
  const dup = await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware', name: 'dup' });
  assert.equal(dup.status, 409);
});

test('JSON patch: add, replace and remove, secrets kept, internal fields refused', async () => {
  const c = await h.call('POST', '/baremetal/v1/nodes', { name: 'patchme', driver: 'redfish', driver_info: { redfish_address: 'https://10.0.0.1', redfish_password: 's3cret' } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const p = await h.call('PATCH', '/baremetal/v1/nodes/patchme', [
    { op: 'add', path: '/properties/cpus', value: 8 },
    { op: 'replace', path: '/driver_info/redfish_address', value: 'https://10.0.0.2' },
    { op: 'add', path: '/extra/team', value: 'infra' },
    { op: 'replace', path: '/description', value: 'rack 4' },
  ]);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.properties.cpus, 8);
  assert.equal(p.body.driver_info.redfish_address, 'https://10.0.0.2');
  assert.equal(p.body.driver_info.redfish_password, '******');
  const row = await h.database.db.selectFrom('baremetal_nodes').select('driver_info').where('uuid', '=', c.body.uuid).executeTakeFirstOrThrow();
  assert.equal(JSON.parse(row.driver_info as string).redfish_password, 's3cret');
  const rm = await h.call('PATCH', '/baremetal/v1/nodes/patchme', [{ op: 'remove', path: '/extra/team' }, { op: 'remove', path: '/description' }]);
  assert.deepEqual(rm.body.extra, {});
  assert.equal(rm.body.description, null);
  const internal = await h.call('PATCH', '/baremetal/v1/nodes/patchme', [{ op: 'replace', path: '/provision_state', value: 'active' }]);
  assert.equal(internal.status, 400);
  assert.match(faultMessage(internal.body), /internal attribute/);
});

test('list: fields, filters, detail and marker paging', async () => {
  for (let i = 0; i < 5; i++) await h.call('POST', '/baremetal/v1/nodes', { name: `page-${i}`, driver: 'fake-hardware', resource_class: 'paged' });
  const all = await h.call('GET', '/baremetal/v1/nodes?resource_class=paged');
  assert.equal(all.body.nodes.length, 5);
  assert.deepEqual(Object.keys(all.body.nodes[0]).sort(), ['instance_uuid', 'links', 'maintenance', 'name', 'power_state', 'provision_state', 'uuid']);
  const page1 = await h.call('GET', '/baremetal/v1/nodes?resource_class=paged&limit=2');
  assert.equal(page1.body.nodes.length, 2);
  assert.ok(page1.body.next.includes('marker='));
  const next = new URL(page1.body.next);
  const page2 = await h.call('GET', next.pathname + next.search);
  assert.equal(page2.body.nodes.length, 2);
  assert.notEqual(page2.body.nodes[0].uuid, page1.body.nodes[0].uuid);
  const fields = await h.call('GET', '/baremetal/v1/nodes?resource_class=paged&fields=uuid,driver');
  assert.deepEqual(Object.keys(fields.body.nodes[0]).sort(), ['driver', 'links', 'uuid']);
  const detail = await h.call('GET', '/baremetal/v1/nodes/detail?resource_class=paged&limit=1');
  assert.equal(detail.body.nodes[0].driver, 'fake-hardware');
  const badField = await h.call('GET', '/baremetal/v1/nodes?fields=nope');
  assert.equal(badField.status, 400);
});

test('list filters with invalid values are 400 naming the value; valid but unmatched ones are empty lists', async () => {
  const latest = { 'x-openstack-ironic-api-version': 'latest' };
  const bad: Array<[string, RegExp]> = [
    ['nodes?provision_state=bogus', /provision_state "bogus"/],
    ['nodes?fault=somefake', /fault "somefake".*"power failure"/],
    ['nodes?maintenance=notabool', /"notabool" for maintenance/],
    ['nodes?limit=-1', /limit "-1"/],
    ['nodes?limit=abc', /limit "abc"/],
    ['nodes?sort_dir=sideways', /sort direction "sideways"/],
    ['nodes?sort_key=unknown', /sort_key value "unknown"/],
    ['nodes?fields=nonexistent', /"nonexistent" are not valid/],
    ['nodes?marker=not-a-uuid', /marker "not-a-uuid"/],
    ['ports?sort_dir=sideways', /sort direction "sideways"/],
    ['ports?sort_key=extra', /sort_key value "extra"/],
    ['ports?marker=not-a-uuid', /marker "not-a-uuid"/],
    ['ports?limit=abc', /limit "abc"/],
    ['allocations?sort_dir=up', /sort direction "up"/],
    ['allocations?sort_key=traits', /sort_key value "traits"/],
    ['allocations?limit=-5', /limit "-5"/],
    ['drivers?type=bogus', /type "bogus"/],
  ];
  for (const [path, message] of bad) {
    const r = await h.call('GET', `/baremetal/v1/${path}`, undefined, latest);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    assert.match(faultMessage(r.body), message, path);
  }
  // Names Ironic knows are valid filters even when no node can match (rescue is not implemented).
  for (const path of ['nodes?provision_state=rescue%20wait', 'nodes?provision_state=available', 'nodes?fault=clean%20failure', 'drivers?type=classic']) {
    const r = await h.call('GET', `/baremetal/v1/${path}`, undefined, latest);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual((await h.call('GET', '/baremetal/v1/drivers?type=classic', undefined, latest)).body.drivers, []);
  assert.ok((await h.call('GET', '/baremetal/v1/drivers?type=dynamic', undefined, latest)).body.drivers.length > 0);
});

test('ports and allocations sort by sort_key and sort_dir; port paging follows the sort', async () => {
  const n = await h.call('POST', '/baremetal/v1/nodes', { name: 'sorted-ports', driver: 'fake-hardware' });
  const macs = ['52:54:00:50:00:03', '52:54:00:50:00:01', '52:54:00:50:00:02'];
  for (const address of macs) assert.equal((await h.call('POST', '/baremetal/v1/ports', { address, node_uuid: n.body.uuid })).status, 201);
  const list = async (q: string) => (await h.call('GET', `/baremetal/v1/ports?node=sorted-ports&${q}`)).body;
  assert.deepEqual((await list('sort_key=address')).ports.map((p: Loose) => p.address), [...macs].sort());
  assert.deepEqual((await list('sort_key=address&sort_dir=desc')).ports.map((p: Loose) => p.address), [...macs].sort().reverse());
  assert.deepEqual((await list('')).ports.map((p: Loose) => p.address), macs, 'creation order by default');
  const page1 = await list('sort_key=address&sort_dir=desc&limit=2');
  const next = new URL(page1.next);
  const page2 = (await h.call('GET', next.pathname + next.search)).body;
  assert.deepEqual([...page1.ports, ...page2.ports].map((p: Loose) => p.address), [...macs].sort().reverse());
  // Allocations that find no node still exist (state error): enough to sort.
  for (const name of ['sort-b', 'sort-c', 'sort-a']) {
    assert.equal((await h.call('POST', '/baremetal/v1/allocations', { name, resource_class: 'sort-none' })).status, 201);
  }
  const names = async (q: string) => (await h.call('GET', `/baremetal/v1/allocations?resource_class=sort-none&${q}`)).body.allocations.map((a: Loose) => a.name);
  assert.deepEqual(await names(''), ['sort-b', 'sort-c', 'sort-a']);
  assert.deepEqual(await names('sort_key=name'), ['sort-a', 'sort-b', 'sort-c']);
  assert.deepEqual(await names('sort_key=name&sort_dir=desc'), ['sort-c', 'sort-b', 'sort-a']);
  for (const name of ['sort-a', 'sort-b', 'sort-c']) assert.equal((await h.call('DELETE', `/baremetal/v1/allocations/${name}`)).status, 204);
});

test('ports: unique MAC, node link, pxe_enabled, patch and list by node', async () => {
  const n = await h.call('POST', '/baremetal/v1/nodes', { name: 'with-ports', driver: 'fake-hardware' });
  const p = await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:AA:BB:01', node_uuid: n.body.uuid });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  assert.equal(p.body.address, '52:54:00:aa:bb:01');
  assert.equal(p.body.pxe_enabled, true);
  const dup = await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:aa:bb:01', node_uuid: n.body.uuid });
  assert.equal(dup.status, 409);
  assert.match(faultMessage(dup.body), /MAC address 52:54:00:aa:bb:01 already exists/);
  const badMac = await h.call('POST', '/baremetal/v1/ports', { address: 'zz', node_uuid: n.body.uuid });
  assert.equal(badMac.status, 400);
  const patched = await h.call('PATCH', `/baremetal/v1/ports/${p.body.uuid}`, [{ op: 'replace', path: '/pxe_enabled', value: false }]);
  assert.equal(patched.body.pxe_enabled, false);
  const byNode = await h.call('GET', `/baremetal/v1/ports?node=with-ports`);
  assert.equal(byNode.body.ports.length, 1);
  const byAddr = await h.call('GET', `/baremetal/v1/ports/detail?address=52:54:00:aa:bb:01`);
  assert.equal(byAddr.body.ports[0].node_uuid, n.body.uuid);
  assert.equal((await h.call('DELETE', `/baremetal/v1/ports/${p.body.uuid}`)).status, 204);
});

test('allocations choose an available node by resource class and traits', async () => {
  const mk = async (name: string, rc: string, traits: string[]) => {
    const n = await h.call('POST', '/baremetal/v1/nodes', { name, driver: 'fake-hardware', resource_class: rc });
    if (traits.length) assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${name}/traits`, { traits })).status, 204);
    for (const [verb, want] of [['manage', 'manageable'], ['provide', 'available']] as const) {
      await h.call('PUT', `/baremetal/v1/nodes/${name}/states/provision`, { target: verb });
      await waitForNode(h, name, (x) => x.provision_state === want && !x.reservation);
    }
    return n.body.uuid as string;
  };
  await mk('gpu-0', 'compute', ['CUSTOM_GPU']);
  const plain = await mk('plain-0', 'compute', []);
  await mk('other-0', 'storage', ['CUSTOM_GPU']);
  const gpu = await h.call('POST', '/baremetal/v1/allocations', { resource_class: 'compute', traits: ['CUSTOM_GPU'], name: 'want-gpu' });
  assert.equal(gpu.status, 201, JSON.stringify(gpu.body));
  // As Ironic: the answer is the allocation as recorded; its outcome shows on the next GET.
  assert.equal(gpu.body.state, 'allocating');
  assert.equal(gpu.body.node_uuid, null);
  gpu.body = (await h.call('GET', `/baremetal/v1/allocations/${gpu.body.uuid}`)).body;
  assert.equal(gpu.body.state, 'active');
  const node = await h.call('GET', `/baremetal/v1/nodes/${gpu.body.node_uuid}`);
  assert.equal(node.body.name, 'gpu-0');
  assert.equal(node.body.allocation_uuid, gpu.body.uuid);
  assert.equal(node.body.instance_uuid, gpu.body.uuid);
  const none = await h.call('GET', `/baremetal/v1/allocations/${(await h.call('POST', '/baremetal/v1/allocations', { resource_class: 'compute', traits: ['CUSTOM_GPU'] })).body.uuid}`);
  assert.equal(none.body.state, 'error');
  assert.match(none.body.last_error, /No available nodes match the resource class compute and traits CUSTOM_GPU/);
  const cand = await h.call('GET', `/baremetal/v1/allocations/${(await h.call('POST', '/baremetal/v1/allocations', { resource_class: 'compute', candidate_nodes: ['plain-0'] })).body.uuid}`);
  assert.equal(cand.body.node_uuid, plain);
  assert.equal((await h.call('DELETE', '/baremetal/v1/allocations/want-gpu')).status, 204);
  const freed = await h.call('GET', '/baremetal/v1/nodes/gpu-0');
  assert.equal(freed.body.allocation_uuid, null);
  assert.equal(freed.body.instance_uuid, null);
  const badTrait = await h.call('PUT', '/baremetal/v1/nodes/gpu-0/traits/lowercase');
  assert.equal(badTrait.status, 400);
});

test('maintenance, power and boot device on a fake node', async () => {
  await h.call('POST', '/baremetal/v1/nodes', { name: 'pw', driver: 'fake-hardware' });
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/pw/maintenance', { reason: 'fan noise' })).status, 202);
  let n = await h.call('GET', '/baremetal/v1/nodes/pw');
  assert.equal(n.body.maintenance, true);
  assert.equal(n.body.maintenance_reason, 'fan noise');
  assert.equal((await h.call('DELETE', '/baremetal/v1/nodes/pw/maintenance')).status, 202);
  n = await h.call('GET', '/baremetal/v1/nodes/pw');
  assert.equal(n.body.maintenance, false);
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/pw/states/power', { target: 'power on' })).status, 202);
  await waitForNode(h, 'pw', (x) => x.power_state === 'power on' && !x.reservation);
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/pw/states/power', { target: 'power off' })).status, 202);
  await waitForNode(h, 'pw', (x) => x.power_state === 'power off' && x.target_power_state === null);
  const badPower = await h.call('PUT', '/baremetal/v1/nodes/pw/states/power', { target: 'explode' });
  assert.equal(badPower.status, 400);
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/pw/management/boot_device', { boot_device: 'pxe', persistent: true })).status, 204);
  const bd = await h.call('GET', '/baremetal/v1/nodes/pw/management/boot_device');
  assert.deepEqual(bd.body, { boot_device: 'pxe', persistent: true });
  const v = await h.call('GET', '/baremetal/v1/nodes/pw/validate');
  assert.equal(v.body.power.result, true);
});

test('drivers list and show the hardware types', async () => {
  const list = await h.call('GET', '/baremetal/v1/drivers');
  assert.deepEqual(list.body.drivers.map((d: Loose) => d.name).sort(), ['fake-hardware', 'ipmi', 'redfish']);
  const show = await h.call('GET', '/baremetal/v1/drivers/redfish');
  assert.equal(show.body.default_power_interface, 'redfish');
  assert.deepEqual(show.body.enabled_deploy_interfaces, ['direct', 'fake']);
  assert.equal(show.body.default_deploy_interface, 'direct');
  assert.equal(show.body.default_boot_interface, 'ipxe');
  assert.equal((await h.call('GET', '/baremetal/v1/drivers/nope')).status, 404);
});

test('owner and lessee: a project member sees and acts only on its own nodes; a reader cannot act', async () => {
  await h.call('POST', '/baremetal/v1/nodes', { name: 'owned', driver: 'fake-hardware', owner: 'p1' });
  await h.call('POST', '/baremetal/v1/nodes', { name: 'leased', driver: 'fake-hardware', lessee: 'p1' });
  await h.call('POST', '/baremetal/v1/nodes', { name: 'foreign', driver: 'fake-hardware', owner: 'p9' });
  const member = { 'x-auth-token': 'member-token' };
  const list = await h.call('GET', '/baremetal/v1/nodes', undefined, member);
  assert.deepEqual(list.body.nodes.map((n: Loose) => n.name).sort(), ['leased', 'owned']);
  assert.equal((await h.call('GET', '/baremetal/v1/nodes/foreign', undefined, member)).status, 404);
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/owned/states/power', { target: 'power on' }, member)).status, 202);
  assert.equal((await h.call('POST', '/baremetal/v1/nodes', { driver: 'fake-hardware' }, member)).status, 403);
  // The reader (project p2) may not act on its own project's node (403); p1's node it cannot
  // even see, and Ironic says so before applying the rule (404).
  await h.call('POST', '/baremetal/v1/nodes', { name: 'readers', driver: 'fake-hardware', owner: 'p2' });
  const reader = { 'x-auth-token': 'reader-token' };
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/readers/maintenance', {}, reader)).status, 403);
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/owned/maintenance', {}, reader)).status, 404);
});

test('delete refuses active nodes and removes ports with the node', async () => {
  const n = await h.call('POST', '/baremetal/v1/nodes', { name: 'del', driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
  await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:aa:bb:99', node_uuid: n.body.uuid });
  await h.call('PUT', '/baremetal/v1/nodes/del/states/provision', { target: 'active' });
  await waitForNode(h, 'del', (x) => x.provision_state === 'active' && !x.reservation);
  const refused = await h.call('DELETE', '/baremetal/v1/nodes/del');
  assert.equal(refused.status, 409);
  assert.match(faultMessage(refused.body), /provision state "active"/);
  await h.call('PUT', '/baremetal/v1/nodes/del/states/provision', { target: 'deleted' });
  await waitForNode(h, 'del', (x) => x.provision_state === 'available' && !x.reservation);
  assert.equal((await h.call('DELETE', '/baremetal/v1/nodes/del')).status, 204);
  assert.equal((await h.call('GET', '/baremetal/v1/ports?address=52:54:00:aa:bb:99')).body.ports.length, 0);
});

test('a node busy with an operation is locked: a second request gets 409 naming the holder', async () => {
  const n = await h.call('POST', '/baremetal/v1/nodes', { name: 'busy', driver: 'fake-hardware', driver_info: { fake_delay_ms: 2000 } }, { 'x-openstack-ironic-api-version': '1.9' });
  assert.equal((await h.call('PUT', '/baremetal/v1/nodes/busy/states/provision', { target: 'active' })).status, 202);
  const busy = await h.call('GET', '/baremetal/v1/nodes/busy');
  assert.equal(busy.body.provision_state, 'deploying');
  assert.equal(busy.body.target_provision_state, 'active');
  assert.equal(busy.body.reservation, h.service.conductor.options.host);
  for (const [method, path, body] of [
    ['PUT', '/baremetal/v1/nodes/busy/states/power', { target: 'power on' }],
    ['PATCH', '/baremetal/v1/nodes/busy', [{ op: 'add', path: '/extra/x', value: 1 }]],
    ['PUT', '/baremetal/v1/nodes/busy/management/boot_device', { boot_device: 'pxe' }],
  ] as const) {
    const res = await h.call(method, path, body);
    assert.equal(res.status, 409, `${method} ${path}`);
    assert.match(faultMessage(res.body), new RegExp(`Node ${n.body.uuid} is locked by host`));
  }
  await waitForNode(h, 'busy', (x) => x.provision_state === 'active' && x.reservation === null);
});
