import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { compileUserPattern, PatternBudget, PatternError, programSizeBound } from './user-regex.js';
import { breathe, StepGate } from './pace.js';

const whole = (pattern: string, value: string) => compileUserPattern(pattern, new PatternBudget()).matchesWhole(value, new PatternBudget());

test("allowed_pattern matches like Heat: re.match, ending at the value's end", () => {
  assert.equal(whole('[a-z]+', 'abc'), true);
  assert.equal(whole('[a-z]+', 'abc1'), false);
  assert.equal(whole('a|ab', 'ab'), false); // Python's re.match stops after "a"
  assert.equal(whole('ab|a', 'ab'), true);
  assert.equal(whole('^\\d+\\Z', '42'), true); // Python's \Z
  assert.equal(whole('(a|a)*', `${'a'.repeat(5000)}b`), false); // at once, not in 2^5000 steps
});

test('patterns a linear-time engine cannot run, or too large ones, are refused with the reason', () => {
  for (const p of ['(a)\\1', '(?=a)', '(?<!a)b', '[a-']) assert.throws(() => compileUserPattern(p, new PatternBudget()), PatternError);
  assert.throws(() => compileUserPattern('(a{1000}){1000}', new PatternBudget()), /too large/);
  assert.throws(() => compileUserPattern('x'.repeat(1001), new PatternBudget()), /longer than 1000/);
});

test('the size bound is never below the compiled program', () => {
  for (const p of ['[a-z]+', '(a|a)*', '((a|b)*a(a|b){20}){5}', 'a{100}b{100}', '\\p{L}{100}', '[\\]a]{10}', '(?P<n>\\d+)-(?i:x){3,}', 'ab{0,100}c', '(?:a{2,5}b){10}', '\\x{263a}{5}']) {
    const size = (RE2JS.compile(p).re2().prog as { inst: unknown[] }).inst.length;
    assert.ok(programSizeBound(p) >= size, `${p}: bound ${programSizeBound(p)} < ${size}`);
  }
});

test('one budget covers a whole request: a pattern is paid for once, values for their length', () => {
  const budget = new PatternBudget(1_000_000);
  const re = compileUserPattern('[a-z]+', budget);
  compileUserPattern('[a-z]+', budget);
  assert.equal(re.matchesWhole('a'.repeat(500), budget), true);
  assert.throws(() => re.matchesWhole('a'.repeat(5000), budget), /more pattern matching than one request may do/);
});

test('breathe lets the event loop turn after a slice of work; the gate runs steps in arrival order', async () => {
  // Work that only ever awaits breathe() still lets a timer run (an await alone would not).
  let timerRan = false;
  setTimeout(() => (timerRan = true), 0);
  const deadline = performance.now() + 5000;
  while (!timerRan && performance.now() < deadline) await breathe();
  assert.equal(timerRan, true);

  // At most two at once, and a freed slot goes to the step that arrived first. (Steps holding
  // slots at the same time may start in either order: each breathes before it runs.)
  const gate = new StepGate(2);
  const started: number[] = [];
  const finish: (() => void)[] = [];
  let active = 0;
  let most = 0;
  const all = Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      gate.run(async () => {
        most = Math.max(most, ++active);
        started.push(i);
        await new Promise<void>((r) => (finish[i] = r));
        active--;
      }),
    ),
  );
  const startedCount = async (n: number) => {
    const end = performance.now() + 5000;
    while (started.length < n && performance.now() < end) await new Promise((r) => setTimeout(r, 1));
    // A moment more: nothing beyond n may start.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(started.length, n, `started: ${started.join(', ')}`);
  };
  await startedCount(2);
  assert.deepEqual([...started].sort(), [0, 1]);
  for (const i of [1, 0, 2, 3]) {
    finish[i]!();
    await startedCount(started.length + 1);
  }
  assert.deepEqual(started.slice(2), [2, 3, 4, 5], 'each freed slot went to the next in arrival order');
  for (const i of [4, 5]) finish[i]!();
  await all;
  assert.equal(most, 2);
});
