// The scrypt slots: at most `size` hashes at once, the rest queued in order, a full queue
// refused with 503; and verifyPassword hashing even when there is nothing to compare with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slots, passwordSlots, verifyPassword } from './passwords.js';

test('slots: at most size jobs run at once, in arrival order; a full queue is 503', async () => {
  const slots = new Slots(2, 3);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const releases: Array<() => void> = [];
  const job = (n: number) => slots.run(async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(n);
    await new Promise<void>((r) => releases.push(r));
    running--;
  });
  const jobs = [1, 2, 3, 4, 5].map(job);
  await assert.rejects(job(6), { status: 503 });
  while (order.length < 5) {
    await new Promise((r) => setImmediate(r));
    releases.shift()?.();
  }
  releases.forEach((r) => r());
  await Promise.all(jobs);
  assert.equal(peak, 2);
  assert.deepEqual(order, [1, 2, 3, 4, 5]);
  // A failing job gives its slot back.
  await assert.rejects(slots.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await slots.run(async () => 'next'), 'next');
});

test('passwordSlots leaves half of the libuv pool for file I/O', () => {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  assert.equal(passwordSlots.size, Math.max(1, Math.floor(pool / 2)));
});

test('verifyPassword without a usable hash still hashes (so it takes as long) and says no', async () => {
  const t0 = process.hrtime.bigint();
  assert.equal(await verifyPassword('x', null), false);
  assert.equal(await verifyPassword('x', 'scrypt$garbage'), false);
  // Two scrypt runs at N=16384 cannot finish in under a millisecond; a shortcut would.
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 > 1);
});
