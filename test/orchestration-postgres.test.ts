// The orchestration engine's storage on a real PostgreSQL (the HA undercloud's database):
// create, update with a ResourceGroup scale-up, software configs, events in order, delete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { testEngine, type TestEngine } from './support/orchestration/test-support.js';

let pg: TestPostgres;
let t: TestEngine;

before(async () => {
  pg = await startPostgres();
  t = await testEngine({ dbUrl: pg.url });
});
after(async () => {
  await t?.close();
  pg?.stop();
});

test('stack lifecycle on PostgreSQL', async () => {
  const tpl = (count: number) => ({
    heat_template_version: '2016-10-14',
    parameters: { count: { type: 'number', default: count } },
    resources: {
      cfg: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: 'echo hi' } },
      g: { type: 'OS::Heat::ResourceGroup', properties: { count: { get_param: 'count' }, resource_def: { type: 'OS::Heat::TestResource', properties: { value: 'v%index%' } } } },
    },
    outputs: { values: { value: { get_attr: ['g', 'output'] } }, config: { value: { get_attr: ['cfg', 'config'] } } },
  });
  const s = await t.engine.create('p', { stack_name: 'pg', template: tpl(2) });
  let row = await t.settle(s.id);
  assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
  await t.engine.update(row, { template: tpl(3) });
  row = await t.settle(s.id);
  assert.equal(`${row.action}_${row.status}`, 'UPDATE_COMPLETE', row.status_reason);
  const outs = Object.fromEntries((await t.engine.outputs(row)).map((o) => [o.output_key, o.output_value]));
  assert.deepEqual(outs.values, ['v0', 'v1', 'v2']);
  assert.equal(outs.config, 'echo hi');
  const ev = await t.engine.events(s.id);
  assert.equal(ev[0]!.reason, 'Stack CREATE started');
  assert.equal(ev.at(-1)!.reason, 'Stack UPDATE completed successfully');
  await t.engine.delete(row);
  row = await t.settle(s.id);
  assert.equal(`${row.action}_${row.status}`, 'DELETE_COMPLETE');
  assert.deepEqual(await t.engine.resources(s.id), []);
});
