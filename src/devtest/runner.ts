// The stage runner: runs named stages in order, records each one's start, end, time and output
// in the state file (written atomically after every change), and on a re-run starts at the first
// stage that is not done. `from` re-runs a stage and everything after it; `only` runs one stage
// (with the outputs the state holds for the others). The first failure stops the run; the
// summary says what ran, how long each stage took and what failed.
import { BootstackError } from '../common/errors.js';
import type { Reporter } from './progress.js';
import { readState, writeState, type DevtestState, type StageRecord } from './state.js';

export interface StageContext {
  /** The outputs of the stages done so far (this run's and earlier runs'), by stage name. */
  outputs: Readonly<Record<string, unknown>>;
  progress(message: string): void;
  signal: AbortSignal;
}

export interface Stage {
  name: string;
  description: string;
  /** Returns the stage's output (JSON-serialisable), which later stages read. */
  run(ctx: StageContext): Promise<unknown>;
}

export interface Selection {
  from?: string;
  only?: string;
}

export interface StageSummary {
  name: string;
  /** `pending`: never finished (not reached, or outside `only`); `running`: a killed run left it so. */
  status: 'done' | 'failed' | 'pending' | 'running';
  /** Whether this run ran it. */
  ran: boolean;
  /** Its last run's time, seconds (null when it never finished). */
  seconds: number | null;
  finished_at: string | null;
  error?: string;
}

export interface RunSummary {
  result: 'ok' | 'failed' | 'nothing to do';
  state_file: string;
  /** Wall time of this run, seconds. */
  seconds: number;
  stages: StageSummary[];
  failed?: { stage: string; error: string };
}

export class UsageError extends BootstackError {
  constructor(message: string) {
    super(2, 'bad_option', message);
  }
}

/** The stages this run runs, by name, in order. */
export function selectStages(names: readonly string[], state: DevtestState, sel: Selection): string[] {
  const known = (what: string, name: string) => {
    if (!names.includes(name)) throw new UsageError(`${what}: no stage "${name}"; the stages are ${names.join(', ')}`);
  };
  if (sel.from !== undefined && sel.only !== undefined) throw new UsageError('--from and --only do not go together');
  if (sel.only !== undefined) {
    known('--only', sel.only);
    return [sel.only];
  }
  if (sel.from !== undefined) {
    known('--from', sel.from);
    return names.slice(names.indexOf(sel.from));
  }
  const first = names.findIndex((n) => state.stages[n]?.status !== 'done');
  return first < 0 ? [] : names.slice(first);
}

function summarize(names: readonly string[], state: DevtestState, ran: ReadonlySet<string>): StageSummary[] {
  return names.map((name) => {
    const r: StageRecord | undefined = state.stages[name];
    const s: StageSummary = {
      name,
      status: r?.status ?? 'pending',
      ran: ran.has(name),
      seconds: r?.seconds ?? null,
      finished_at: r?.finished_at ?? null,
    };
    if (r?.error !== undefined) s.error = r.error;
    return s;
  });
}

function outputsOf(state: DevtestState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(state.stages)) if (r.status === 'done') out[name] = r.output ?? null;
  return out;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface RunOptions extends Selection {
  statePath: string;
  reporter: Reporter;
  signal?: AbortSignal;
}

export async function runStages(stages: readonly Stage[], o: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const names = stages.map((s) => s.name);
  const state = await readState(o.statePath);
  const selected = selectStages(names, state, o);
  const ran = new Set<string>();
  const signal = o.signal ?? new AbortController().signal;
  const finish = (result: RunSummary['result'], failed?: RunSummary['failed']): RunSummary => ({
    result,
    state_file: o.statePath,
    seconds: Math.round(Date.now() - started) / 1000,
    stages: summarize(names, state, ran),
    ...(failed ? { failed } : {}),
  });
  if (selected.length === 0) return finish('nothing to do');

  o.reporter.runStart(selected);
  try {
    for (const [i, name] of selected.entries()) {
      const stage = stages.find((s) => s.name === name)!;
      const t0 = performance.now();
      const startedAt = new Date().toISOString();
      state.stages[name] = { status: 'running', started_at: startedAt };
      await writeState(o.statePath, state);
      ran.add(name);
      o.reporter.stageStart(name, i, selected.length, stage.description);
      let output: unknown;
      let failure: unknown;
      try {
        signal.throwIfAborted();
        output = await stage.run({ outputs: outputsOf(state), progress: (m) => o.reporter.progress(name, m), signal });
        // What the state file will hold, so the stages after read what a re-run would read.
        output = output === undefined ? null : JSON.parse(JSON.stringify(output));
      } catch (err) {
        failure = signal.aborted ? new Error(`interrupted (${message(signal.reason ?? err)})`, { cause: err }) : err;
      }
      const seconds = Math.round(performance.now() - t0) / 1000;
      const finishedAt = new Date().toISOString();
      if (failure === undefined) {
        state.stages[name] = { status: 'done', started_at: startedAt, finished_at: finishedAt, seconds, output };
        await writeState(o.statePath, state);
        o.reporter.stageEnd(name, 'done', seconds);
        continue;
      }
      const error = message(failure);
      state.stages[name] = { status: 'failed', started_at: startedAt, finished_at: finishedAt, seconds, error };
      await writeState(o.statePath, state);
      o.reporter.stageEnd(name, 'failed', seconds, error);
      return finish('failed', { stage: name, error });
    }
  } finally {
    o.reporter.runEnd();
  }
  return finish('ok');
}
