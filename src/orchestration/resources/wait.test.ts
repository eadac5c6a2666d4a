// WaitCondition waits on the handle's signals: woken by each signal, failed by a FAILURE signal or
// by its timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until, withEngine, type TestEngine } from '../../../test/support/orchestration/test-support.js';

const template = (timeout: number, count: number) => ({
  heat_template_version: '2015-04-30',
  resources: {
    handle: { type: 'OS::Heat::WaitConditionHandle' },
    wait: { type: 'OS::Heat::WaitCondition', properties: { handle: { get_resource: 'handle' }, timeout, count } },
  },
  outputs: { data: { value: { get_attr: ['wait', 'data'] } } },
});

async function handleOf(t: TestEngine, stackId: string): Promise<{ id: string; token: string }> {
  // The rows appear once the background create has started.
  const row = (name: string) => t.engine.resourceRow(stackId, name).catch(() => undefined);
  await until(async () => (await row('handle'))?.status === 'COMPLETE' && (await row('wait'))?.action === 'CREATE');
  const handle = await t.engine.resourceRow(stackId, 'handle');
  return { id: handle.physical_id!, token: String(JSON.parse(handle.data).token) };
}

test('a wait condition waits for a notification of its handle and completes on the count-th SUCCESS', async () => {
  await withEngine(async (t) => {
    const { id } = await t.engine.create('p', { stack_name: 'w', template: template(60, 2) });
    const h = await handleOf(t, id);
    await until(async () => t.engine.notifier.waiting(`signal:${h.id}`) === 1);
    await t.engine.signalByToken(h.id, h.token, { status: 'SUCCESS', id: 'a', data: 'one' });
    await until(async () => t.engine.notifier.waiting(`signal:${h.id}`) === 1);
    assert.equal((await t.engine.getStack(id))!.status, 'IN_PROGRESS');
    await t.engine.signalByToken(h.id, h.token, { status: 'SUCCESS', id: 'b', data: 'two' });
    const s = await t.settle(id);
    assert.equal(`${s.action}_${s.status}`, 'CREATE_COMPLETE', s.status_reason);
    assert.deepEqual(JSON.parse(String((await t.engine.outputs(s))[0]!.output_value)), { a: 'one', b: 'two' });
  });
});

test('a FAILURE signal fails the wait condition; no signal fails it at its timeout', async () => {
  await withEngine(async (t) => {
    const { id } = await t.engine.create('p', { stack_name: 'f', template: template(60, 1) });
    const h = await handleOf(t, id);
    await t.engine.signalByToken(h.id, h.token, { status: 'FAILURE', reason: 'disk full' });
    const s = await t.settle(id);
    assert.equal(s.status, 'FAILED');
    assert.match(s.status_reason, /WaitCondition failed: disk full/);

    const late = await t.engine.create('p', { stack_name: 'late', template: template(1, 1) });
    const l = await t.settle(late.id);
    assert.equal(l.status, 'FAILED');
    assert.match(l.status_reason, /WaitCondition timed out: 0 of 1 signals received/);
  });
});
