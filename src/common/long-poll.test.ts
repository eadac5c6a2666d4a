import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeNotifier, MAX_WAIT_S, etagOf, longPoll, preferredWait, type LongPollDocumentVersion } from './long-poll.js';

test('Prefer: wait is read from the header, capped; an ETag is a quoted hash of the text', () => {
  assert.equal(preferredWait(undefined), undefined);
  assert.equal(preferredWait('return=minimal'), undefined);
  assert.equal(preferredWait('wait=25'), 25);
  assert.equal(preferredWait('return=minimal, wait = "7"'), 7);
  assert.equal(preferredWait(['respond-async', 'wait=999']), MAX_WAIT_S);
  assert.match(etagOf('{}'), /^"[0-9a-f]{32}"$/);
  assert.equal(etagOf('{"a": 1}'), etagOf('{"a": 1}'));
  assert.notEqual(etagOf('{"a": 1}'), etagOf('{"a": 2}'));
});

function store(initial: string) {
  const notifier = new ChangeNotifier();
  let body = initial;
  let reads = 0;
  return {
    notifier,
    get reads() {
      return reads;
    },
    set(next: string) {
      body = next;
      notifier.notify('doc');
    },
    current: async (): Promise<LongPollDocumentVersion> => {
      reads++;
      return { body, etag: etagOf(body) };
    },
    subscribe: (ms: number, signal: AbortSignal) => notifier.subscribe('doc', ms, signal),
  };
}

test('answered at once without a matching ETag or without a wait; 304 when it matches', async () => {
  const s = store('one');
  const closed = new AbortController().signal;
  const plain = await longPoll({ method: 'GET', closed }, s.current, s.subscribe);
  assert.deepEqual(plain, { status: 200, headers: { etag: etagOf('one') }, body: 'one' });
  const asked = await longPoll({ method: 'GET', prefer: 'wait=30', ifNoneMatch: '"other"', closed }, s.current, s.subscribe);
  assert.equal(asked?.status, 200);
  assert.equal(asked?.headers['preference-applied'], 'wait=30');
  const noWait = await longPoll({ method: 'GET', prefer: 'wait=0', ifNoneMatch: etagOf('one'), closed }, s.current, s.subscribe);
  assert.deepEqual(noWait, { status: 304, headers: { etag: etagOf('one'), 'preference-applied': 'wait=0' } });
  // HEAD is never held.
  const head = await longPoll({ method: 'HEAD', prefer: 'wait=30', ifNoneMatch: etagOf('one'), closed }, s.current, s.subscribe);
  assert.equal(head?.status, 304);
  assert.equal(s.notifier.waiting(), 0);
});

test('held until the document changes; a notification without a change keeps waiting', async () => {
  const s = store('one');
  const closed = new AbortController().signal;
  const held = longPoll({ method: 'GET', prefer: 'wait=30', ifNoneMatch: etagOf('one'), closed }, s.current, s.subscribe);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.notifier.waiting('doc'), 1);
  s.set('one'); // same content: still held
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.notifier.waiting('doc'), 1);
  s.set('two');
  const answer = await held;
  assert.deepEqual(answer, { status: 200, headers: { etag: etagOf('two'), 'preference-applied': 'wait=30' }, body: 'two' });
  assert.equal(s.notifier.waiting(), 0);
});

test('304 when the wait passes; released at once when the client goes away', async () => {
  const s = store('one');
  const t0 = Date.now();
  const timedOut = await longPoll({ method: 'GET', prefer: 'wait=1', ifNoneMatch: etagOf('one'), closed: new AbortController().signal }, s.current, s.subscribe);
  assert.equal(timedOut?.status, 304);
  assert.ok(Date.now() - t0 >= 900);
  const client = new AbortController();
  const held = longPoll({ method: 'GET', prefer: 'wait=60', ifNoneMatch: etagOf('one'), closed: client.signal }, s.current, s.subscribe);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.notifier.waiting(), 1);
  client.abort();
  assert.equal(await held, undefined, 'nothing to send to a client that is gone');
  assert.equal(s.notifier.waiting(), 0);
});

test('a change between reading and waiting is not missed', async () => {
  const s = store('one');
  let first = true;
  // The document changes right after the first read, before the request would wait.
  const current = async () => {
    const v = await s.current();
    if (first) {
      first = false;
      s.set('two');
    }
    return v;
  };
  const answer = await longPoll({ method: 'GET', prefer: 'wait=30', ifNoneMatch: etagOf('one'), closed: new AbortController().signal }, current, s.subscribe);
  assert.equal(answer?.body, 'two');
});
