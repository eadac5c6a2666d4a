// The engine shares one event loop with every API request. Its database calls (better-sqlite3)
// are synchronous behind promises, so a 5,000-member group could run from start to end in
// microtasks without letting a single request in. Two tools keep it polite:
//  - breathe(): after ENGINE_SLICE_MS of work in one turn of the event loop, continue only after
//    the loop turned (timers, sockets and other requests ran);
//  - StepGate: resource bookkeeping runs a few at a time, first come first served, each step
//    after a breathe(). Without it thousands of resources wait on the database connection's
//    lock at once, and Kysely's lock wakes every waiter on each release (quadratic work).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ENGINE_SLICE_MS, ENGINE_STEP_SLOTS } from './limits.js';

let sliceStart: number | undefined;

/** Resolves at once while this turn of the event loop has worked less than ENGINE_SLICE_MS, else in a later turn. */
export async function breathe(): Promise<void> {
  for (;;) {
    const now = performance.now();
    if (sliceStart === undefined) {
      sliceStart = now;
      // Runs when the loop reaches its check phase: everything after it is a new slice.
      setImmediate(() => (sliceStart = undefined));
    }
    if (now - sliceStart < ENGINE_SLICE_MS) return;
    await nextTurn();
  }
}

/** At most `slots` steps at once, in arrival order; a finished step hands its slot to the next. */
export class StepGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(private readonly slots = ENGINE_STEP_SLOTS) {}

  async run<T>(step: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      await breathe();
      return await step();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.slots) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head++]!;
      // Drop what was handed out now and then, not by shifting the array on every release.
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
    } else this.active--;
  }
}
