// A deployment's waiters are woken by its update (the machine's signal), not by polling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withEngine } from '../../test/support/orchestration/test-support.js';
import { DbSoftwareStore } from './software-store.js';

test('nextChange resolves true when the deployment is updated, false when the time passes or the wait is aborted', async () => {
  await withEngine(async (t) => {
    const store = new DbSoftwareStore(t.engine.db);
    const configId = await store.createConfig('p', { name: 'c', group: 'script', config: 'true', inputs: [], outputs: [], options: {} });
    const id = await store.createDeployment({ projectId: 'p', configId, serverId: 's', action: 'CREATE', status: 'IN_PROGRESS', statusReason: '', inputValues: {}, outputValues: {} });
    const woken = store.nextChange(id, 60_000, new AbortController().signal);
    const other = store.nextChange('another', 60_000, new AbortController().signal);
    await store.updateDeployment(id, { status: 'COMPLETE' });
    assert.equal(await woken.changed, true);
    other.cancel();
    assert.equal(await other.changed, false);
    assert.equal(await store.nextChange(id, 10, new AbortController().signal).changed, false);
    const ac = new AbortController();
    const aborted = store.nextChange(id, 60_000, ac.signal);
    ac.abort();
    assert.equal(await aborted.changed, false);
  });
});
