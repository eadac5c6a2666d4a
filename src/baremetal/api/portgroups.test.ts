// Port groups through the HTTP API: create/show/list/patch/delete, the microversion gates and
// fields, unique address and name, member ports (same node, one physical network, delete refused
// while ports are in the group), the node's groups, and who may see and change them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, faultMessage, type Harness, type Loose } from '../../../test/baremetal-helpers.js';

let h: Harness;
let node: string;
let other: string;
before(async () => {
  h = await startBaremetal({ background: false });
  node = (await h.call('POST', '/baremetal/v1/nodes', { name: 'pg-node', driver: 'fake-hardware', owner: 'p1' })).body.uuid;
  other = (await h.call('POST', '/baremetal/v1/nodes', { name: 'pg-other', driver: 'fake-hardware' })).body.uuid;
});
after(async () => {
  await h.stop();
});

const v = (minor: number) => ({ 'x-openstack-ironic-api-version': `1.${minor}` });

test('create, show by uuid and name, list, detail and filters', async () => {
  const pg = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: 'pg-node', address: '52:54:00:0A:00:01', name: 'bond0', extra: { foo: 'bar' } });
  assert.equal(pg.status, 201, JSON.stringify(pg.body));
  assert.equal(pg.body.address, '52:54:00:0a:00:01');
  assert.equal(pg.body.node_uuid, node);
  assert.equal(pg.body.mode, 'active-backup', 'the default bonding mode');
  assert.deepEqual(pg.body.properties, {});
  assert.equal(pg.body.standalone_ports_supported, true);
  assert.ok(pg.headers.get('location')!.endsWith(`/baremetal/v1/portgroups/${pg.body.uuid}`));
  assert.ok(pg.body.ports[0].href.endsWith(`/portgroups/${pg.body.uuid}/ports`));
  const noAddress = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node });
  assert.equal(noAddress.status, 201);
  assert.equal(noAddress.body.address, null);
  assert.equal(noAddress.body.name, null);

  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${pg.body.uuid}`)).body.name, 'bond0');
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups/bond0')).body.uuid, pg.body.uuid);
  const list = await h.call('GET', '/baremetal/v1/portgroups');
  assert.equal(list.status, 200);
  const listed = list.body.portgroups.find((p: Loose) => p.uuid === pg.body.uuid);
  assert.deepEqual(Object.keys(listed).sort(), ['address', 'links', 'name', 'uuid']);
  const detail = await h.call('GET', '/baremetal/v1/portgroups/detail');
  assert.deepEqual(detail.body.portgroups.find((p: Loose) => p.uuid === pg.body.uuid).extra, { foo: 'bar' });
  const byAddress = await h.call('GET', '/baremetal/v1/portgroups?address=52-54-00-0a-00-01');
  assert.deepEqual(byAddress.body.portgroups.map((p: Loose) => p.uuid), [pg.body.uuid]);
  const ofNode = await h.call('GET', `/baremetal/v1/nodes/pg-node/portgroups`);
  assert.deepEqual(ofNode.body.portgroups.map((p: Loose) => p.uuid).sort(), [pg.body.uuid, noAddress.body.uuid].sort());
  assert.deepEqual((await h.call('GET', `/baremetal/v1/portgroups?node=${other}`)).body.portgroups, []);
  const nodeDetail = await h.call('GET', `/baremetal/v1/nodes/${node}/portgroups/detail`);
  assert.equal(nodeDetail.body.portgroups[0].mode, 'active-backup');

  // Paging by marker, with the next link naming the last item.
  const page1 = await h.call('GET', `/baremetal/v1/portgroups?node=${node}&limit=1&sort_key=uuid`);
  assert.equal(page1.body.portgroups.length, 1);
  assert.match(page1.body.next, new RegExp(`marker=${page1.body.portgroups[0].uuid}`));
  const page2 = await h.call('GET', `/baremetal/v1/portgroups?node=${node}&limit=1&sort_key=uuid&marker=${page1.body.portgroups[0].uuid}`);
  assert.ok(page2.body.portgroups[0].uuid > page1.body.portgroups[0].uuid);
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups?sort_key=extra')).status, 400);

  assert.equal((await h.call('DELETE', `/baremetal/v1/portgroups/${noAddress.body.uuid}`)).status, 204);
  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${noAddress.body.uuid}`)).status, 404);
});

test('microversions: 404 before 1.23; mode and properties set from 1.26, shown to every version', async () => {
  const old = await h.call('GET', '/baremetal/v1/portgroups', undefined, v(22));
  assert.equal(old.status, 404);
  assert.match(faultMessage(old.body), /Port groups \(available from API 1\.23\)/);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${node}/portgroups`, undefined, v(23))).status, 404);
  const pg = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, name: 'bond-v23' }, v(23));
  assert.equal(pg.status, 201);
  assert.equal(pg.body.mode, 'active-backup', 'Ironic shows mode to every version');
  assert.deepEqual(pg.body.properties, {});
  const refused = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, mode: '802.3ad' }, v(25));
  assert.equal(refused.status, 406);
  assert.match(faultMessage(refused.body), /mode/);
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups/bond-v23?fields=mode', undefined, v(25))).status, 406);
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups?fields=uuid,properties', undefined, v(25))).status, 406);
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups/bond-v23?fields=mode', undefined, v(26))).body.mode, 'active-backup');
  const patchMode = await h.call('PATCH', '/baremetal/v1/portgroups/bond-v23', [{ op: 'replace', path: '/mode', value: 'balance-rr' }], v(25));
  assert.equal(patchMode.status, 406);
  // As Ironic, only the first operation is checked (Tempest's test_update_portgroup_add relies on it).
  const second = await h.call('PATCH', '/baremetal/v1/portgroups/bond-v23', [{ op: 'add', path: '/extra/k', value: 'v' }, { op: 'add', path: '/properties/k', value: 'v' }], v(23));
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.deepEqual(second.body.properties, { k: 'v' });
  const lacp = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, name: 'bond-lacp', mode: '802.3ad', properties: { miimon: '100' } }, v(26));
  assert.equal(lacp.body.mode, '802.3ad');
  assert.deepEqual(lacp.body.properties, { miimon: '100' });
  assert.equal((await h.call('PATCH', '/baremetal/v1/portgroups/bond-lacp', [{ op: 'replace', path: '/mode', value: 'balance-rr' }], v(26))).body.mode, 'balance-rr');
});

test('address and name are unique; bad MAC, bad name and unknown node are refused', async () => {
  await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, address: '52:54:00:0a:00:10', name: 'uniq' });
  const dupAddress = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: other, address: '52:54:00:0A:00:10' });
  assert.equal(dupAddress.status, 409);
  assert.match(faultMessage(dupAddress.body), /MAC address 52:54:00:0a:00:10/);
  const dupName = await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: other, name: 'uniq' });
  assert.equal(dupName.status, 409);
  assert.match(faultMessage(dupName.body), /name uniq/);
  assert.equal((await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, address: 'zz' })).status, 400);
  assert.match(faultMessage((await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, name: 'a b' })).body), /name/);
  assert.equal((await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: 'no-such-node' })).status, 404);
  assert.equal((await h.call('POST', '/baremetal/v1/portgroups', { name: 'x' })).status, 400);
});

test('patch: address, extra keys, properties, remove a collection, name clash', async () => {
  const pg = (await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, address: '52:54:00:0a:00:20', name: 'patchme', extra: { foo: 'bar', open: 'stack' } })).body;
  const res = await h.call('PATCH', `/baremetal/v1/portgroups/${pg.uuid}`, [
    { op: 'replace', path: '/address', value: '52:54:00:0a:00:21' },
    { op: 'remove', path: '/extra/foo' },
    { op: 'add', path: '/extra/key3', value: { cat: 'meow' } },
    { op: 'add', path: '/properties/key1', value: 'value1' },
  ]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.address, '52:54:00:0a:00:21');
  assert.deepEqual(res.body.extra, { open: 'stack', key3: { cat: 'meow' } });
  assert.deepEqual(res.body.properties, { key1: 'value1' });
  assert.ok(res.body.updated_at);
  const cleared = await h.call('PATCH', `/baremetal/v1/portgroups/patchme`, [{ op: 'remove', path: '/extra' }]);
  assert.deepEqual(cleared.body.extra, {});
  assert.equal((await h.call('PATCH', `/baremetal/v1/portgroups/${pg.uuid}`, [{ op: 'replace', path: '/name', value: 'uniq' }])).status, 409);
  assert.equal((await h.call('PATCH', `/baremetal/v1/portgroups/${pg.uuid}`, [{ op: 'replace', path: '/uuid', value: 'x' }])).status, 400);
});

test('member ports: same node, one physical network, listed, and the group cannot be deleted while it has them', async () => {
  const pg = (await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, address: '52:54:00:0a:00:30', name: 'members' })).body;
  const p1 = await h.call('POST', '/baremetal/v1/ports', { node_uuid: node, address: '52:54:00:0a:00:31', portgroup_uuid: pg.uuid, physical_network: 'physnet1' });
  assert.equal(p1.status, 201, JSON.stringify(p1.body));
  assert.equal(p1.body.portgroup_uuid, pg.uuid);
  const p2 = await h.call('POST', '/baremetal/v1/ports', { node_uuid: node, address: '52:54:00:0a:00:32', physical_network: 'physnet1' });
  assert.equal(p2.body.portgroup_uuid, null);
  const joined = await h.call('PATCH', `/baremetal/v1/ports/${p2.body.uuid}`, [{ op: 'replace', path: '/portgroup_uuid', value: pg.uuid }]);
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.equal((await h.call('GET', `/baremetal/v1/ports/${p2.body.uuid}`)).body.portgroup_uuid, pg.uuid);

  const members = await h.call('GET', `/baremetal/v1/portgroups/members/ports`);
  assert.deepEqual(members.body.ports.map((p: Loose) => p.uuid).sort(), [p1.body.uuid, p2.body.uuid].sort());
  assert.deepEqual(Object.keys(members.body.ports[0]).sort(), ['address', 'links', 'uuid']);
  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${pg.uuid}/ports/detail`)).body.ports[0].portgroup_uuid, pg.uuid);
  assert.equal((await h.call('GET', `/baremetal/v1/ports?portgroup=members`)).body.ports.length, 2);

  const otherNode = await h.call('POST', '/baremetal/v1/ports', { node_uuid: other, address: '52:54:00:0a:00:33', portgroup_uuid: pg.uuid });
  assert.equal(otherNode.status, 400);
  assert.match(faultMessage(otherNode.body), /portgroup_uuid: .*belongs to node/);
  const physnet = await h.call('POST', '/baremetal/v1/ports', { node_uuid: node, address: '52:54:00:0a:00:34', portgroup_uuid: pg.uuid, physical_network: 'physnet2' });
  assert.equal(physnet.status, 409);
  assert.match(faultMessage(physnet.body), /physical network "physnet1"/);
  assert.equal((await h.call('POST', '/baremetal/v1/ports', { node_uuid: node, address: '52:54:00:0a:00:35', portgroup_uuid: '00000000-0000-0000-0000-000000000000' })).status, 400);
  const moveNetwork = await h.call('PATCH', `/baremetal/v1/ports/${p1.body.uuid}`, [{ op: 'replace', path: '/physical_network', value: 'physnet2' }]);
  assert.equal(moveNetwork.status, 409, 'a member cannot leave its group\'s network');
  const moveGroup = await h.call('PATCH', `/baremetal/v1/portgroups/${pg.uuid}`, [{ op: 'replace', path: '/node_uuid', value: other }]);
  assert.equal(moveGroup.status, 409);

  const refused = await h.call('DELETE', `/baremetal/v1/portgroups/${pg.uuid}`);
  assert.equal(refused.status, 400);
  assert.match(faultMessage(refused.body), /contains ports/);
  for (const p of [p1.body.uuid, p2.body.uuid]) {
    assert.equal((await h.call('PATCH', `/baremetal/v1/ports/${p}`, [{ op: 'remove', path: '/portgroup_uuid' }])).body.portgroup_uuid, null);
  }
  assert.equal((await h.call('DELETE', `/baremetal/v1/portgroups/${pg.uuid}`)).status, 204);
});

test('who may see and change a group: its node\'s owner and the admin, as for ports', async () => {
  const pg = (await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node, name: 'owned' })).body;
  const member = { 'x-auth-token': 'member-token' }; // member of p1, which owns the node
  const reader = { 'x-auth-token': 'reader-token' }; // reader of p2: neither owner nor lessee
  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${pg.uuid}`, undefined, member)).status, 200);
  assert.ok((await h.call('GET', '/baremetal/v1/portgroups', undefined, member)).body.portgroups.some((p: Loose) => p.uuid === pg.uuid));
  assert.equal((await h.call('PATCH', `/baremetal/v1/portgroups/${pg.uuid}`, [{ op: 'add', path: '/extra/a', value: 1 }], member)).status, 403, 'update is the owner admin\'s');
  assert.equal((await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: node }, member)).status, 403);
  assert.equal((await h.call('DELETE', `/baremetal/v1/portgroups/${pg.uuid}`, undefined, member)).status, 403);
  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${pg.uuid}`, undefined, reader)).status, 404);
  assert.equal((await h.call('DELETE', `/baremetal/v1/portgroups/${pg.uuid}`, undefined, reader)).status, 404);
  assert.deepEqual((await h.call('GET', '/baremetal/v1/portgroups', undefined, reader)).body.portgroups, []);
  assert.equal((await h.call('GET', '/baremetal/v1/portgroups')).status, 200);
});

test('deleting the node deletes its groups and their ports', async () => {
  const n = (await h.call('POST', '/baremetal/v1/nodes', { name: 'pg-gone', driver: 'fake-hardware' })).body.uuid;
  const pg = (await h.call('POST', '/baremetal/v1/portgroups', { node_uuid: n, name: 'gone-bond' })).body;
  // By name too: the CLI's --port-group passes what it is given.
  const port = (await h.call('POST', '/baremetal/v1/ports', { node_uuid: n, address: '52:54:00:0a:00:40', portgroup_uuid: 'gone-bond' })).body;
  assert.equal(port.portgroup_uuid, pg.uuid);
  assert.equal((await h.call('DELETE', `/baremetal/v1/nodes/${n}`)).status, 204);
  assert.equal((await h.call('GET', `/baremetal/v1/portgroups/${pg.uuid}`)).status, 404);
  assert.equal((await h.call('GET', `/baremetal/v1/ports/${port.uuid}`)).status, 404);
});
