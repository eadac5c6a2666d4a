import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDeployCommands } from './deploy-commands.js';

test('end(): a command still running is failed for its waiter and never handed to the next deploy', async () => {
  const commands = new MemoryDeployCommands();
  commands.openSession('n1');
  const running = commands.enqueue('n1', 'write_image', { image_url: 'http://x/1' });
  const queued = commands.enqueue('n1', 'sync');
  const other = commands.enqueue('n2', 'erase');
  assert.equal(commands.next('n1')?.id, running.id);
  const waited = commands.wait(running.id, 5_000);
  commands.end('n1');
  const r = await waited;
  assert.equal(r.status, 'failed');
  assert.match(r.error ?? '', /deploy ended/);
  assert.equal(commands.get(running.id), undefined);
  assert.equal(commands.get(queued.id), undefined);
  assert.deepEqual(commands.list('n1'), []);
  assert.equal(commands.get(other.id)?.status, 'queued');
  // The node's next deploy starts clean: only its own commands come out.
  commands.openSession('n1');
  assert.equal(commands.next('n1'), null);
  const fresh = commands.enqueue('n1', 'erase');
  assert.equal(commands.next('n1')?.id, fresh.id);
});
