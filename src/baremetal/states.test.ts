// The provision state machine table: Ironic's paths exist, invalid moves name the state and
// what is allowed, every transient and wait state has somewhere to fail to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError } from '../common/errors.js';
import { FAILURE_STATE, PROVISION_STATES, PROVISION_VERBS, TRANSIENT_STATES, WAITING_STATES, provisionMachine, type ProvisionEvent, type ProvisionState } from './states.js';

function walk(start: ProvisionState, events: ProvisionEvent[]): ProvisionState[] {
  const seen: ProvisionState[] = [start];
  let s = start;
  for (const e of events) seen.push((s = provisionMachine.next(s, e)));
  return seen;
}

test("Ironic's main paths", () => {
  assert.deepEqual(walk('enroll', ['manage', 'done', 'provide', 'done', 'deploy', 'done', 'deleted', 'clean', 'done']), [
    'enroll', 'verifying', 'manageable', 'cleaning', 'available', 'deploying', 'active', 'deleting', 'cleaning', 'available',
  ]);
  assert.deepEqual(walk('available', ['deploy', 'wait', 'resume', 'done']), ['available', 'deploying', 'wait call-back', 'deploying', 'active']);
  assert.deepEqual(walk('manageable', ['inspect', 'wait', 'abort', 'inspect', 'done']), ['manageable', 'inspecting', 'inspect wait', 'inspect failed', 'inspecting', 'manageable']);
  assert.deepEqual(walk('manageable', ['adopt', 'fail', 'adopt', 'done']), ['manageable', 'adopting', 'adopt failed', 'adopting', 'active']);
  assert.deepEqual(walk('enroll', ['manage', 'fail']), ['enroll', 'verifying', 'enroll']);
  assert.deepEqual(walk('active', ['deleted', 'fail', 'deleted']), ['active', 'deleting', 'error', 'deleting']);
  assert.deepEqual(walk('manageable', ['clean', 'manage']), ['manageable', 'cleaning', 'manageable']);
});

test('an invalid request names the current state and the allowed actions', () => {
  assert.throws(
    () => provisionMachine.next('enroll', 'deploy'),
    (e: unknown) => e instanceof InvalidStateError && e.status === 409 && /state "enroll"; allowed from "enroll": "manage"/.test(e.message),
  );
  assert.throws(() => provisionMachine.next('active', 'provide'), /allowed from "active": "rebuild", "deleted"/);
});

test('every transient and wait state can fail, and knows where to', () => {
  for (const s of [...TRANSIENT_STATES, ...WAITING_STATES]) {
    assert.ok(provisionMachine.can(s, 'fail'), `${s} has no fail transition`);
    assert.equal(FAILURE_STATE[s], provisionMachine.next(s, 'fail'), s);
  }
  for (const s of WAITING_STATES) assert.ok(provisionMachine.isWaiting(s) && provisionMachine.can(s, 'abort'), s);
});

test('every state is reachable from enroll, and every API verb is an event of the table', () => {
  const reach = new Set<ProvisionState>(['enroll']);
  const events: ProvisionEvent[] = ['manage', 'provide', 'inspect', 'clean', 'deploy', 'rebuild', 'deleted', 'abort', 'adopt', 'done', 'fail', 'wait', 'resume'];
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of [...reach]) {
      for (const e of events) {
        if (!provisionMachine.can(s, e)) continue;
        const to = provisionMachine.next(s, e);
        if (!reach.has(to)) {
          reach.add(to);
          grew = true;
        }
      }
    }
  }
  assert.deepEqual([...reach].sort(), [...PROVISION_STATES].sort());
  for (const e of Object.values(PROVISION_VERBS)) assert.ok(events.includes(e));
});
