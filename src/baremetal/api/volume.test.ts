// Volume connectors and targets through the HTTP API: create/show/list/patch/delete, the 1.32
// gate, the unique (type, connector_id) and (node, boot_index), the powered-off rule for changes,
// the node's volume lists, node deletion taking its records, and who may see and change them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, faultMessage, type Harness, type Loose } from '../../../test/baremetal-helpers.js';

let h: Harness;
let node: string;
let other: string;
before(async () => {
  h = await startBaremetal({ background: false });
  node = (await h.call('POST', '/baremetal/v1/nodes', { name: 'vol-node', driver: 'fake-hardware', owner: 'p1' })).body.uuid;
  other = (await h.call('POST', '/baremetal/v1/nodes', { name: 'vol-other', driver: 'fake-hardware' })).body.uuid;
  await power(node, 'power off');
  await power(other, 'power off');
});
after(async () => {
  await h.stop();
});

/** The node's recorded power state (what the conductor's sync would write). */
async function power(uuid: string, state: string): Promise<void> {
  await h.database.db.updateTable('baremetal_nodes' as never).set({ power_state: state } as never).where('uuid' as never, '=', uuid as never).execute();
}

const member = { 'x-auth-token': 'member-token' };
const reader = { 'x-auth-token': 'reader-token' };

test('the volume API is there from 1.32, with its links', async () => {
  assert.equal((await h.call('GET', '/baremetal/v1/volume/connectors', undefined, { 'x-openstack-ironic-api-version': '1.31' })).status, 404);
  const root = await h.call('GET', '/baremetal/v1/volume');
  assert.equal(root.status, 200);
  assert.ok(root.body.connectors[0].href.endsWith('/v1/volume/connectors'));
  assert.ok(root.body.targets[0].href.endsWith('/v1/volume/targets'));
  const ofNode = await h.call('GET', '/baremetal/v1/nodes/vol-node/volume');
  assert.ok(ofNode.body.targets[0].href.endsWith(`/nodes/${node}/volume/targets`));
  assert.ok((await h.call('GET', '/baremetal/v1/')).body.volume[0].href.endsWith('/v1/volume/'));
});

test('connectors: create, show, list, filters, paging, unique type and id', async () => {
  const c = await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: 'vol-node', type: 'iqn', connector_id: 'iqn.2026-12.org.example:a', extra: { k: 'v' } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.node_uuid, node);
  assert.deepEqual(c.body.extra, { k: 'v' });
  assert.ok(c.headers.get('location')!.endsWith(`/v1/volume/connectors/${c.body.uuid}`));
  const dup = await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: other, type: 'iqn', connector_id: 'iqn.2026-12.org.example:a' });
  assert.equal(dup.status, 409);
  assert.match(faultMessage(dup.body), /A volume connector with type iqn and connector ID iqn.2026-12.org.example:a already exists/);
  // The same id of another type is another connector.
  assert.equal((await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: node, type: 'ip', connector_id: 'iqn.2026-12.org.example:a' })).status, 201);
  const badType = await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: node, type: 'nvme', connector_id: 'x' });
  assert.equal(badType.status, 400);
  assert.match(faultMessage(badType.body), /nvme.*iqn, ip, mac, wwnn, wwpn, portname/);
  assert.equal((await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: 'no-such-node', type: 'mac', connector_id: 'x' })).status, 400);
  await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: other, type: 'wwpn', connector_id: '50:00:00:00:00:00:00:01' });

  const shown = await h.call('GET', `/baremetal/v1/volume/connectors/${c.body.uuid}`);
  assert.deepEqual(shown.body, c.body);
  const list = await h.call('GET', '/baremetal/v1/volume/connectors');
  assert.equal(list.body.connectors.length, 3);
  assert.deepEqual(Object.keys(list.body.connectors[0]).sort(), ['connector_id', 'links', 'node_uuid', 'type', 'uuid']);
  assert.deepEqual((await h.call('GET', '/baremetal/v1/volume/connectors/detail')).body.connectors[0].extra, { k: 'v' });
  assert.deepEqual((await h.call('GET', '/baremetal/v1/volume/connectors?node=vol-other')).body.connectors.map((x: Loose) => x.type), ['wwpn']);
  assert.deepEqual((await h.call('GET', '/baremetal/v1/nodes/vol-node/volume/connectors')).body.connectors.map((x: Loose) => x.type).sort(), ['ip', 'iqn']);
  const fields = await h.call('GET', '/baremetal/v1/volume/connectors?fields=uuid,extra');
  assert.deepEqual(Object.keys(fields.body.connectors[0]).sort(), ['extra', 'links', 'uuid']);
  const page1 = await h.call('GET', '/baremetal/v1/volume/connectors?limit=2&sort_key=connector_id');
  assert.equal(page1.body.connectors.length, 2);
  assert.match(page1.body.next, new RegExp(`/v1/volume/connectors\\?.*marker=${page1.body.connectors[1].uuid}`));
  const page2 = await h.call('GET', `/baremetal/v1/volume/connectors?limit=2&sort_key=connector_id&marker=${page1.body.connectors[1].uuid}`);
  assert.equal(page2.body.connectors.length, 1);
  assert.equal(page2.body.next, undefined);
  assert.equal((await h.call('GET', '/baremetal/v1/volume/connectors?sort_key=extra')).status, 400);
  assert.equal((await h.call('GET', '/baremetal/v1/volume/connectors/00000000-0000-0000-0000-000000000000')).status, 404);
});

test('changes need the node powered off (Ironic\'s message), then apply', async () => {
  const c = (await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: node, type: 'mac', connector_id: '52:54:00:00:00:01', extra: { a: 1, b: 2 } })).body;
  await power(node, 'power on');
  const refused = await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [{ op: 'replace', path: '/connector_id', value: '52:54:00:00:00:02' }]);
  assert.equal(refused.status, 400);
  assert.match(faultMessage(refused.body), new RegExp(`The requested action "volume connector update" can not be performed on node "${node}" while it is in state "power on"`));
  // Tempest matches the message inside error_message, a JSON string (so its quotes are escaped).
  assert.ok(refused.body.error_message.includes('\\"volume connector update\\"'));
  const noDelete = await h.call('DELETE', `/baremetal/v1/volume/connectors/${c.uuid}`);
  assert.equal(noDelete.status, 400);
  assert.match(faultMessage(noDelete.body), /"volume connector deletion" can not be performed/);
  await power(node, 'power off');
  const patched = await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [
    { op: 'replace', path: '/connector_id', value: '52:54:00:00:00:02' },
    { op: 'remove', path: '/extra/b' },
  ]);
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.connector_id, '52:54:00:00:00:02');
  assert.deepEqual(patched.body.extra, { a: 1 });
  assert.ok(patched.body.updated_at);
  assert.deepEqual((await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [{ op: 'remove', path: '/extra' }])).body.extra, {});
  assert.equal((await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [{ op: 'replace', path: '/type', value: 'bogus' }])).status, 400);
  assert.equal((await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [{ op: 'replace', path: '/uuid', value: 'x' }])).status, 400);
  assert.equal((await h.call('DELETE', `/baremetal/v1/volume/connectors/${c.uuid}`)).status, 204);
  assert.equal((await h.call('GET', `/baremetal/v1/volume/connectors/${c.uuid}`)).status, 404);
});

test('targets: unique boot index per node, properties, patch, delete', async () => {
  const t = await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', volume_id: 'vol-1', boot_index: 0, properties: { target_lun: 0 }, extra: { k: 'v' } });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  assert.deepEqual(t.body.properties, { target_lun: 0 });
  const dup = await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', volume_id: 'vol-2', boot_index: 0 });
  assert.equal(dup.status, 409, JSON.stringify(dup.body));
  assert.match(faultMessage(dup.body), /A volume target with boot index '0' for the same node already exists/);
  // Index 0 on another node is fine.
  assert.equal((await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: other, volume_type: 'fibre_channel', volume_id: 'vol-3', boot_index: 0 })).status, 201);
  const badIndex = await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', volume_id: 'vol-4', boot_index: -1 });
  assert.equal(badIndex.status, 400);
  assert.match(faultMessage(badIndex.body), /boot index/);
  assert.equal((await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', boot_index: 1 })).status, 400);

  const list = await h.call('GET', `/baremetal/v1/nodes/${node}/volume/targets`);
  assert.deepEqual(list.body.targets.map((x: Loose) => x.volume_id), ['vol-1']);
  assert.deepEqual(Object.keys(list.body.targets[0]).sort(), ['boot_index', 'links', 'node_uuid', 'uuid', 'volume_id', 'volume_type']);
  assert.deepEqual((await h.call('GET', '/baremetal/v1/volume/targets?sort_key=boot_index&sort_dir=desc&detail=true')).body.targets.length, 2);

  const second = (await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', volume_id: 'vol-5', boot_index: 1 })).body;
  const clash = await h.call('PATCH', `/baremetal/v1/volume/targets/${second.uuid}`, [{ op: 'replace', path: '/boot_index', value: 0 }]);
  assert.equal(clash.status, 409);
  const moved = await h.call('PATCH', `/baremetal/v1/volume/targets/${second.uuid}`, [{ op: 'replace', path: '/node_uuid', value: 'vol-other' }, { op: 'replace', path: '/boot_index', value: 7 }]);
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.node_uuid, other);
  assert.equal(moved.body.boot_index, 7);
  await power(node, 'power on');
  assert.equal((await h.call('DELETE', `/baremetal/v1/volume/targets/${t.body.uuid}`)).status, 400);
  await power(node, 'power off');
  assert.equal((await h.call('DELETE', `/baremetal/v1/volume/targets/${t.body.uuid}`)).status, 204);
});

test('who may see and change volume records', async () => {
  const c = (await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: node, type: 'portname', connector_id: 'rbac-port' })).body;
  const t = (await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: node, volume_type: 'iscsi', volume_id: 'rbac-vol', boot_index: 5, properties: { auth_password: 'x' } })).body;
  // The owner's member sees its node's records (target properties redacted), others are hidden.
  const seen = await h.call('GET', `/baremetal/v1/volume/targets/${t.uuid}`, undefined, member);
  assert.equal(seen.status, 200);
  assert.deepEqual(Object.keys(seen.body.properties), ['content']);
  assert.doesNotMatch(JSON.stringify(seen.body), /auth_password/);
  assert.equal((await h.call('GET', `/baremetal/v1/volume/connectors/${c.uuid}`, undefined, reader)).status, 404);
  const mine = await h.call('GET', '/baremetal/v1/volume/connectors', undefined, member);
  assert.ok(mine.body.connectors.every((x: Loose) => x.node_uuid === node));
  assert.deepEqual((await h.call('GET', '/baremetal/v1/volume/connectors', undefined, reader)).body.connectors, []);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${node}/volume/connectors`, undefined, reader)).status, 404);
  // Creating, changing and deleting is the operator's (Ironic: system member or the node's owner/lessee admin).
  assert.equal((await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: node, type: 'iqn', connector_id: 'by-member' }, member)).status, 403);
  assert.equal((await h.call('PATCH', `/baremetal/v1/volume/connectors/${c.uuid}`, [{ op: 'add', path: '/extra/x', value: 1 }], member)).status, 403);
  assert.equal((await h.call('DELETE', `/baremetal/v1/volume/targets/${t.uuid}`, undefined, reader)).status, 404);
  assert.equal((await h.call('GET', '/baremetal/v1/volume', undefined, member)).status, 403);
});

test('deleting a node deletes its volume records', async () => {
  const n = (await h.call('POST', '/baremetal/v1/nodes', { name: 'vol-gone', driver: 'fake-hardware' })).body.uuid;
  const c = (await h.call('POST', '/baremetal/v1/volume/connectors', { node_uuid: n, type: 'iqn', connector_id: 'gone' })).body;
  const t = (await h.call('POST', '/baremetal/v1/volume/targets', { node_uuid: n, volume_type: 'iscsi', volume_id: 'gone', boot_index: 0 })).body;
  assert.equal((await h.call('DELETE', `/baremetal/v1/nodes/${n}`)).status, 204);
  assert.equal((await h.call('GET', `/baremetal/v1/volume/connectors/${c.uuid}`)).status, 404);
  assert.equal((await h.call('GET', `/baremetal/v1/volume/targets/${t.uuid}`)).status, 404);
});
