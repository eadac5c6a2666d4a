import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toposort, toposortLevels } from './toposort.js';
import { CycleError } from './errors.js';

test('orders dependencies first and groups independent nodes into levels', () => {
  const g = new Map([
    ['app', ['db', 'net']],
    ['db', ['net']],
    ['net', []],
    ['dns', []],
  ]);
  assert.deepEqual(toposortLevels(g), [['net', 'dns'], ['db'], ['app']]);
  assert.deepEqual(toposort(g), ['net', 'dns', 'db', 'app']);
});

test('names the cycle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.throws(
    () => toposort(g),
    (err: unknown) => err instanceof CycleError && err.message === 'Dependency cycle: a -> b -> c -> a',
  );
});

test('a self-dependency is a cycle of one', () => {
  assert.throws(() => toposort(new Map([['x', ['x']]])), /x -> x/);
});

test('an unknown dependency is an error naming both ends', () => {
  assert.throws(() => toposort(new Map([['x', ['y']]])), /"x" depends on unknown "y"/);
});
