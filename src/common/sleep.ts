// The one way to wait in Bootstack (server, CLI and the agents' bundles alike): Node's promise
// timer, with an abort turned into the signal's own reason, so the caller sees why it was stopped
// (an orchestration Cancelled, a deploy timeout, a server stopping) rather than Node's generic
// AbortError. A loop that only wants to wake early and then check its own signal writes
// `await sleep(ms, signal).catch(() => undefined)`: sleep rejects only when the signal aborts.
import { setTimeout as wait } from 'node:timers/promises';

/** Waits `ms`; rejects with `abortReason(signal)` if the signal aborts first (or already has). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    throw err;
  }
}

/** The signal's reason as an Error: itself when it is one, else an Error naming it. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new Error(reason === undefined ? 'aborted' : `aborted: ${String(reason)}`);
}
