// Runs work over a dependency graph: a node starts as soon as everything it depends on is done,
// so independent resources proceed in parallel. The first failure stops new starts; running work
// finishes (or sees the abort) and the first error is thrown.
import { toposort } from '../common/toposort.js';

export interface ScheduleOptions {
  maxParallel?: number;
  /** Pause after each completion before starting more (ResourceGroup batches). */
  pauseMs?: number;
  signal?: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export async function runGraph(
  deps: ReadonlyMap<string, readonly string[]>,
  work: (name: string) => Promise<void>,
  opts: ScheduleOptions = {},
): Promise<void> {
  const order = toposort(deps); // throws CycleError naming the cycle
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const n of order) {
    const ds = [...new Set(deps.get(n) ?? [])];
    waiting.set(n, ds.length);
    for (const d of ds) {
      const list = dependents.get(d);
      if (list) list.push(n);
      else dependents.set(d, [n]);
    }
  }
  // A queue read from `next` on: shift() on thousands of ready members would be quadratic.
  const ready = order.filter((n) => waiting.get(n) === 0);
  let next = 0;
  const max = Math.max(1, opts.maxParallel ?? Infinity);
  let running = 0;
  let failed: unknown;
  let done = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (done === order.length || (failed !== undefined && running === 0)) return resolve();
      while (failed === undefined && running < max && next < ready.length && !opts.signal?.aborted) {
        const n = ready[next++]!;
        running++;
        void work(n).then(
          async () => {
            for (const d of dependents.get(n) ?? []) {
              const left = waiting.get(d)! - 1;
              waiting.set(d, left);
              if (left === 0) ready.push(d);
            }
            if (opts.pauseMs && opts.sleep && opts.signal) await opts.sleep(opts.pauseMs, opts.signal).catch(() => undefined);
            running--;
            done++;
            pump();
          },
          (err: unknown) => {
            failed ??= err;
            running--;
            done++;
            pump();
          },
        );
      }
      if (running === 0 && (failed !== undefined || opts.signal?.aborted || next === ready.length)) resolve();
    };
    pump();
  });
  if (failed !== undefined) throw failed;
  if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error(String(opts.signal.reason ?? 'aborted'));
}
