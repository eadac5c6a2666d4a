import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, abortReason } from './sleep.js';

test('sleep waits about the time asked, without a signal or with one that stays quiet', async () => {
  let t = performance.now();
  await sleep(30);
  assert.ok(performance.now() - t >= 25, 'waited');
  t = performance.now();
  await sleep(30, new AbortController().signal);
  assert.ok(performance.now() - t >= 25, 'waited with a signal');
});

test('an abort during the wait rejects at once with the signal’s own reason', async () => {
  const c = new AbortController();
  const why = new Error('stack DELETE requested');
  const t = performance.now();
  const p = sleep(10_000, c.signal);
  setTimeout(() => c.abort(why), 10);
  await assert.rejects(p, (err) => err === why);
  assert.ok(performance.now() - t < 2000, 'did not wait the whole time');
});

test('an already aborted signal rejects without waiting; a plain abort() gives its AbortError', async () => {
  const c = new AbortController();
  c.abort();
  await assert.rejects(sleep(10_000, c.signal), { name: 'AbortError' });
});

test('a reason that is not an Error is named in one', async () => {
  const c = new AbortController();
  c.abort('shutting down');
  await assert.rejects(sleep(10_000, c.signal), { message: 'aborted: shutting down' });
  const s = new AbortController();
  s.abort(Symbol('stop requested'));
  assert.equal(abortReason(s.signal).message, 'aborted: Symbol(stop requested)');
});

test('the resolve-early form used by polling loops: settles on abort, the loop checks the signal', async () => {
  const c = new AbortController();
  const p = sleep(10_000, c.signal).catch(() => undefined);
  c.abort();
  assert.equal(await p, undefined);
  assert.equal(c.signal.aborted, true);
});
