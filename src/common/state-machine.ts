// A table-driven finite state machine. States and events keep their wire names (Ironic's
// "wait call-back", "deploy failed" ...). Everything that moves a record goes through
// `next()`, which refuses an event the table does not allow with an InvalidStateError naming
// the current state and the events that are allowed there.
import { InvalidStateError } from './errors.js';

export interface Transition<S extends string, E extends string> {
  from: S;
  event: E;
  to: S;
}

export interface MachineDefinition<S extends string, E extends string> {
  /** Name used in error messages ("node", "stack"). */
  name: string;
  states: readonly S[];
  /** States that work is in progress in (a restarted server must resume or fail them). */
  transient?: readonly S[];
  /** States where the machine waits for something outside (call-back, signal); they time out. */
  waiting?: readonly S[];
  transitions: readonly Transition<S, E>[];
}

export class StateMachine<S extends string, E extends string> {
  private readonly table = new Map<S, Map<E, S>>();

  constructor(readonly definition: MachineDefinition<S, E>) {
    const known = new Set<string>(definition.states);
    for (const t of definition.transitions) {
      if (!known.has(t.from)) throw new Error(`${definition.name}: transition from unknown state "${t.from}"`);
      if (!known.has(t.to)) throw new Error(`${definition.name}: transition to unknown state "${t.to}"`);
      let row = this.table.get(t.from);
      if (!row) this.table.set(t.from, (row = new Map()));
      if (row.has(t.event)) {
        throw new Error(`${definition.name}: two transitions for "${t.event}" from "${t.from}"`);
      }
      row.set(t.event, t.to);
    }
  }

  /** The state after `event` from `state`, or an InvalidStateError. */
  next(state: S, event: E): S {
    const to = this.table.get(state)?.get(event);
    if (to === undefined) {
      throw new InvalidStateError(this.definition.name, state, event, this.allowedEvents(state));
    }
    return to;
  }

  can(state: S, event: E): boolean {
    return this.table.get(state)?.has(event) ?? false;
  }

  allowedEvents(state: S): E[] {
    return [...(this.table.get(state)?.keys() ?? [])];
  }

  isTransient(state: S): boolean {
    return this.definition.transient?.includes(state) ?? false;
  }

  isWaiting(state: S): boolean {
    return this.definition.waiting?.includes(state) ?? false;
  }
}
