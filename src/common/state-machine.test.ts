import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateMachine } from './state-machine.js';
import { InvalidStateError } from './errors.js';

type S = 'off' | 'starting' | 'on';
type E = 'start' | 'done' | 'stop';
const machine = new StateMachine<S, E>({
  name: 'lamp',
  states: ['off', 'starting', 'on'],
  transient: ['starting'],
  transitions: [
    { from: 'off', event: 'start', to: 'starting' },
    { from: 'starting', event: 'done', to: 'on' },
    { from: 'on', event: 'stop', to: 'off' },
  ],
});

test('moves along the table', () => {
  assert.equal(machine.next('off', 'start'), 'starting');
  assert.equal(machine.next('starting', 'done'), 'on');
  assert.ok(machine.isTransient('starting'));
  assert.ok(!machine.isTransient('on'));
});

test('refuses an event the table does not allow, naming state and allowed events', () => {
  assert.throws(
    () => machine.next('off', 'stop'),
    (err: unknown) =>
      err instanceof InvalidStateError &&
      err.status === 409 &&
      err.state === 'off' &&
      err.allowed.join() === 'start' &&
      /state "off".*"start"/.test(err.message),
  );
});

test('rejects a table with duplicate or dangling transitions', () => {
  assert.throws(
    () =>
      new StateMachine<S, E>({
        name: 'bad',
        states: ['off', 'on'],
        transitions: [{ from: 'off', event: 'start', to: 'starting' }],
      }),
    /unknown state "starting"/,
  );
  assert.throws(
    () =>
      new StateMachine<S, E>({
        name: 'bad',
        states: ['off', 'on'],
        transitions: [
          { from: 'off', event: 'start', to: 'on' },
          { from: 'off', event: 'start', to: 'off' },
        ],
      }),
    /two transitions/,
  );
});
