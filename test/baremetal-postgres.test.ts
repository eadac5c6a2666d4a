// The same storage paths on PostgreSQL: lifecycle, list paging with a marker, unique MACs and
// names, allocations, history, and restart recovery (the undercloud's HA store).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startBaremetal, waitForNode, type Harness, type Loose } from './baremetal-helpers.js';

let pg: TestPostgres;
let h: Harness;
before(async () => {
  pg = await startPostgres();
  h = await startBaremetal({ databaseUrl: pg.url });
});
after(async () => {
  await h?.stop();
  pg?.stop();
});

test('lifecycle, paging, uniqueness, allocation and history on PostgreSQL', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await h.call('POST', '/baremetal/v1/nodes', { name: `pg-${i}`, driver: 'fake-hardware', resource_class: 'pg' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    ids.push(r.body.uuid);
  }
  assert.equal((await h.call('POST', '/baremetal/v1/nodes', { name: 'pg-0', driver: 'fake-hardware' })).status, 409);
  const p1 = await h.call('GET', '/baremetal/v1/nodes?resource_class=pg&limit=3&sort_key=name');
  assert.deepEqual(p1.body.nodes.map((n: Loose) => n.name), ['pg-0', 'pg-1', 'pg-2']);
  const next = new URL(p1.body.next);
  const p2 = await h.call('GET', next.pathname + next.search);
  assert.deepEqual(p2.body.nodes.map((n: Loose) => n.name), ['pg-3']);

  assert.equal((await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:00:ab:00', node_uuid: ids[0] })).status, 201);
  assert.equal((await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:00:ab:00', node_uuid: ids[1] })).status, 409);
  assert.equal((await h.call('POST', '/baremetal/v1/ports', { address: '52:54:00:00:ab:01', node_uuid: ids[1] })).status, 201);
  // Sorted lists and a marker on a sorted list (the SQL differs by column type on PostgreSQL).
  const byMac = await h.call('GET', '/baremetal/v1/ports?sort_key=address&sort_dir=desc&limit=1');
  assert.deepEqual(byMac.body.ports.map((p: Loose) => p.address), ['52:54:00:00:ab:01']);
  const nextPort = new URL(byMac.body.next);
  assert.deepEqual((await h.call('GET', nextPort.pathname + nextPort.search)).body.ports.map((p: Loose) => p.address), ['52:54:00:00:ab:00']);

  for (const [verb, state] of [['manage', 'manageable'], ['provide', 'available'], ['active', 'active'], ['deleted', 'available']] as const) {
    await h.call('PUT', `/baremetal/v1/nodes/${ids[0]}/states/provision`, { target: verb });
    await waitForNode(h, ids[0]!, (n) => n.provision_state === state && !n.reservation);
  }
  await h.call('PUT', `/baremetal/v1/nodes/${ids[0]}/traits/CUSTOM_PG`);
  const a = await h.call('GET', `/baremetal/v1/allocations/${(await h.call('POST', '/baremetal/v1/allocations', { resource_class: 'pg', traits: ['CUSTOM_PG'] })).body.uuid}`);
  assert.equal(a.body.state, 'active');
  assert.equal(a.body.node_uuid, ids[0]);
  const sorted = await h.call('GET', '/baremetal/v1/allocations?sort_key=updated_at&sort_dir=desc');
  assert.equal(sorted.status, 200, JSON.stringify(sorted.body));
  assert.equal(sorted.body.allocations[0].uuid, a.body.uuid);
  const hist = await h.call('GET', `/baremetal/v1/nodes/${ids[0]}/history`);
  assert.ok(hist.body.history.length >= 8);
});

test('restart recovery on PostgreSQL fails an interrupted deploy with a reason', async () => {
  const r = await h.call('POST', '/baremetal/v1/nodes', { name: 'pg-stuck', driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
  // Simulate what a killed server leaves behind: a reserved node in "deploying".
  await h.database.db
    .updateTable('baremetal_nodes')
    .set({ provision_state: 'deploying', reservation: h.service.conductor.options.host, operation: JSON.stringify({ kind: 'deploy', started_at: '2026-01-01T00:00:00Z' }) })
    .where('uuid', '=', r.body.uuid)
    .execute();
  const out = await h.service.conductor.recover();
  assert.deepEqual(out.failed, [r.body.uuid]);
  const n = await waitForNode(h, r.body.uuid, (x) => x.provision_state === 'deploy failed');
  assert.match(n.last_error, /restarted while the node was "deploying" \(operation "deploy" started at 2026-01-01T00:00:00Z\)/);
  assert.equal(n.reservation, null);
});
