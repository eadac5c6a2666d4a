// The provision state machine as data, with Ironic's wire names (ironic/common/states.py).
// Every provision-state change goes through `provisionMachine.next()`; the API maps its verbs
// ("manage", "provide", "active", "deleted"...) to the events below.
import { StateMachine, type Transition } from '../common/state-machine.js';

export const PROVISION_STATES = [
  'enroll',
  'verifying',
  'manageable',
  'inspecting',
  'inspect wait',
  'inspect failed',
  'cleaning',
  'clean wait',
  'clean failed',
  'available',
  'deploying',
  'wait call-back',
  'deploy failed',
  'active',
  'deleting',
  'error',
  'adopting',
  'adopt failed',
] as const;
export type ProvisionState = (typeof PROVISION_STATES)[number];

export type ProvisionEvent =
  | 'manage'
  | 'provide'
  | 'inspect'
  | 'clean'
  | 'deploy'
  | 'rebuild'
  | 'deleted'
  | 'abort'
  | 'adopt'
  | 'done'
  | 'fail'
  | 'wait'
  | 'resume';

type T = Transition<ProvisionState, ProvisionEvent>;
const t = (from: ProvisionState, event: ProvisionEvent, to: ProvisionState): T => ({ from, event, to });

export const PROVISION_TRANSITIONS: readonly T[] = [
  // Enrolment: manage checks the BMC credentials; a failure goes back to enroll (as Ironic).
  t('enroll', 'manage', 'verifying'),
  t('verifying', 'done', 'manageable'),
  t('verifying', 'fail', 'enroll'),

  t('manageable', 'provide', 'cleaning'),
  t('manageable', 'clean', 'cleaning'),
  t('manageable', 'inspect', 'inspecting'),
  t('manageable', 'adopt', 'adopting'),

  // Inspection (in-band inspection waits for the ramdisk in "inspect wait").
  t('inspecting', 'done', 'manageable'),
  t('inspecting', 'wait', 'inspect wait'),
  t('inspecting', 'fail', 'inspect failed'),
  t('inspect wait', 'resume', 'inspecting'),
  t('inspect wait', 'done', 'manageable'),
  t('inspect wait', 'fail', 'inspect failed'),
  t('inspect wait', 'abort', 'inspect failed'),
  t('inspect failed', 'inspect', 'inspecting'),
  t('inspect failed', 'manage', 'manageable'),

  // Cleaning: "done" ends automated cleaning in available; "manage" ends manual cleaning.
  t('cleaning', 'done', 'available'),
  t('cleaning', 'manage', 'manageable'),
  t('cleaning', 'wait', 'clean wait'),
  t('cleaning', 'fail', 'clean failed'),
  t('clean wait', 'resume', 'cleaning'),
  t('clean wait', 'fail', 'clean failed'),
  t('clean wait', 'abort', 'clean failed'),
  t('clean failed', 'manage', 'manageable'),

  t('available', 'deploy', 'deploying'),
  t('available', 'manage', 'manageable'),

  // Deployment: the agent path waits in "wait call-back"; a fake deploy goes straight to active.
  t('deploying', 'done', 'active'),
  t('deploying', 'wait', 'wait call-back'),
  t('deploying', 'fail', 'deploy failed'),
  t('wait call-back', 'resume', 'deploying'),
  t('wait call-back', 'done', 'active'),
  t('wait call-back', 'fail', 'deploy failed'),
  t('wait call-back', 'abort', 'deploy failed'),
  t('wait call-back', 'deleted', 'deleting'),
  t('deploy failed', 'deploy', 'deploying'),
  t('deploy failed', 'rebuild', 'deploying'),
  t('deploy failed', 'deleted', 'deleting'),

  t('active', 'rebuild', 'deploying'),
  t('active', 'deleted', 'deleting'),

  // Tear-down: deleting is followed by automated cleaning.
  t('deleting', 'clean', 'cleaning'),
  t('deleting', 'fail', 'error'),
  t('error', 'rebuild', 'deploying'),
  t('error', 'deleted', 'deleting'),

  t('adopting', 'done', 'active'),
  t('adopting', 'fail', 'adopt failed'),
  t('adopt failed', 'adopt', 'adopting'),
  t('adopt failed', 'manage', 'manageable'),
];

/** States where the conductor is working; a restarted server must finish or fail them. */
export const TRANSIENT_STATES: readonly ProvisionState[] = ['verifying', 'inspecting', 'cleaning', 'deploying', 'deleting', 'adopting'];
/** States that wait for something outside (agent call-back); each has a timeout. */
export const WAITING_STATES: readonly ProvisionState[] = ['inspect wait', 'clean wait', 'wait call-back'];

export const provisionMachine = new StateMachine<ProvisionState, ProvisionEvent>({
  name: 'node',
  states: PROVISION_STATES,
  transient: TRANSIENT_STATES,
  waiting: WAITING_STATES,
  transitions: PROVISION_TRANSITIONS,
});

/** The provision API's "target" verbs (PUT /nodes/{id}/states/provision) → events. */
export const PROVISION_VERBS: Record<string, ProvisionEvent> = {
  manage: 'manage',
  provide: 'provide',
  inspect: 'inspect',
  clean: 'clean',
  active: 'deploy',
  rebuild: 'rebuild',
  deleted: 'deleted',
  undeploy: 'deleted',
  abort: 'abort',
  adopt: 'adopt',
};

/** The failed state each transient or waiting state falls to when its work fails or is interrupted. */
export const FAILURE_STATE: Partial<Record<ProvisionState, ProvisionState>> = {
  verifying: 'enroll',
  inspecting: 'inspect failed',
  'inspect wait': 'inspect failed',
  cleaning: 'clean failed',
  'clean wait': 'clean failed',
  deploying: 'deploy failed',
  'wait call-back': 'deploy failed',
  deleting: 'error',
  adopting: 'adopt failed',
};

/** Where the API reports a transient state is heading (target_provision_state). */
export function targetFor(state: ProvisionState, event: ProvisionEvent, from: ProvisionState): ProvisionState | null {
  switch (state) {
    case 'verifying':
      return 'manageable';
    case 'inspecting':
    case 'inspect wait':
      return 'manageable';
    case 'cleaning':
    case 'clean wait':
      return event === 'clean' && from === 'manageable' ? 'manageable' : 'available';
    case 'deploying':
    case 'wait call-back':
      return 'active';
    case 'deleting':
      return 'available';
    case 'adopting':
      return 'active';
    default:
      return null;
  }
}
