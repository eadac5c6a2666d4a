import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXTRA_LIMITS, extrasOf, mergeExtras, storedExtras } from './user-extras.js';
import { BadRequestError } from '../common/errors.js';

const refused = (fn: () => unknown, path: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof BadRequestError && path.test(err.message));

test('extrasOf keeps the unknown attributes and leaves the user\'s own to the schema', () => {
  assert.deepEqual(extrasOf({ name: 'u', email: 'e', password: 'p', project_id: 'p1', tier: { a: 1 } }), { project_id: 'p1', tier: { a: 1 } });
});

test('extrasOf refuses names that would pose as the id, a credential or the links', () => {
  for (const key of ['id', 'links', 'password_expires_at', 'original_password', 'password_hash', 'extra']) {
    refused(() => extrasOf({ name: 'u', [key]: 'x' }), new RegExp(`body\\.user\\.${key}: cannot be set`));
  }
  // On update, the user's own id (sent back as read) is ignored; another id is refused.
  assert.deepEqual(extrasOf({ id: 'abc', k: 1 }, 'abc'), { k: 1 });
  refused(() => extrasOf({ id: 'other' }, 'abc'), /body\.user\.id: cannot be set/);
});

test('extrasOf refuses empty and over-long attribute names, cut short in the message', () => {
  refused(() => extrasOf({ ['k'.repeat(EXTRA_LIMITS.maxKeyLength + 1)]: 1 }), /body\.user\.k{64}…: an extra attribute's name/);
  refused(() => extrasOf({ '': 1 }), /body\.user\.: an extra attribute's name/);
  assert.deepEqual(Object.keys(extrasOf({ ['k'.repeat(EXTRA_LIMITS.maxKeyLength)]: 1 })).length, 1);
});

test('mergeExtras lays the patch over the stored extras and names the attribute past a limit', () => {
  assert.deepEqual(mergeExtras({ a: 1, b: 2 }, { b: 3, c: null }), { a: 1, b: 3, c: null });
  const many = Object.fromEntries(Array.from({ length: EXTRA_LIMITS.maxKeys }, (_, i) => [`k${i}`, i]));
  assert.equal(Object.keys(mergeExtras({}, many)).length, EXTRA_LIMITS.maxKeys);
  refused(() => mergeExtras(many, { last: 1 }), /body\.user\.last: a user has at most 64 extra attributes/);
  // The byte limit is that of the JSON stored: exactly at the limit passes, one more byte fails.
  const fill = (n: number) => ({ big: 'x'.repeat(n) });
  const overhead = JSON.stringify(fill(0)).length;
  assert.equal(JSON.stringify(mergeExtras({}, fill(EXTRA_LIMITS.maxBytes - overhead))).length, EXTRA_LIMITS.maxBytes);
  refused(() => mergeExtras({}, fill(EXTRA_LIMITS.maxBytes - overhead + 1)), /body\.user\.big: .*16384 bytes/);
  refused(() => mergeExtras({ a: 'é'.repeat(6000) }, { b: 'é'.repeat(3000) }), /body\.user\.b: /);
});

test('storedExtras reads the column and drops anything that is not an extra', () => {
  assert.deepEqual(storedExtras('{"project_id":"p","password":"s","id":"x","name":"n"}'), { project_id: 'p' });
  assert.deepEqual(storedExtras(''), {});
  assert.deepEqual(storedExtras('not json'), {});
  assert.deepEqual(storedExtras('[1]'), {});
});
