// Resource list, event list and stack show as the API answers them (listing.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withEngine } from '../../test/support/orchestration/test-support.js';
import { eventList, requiredByMap, resourceList, stackShow } from './listing.js';
import type { ResourceTable } from './migrations.js';

const BASE = 'http://x/orchestration/v1/p';

test('required_by is every resource that requires it, in row order, once each', () => {
  const row = (name: string, requires: string[]) => ({ name, requires: JSON.stringify(requires) }) as ResourceTable;
  const m = requiredByMap([row('a', []), row('b', ['a', 'a']), row('c', ['b', 'a']), row('d', ['gone'])]);
  assert.deepEqual(Object.fromEntries(m), { a: ['b', 'c'], b: ['c'], c: [], d: [] });
});

test('resource list with nested_depth, event list filters, stack show', async () => {
  await withEngine(async (t) => {
    const template = {
      heat_template_version: '2015-04-30',
      parameters: { n: { type: 'number', default: 2 } },
      resources: {
        a: { type: 'OS::Heat::None' },
        b: { type: 'OS::Heat::None', depends_on: ['a'] },
        c: { type: 'OS::Heat::TestResource', properties: { value: { get_resource: 'a' } } },
        g: { type: 'OS::Heat::ResourceGroup', properties: { count: { get_param: 'n' }, resource_def: { type: 'OS::Heat::None' } } },
      },
      outputs: { refs: { value: { get_attr: ['g', 'refs'] } } },
    };
    const { id } = await t.engine.create('p', { stack_name: 's', template });
    const stack = await t.settle(id);
    assert.equal(stack.status, 'COMPLETE', stack.status_reason);

    const top = await resourceList(t.engine, stack, 0, BASE);
    assert.deepEqual(top.map((r) => [r.resource_name, r.required_by]), [['a', ['b', 'c']], ['b', []], ['c', []], ['g', []]]);
    const deep = await resourceList(t.engine, stack, 1, BASE);
    assert.deepEqual(deep.filter((r) => r.parent_resource === 'g').map((r) => r.resource_name), ['0', '1']);

    const all = await eventList(t.engine, stack, undefined, {}, BASE);
    assert.ok(all.length >= 10);
    const done = await eventList(t.engine, stack, 'a', { resource_status: 'COMPLETE' }, BASE);
    assert.deepEqual(done.map((e) => e.resource_status), ['CREATE_COMPLETE']);
    const lastTwo = await eventList(t.engine, stack, undefined, { sort_dir: 'desc', limit: '2' }, BASE);
    assert.deepEqual(lastTwo.map((e) => e.id), all.slice(-2).reverse().map((e) => e.id));
    const after = await eventList(t.engine, stack, undefined, { marker: String(all[0]!.id) }, BASE);
    assert.equal(after.length, all.length - 1);

    const shown = await stackShow(t.engine, stack, BASE);
    assert.equal(shown.stack_status, 'CREATE_COMPLETE');
    assert.deepEqual((shown.parameters as Record<string, string>).n, '2');
    assert.equal((shown.outputs as { output_value: unknown[] }[])[0]!.output_value.length, 2);
  });
});
