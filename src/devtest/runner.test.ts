// The stage runner with fake stages (no lab, no QEMU): order and outputs, resuming after a failed
// stage, --from and --only, the state file (atomic replacement, 0600, readable at every moment),
// interruption, and the summary's JSON shape; then a whole run's ending (teardown, --keep, failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStages, selectStages, UsageError, type Stage, type StageContext } from './runner.js';
import { LineReporter } from './progress.js';
import { emptyState, readState } from './state.js';
import { runDevtest } from './devtest.js';
import { DevtestLayout } from './layout.js';
import type { LabApi } from './deps.js';
import type { SeedControl } from './seed-process.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'devtest-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

class Recorder extends LineReporter {
  lines: string[] = [];
  constructor() {
    super();
  }
  protected override line(text: string): void {
    this.lines.push(text);
  }
}

interface Fakes {
  stages: Stage[];
  calls: string[];
  seen: Record<string, Readonly<Record<string, unknown>>>;
  failing: Set<string>;
}

/** Stages a..e; each returns {by: name, n}; those in `failing` throw. */
function fakeStages(names = ['a', 'b', 'c', 'd', 'e']): Fakes {
  const f: Fakes = { stages: [], calls: [], seen: {}, failing: new Set() };
  let n = 0;
  f.stages = names.map((name) => ({
    name,
    description: `stage ${name}`,
    async run(ctx: StageContext) {
      f.calls.push(name);
      f.seen[name] = ctx.outputs;
      ctx.progress(`working on ${name}`);
      if (f.failing.has(name)) throw new Error(`${name} broke`);
      return { by: name, n: ++n };
    },
  }));
  return f;
}

test('a fresh run runs every stage in order; each sees the outputs of the ones before', async (t) => {
  const dir = tempDir(t);
  const f = fakeStages();
  const rep = new Recorder();
  const s = await runStages(f.stages, { statePath: join(dir, 'state.json'), reporter: rep });
  assert.equal(s.result, 'ok');
  assert.deepEqual(f.calls, ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(f.seen.c, { a: { by: 'a', n: 1 }, b: { by: 'b', n: 2 } });
  const state = await readState(join(dir, 'state.json'));
  assert.deepEqual(Object.keys(state.stages), ['a', 'b', 'c', 'd', 'e']);
  for (const r of Object.values(state.stages)) {
    assert.equal(r.status, 'done');
    assert.equal(typeof r.seconds, 'number');
    assert.ok(r.finished_at! >= r.started_at);
  }
  assert.deepEqual(state.stages.e!.output, { by: 'e', n: 5 });
  assert.ok(rep.lines.some((l) => l.trim().startsWith('== devtest 3/5: c — stage c')), rep.lines.join('\n'));
  assert.ok(rep.lines.some((l) => /^\[c \+\d+\.\ds\] working on c$/.test(l)), rep.lines.join('\n'));
  assert.ok(rep.lines.some((l) => /^== c: done in \d+\.\ds$/.test(l)));
});

test('a failed stage stops the run; the next run resumes there, with the earlier outputs from the file', async (t) => {
  const dir = tempDir(t);
  const statePath = join(dir, 'state.json');
  const f = fakeStages();
  f.failing.add('c');
  const first = await runStages(f.stages, { statePath, reporter: new Recorder() });
  assert.equal(first.result, 'failed');
  assert.deepEqual(first.failed, { stage: 'c', error: 'c broke' });
  assert.deepEqual(f.calls, ['a', 'b', 'c']);
  assert.deepEqual(
    first.stages.map((s) => [s.name, s.status, s.ran]),
    [['a', 'done', true], ['b', 'done', true], ['c', 'failed', true], ['d', 'pending', false], ['e', 'pending', false]],
  );
  const state = await readState(statePath);
  assert.equal(state.stages.c!.status, 'failed');
  assert.equal(state.stages.c!.error, 'c broke');
  assert.equal(state.stages.d, undefined);

  // Fixed: a new runner (a new process) resumes at c.
  const g = fakeStages();
  const second = await runStages(g.stages, { statePath, reporter: new Recorder() });
  assert.equal(second.result, 'ok');
  assert.deepEqual(g.calls, ['c', 'd', 'e']);
  assert.deepEqual(g.seen.c, { a: { by: 'a', n: 1 }, b: { by: 'b', n: 2 } }, 'the outputs of the first run, read from the state file');
  assert.deepEqual(
    second.stages.map((s) => [s.name, s.status, s.ran]),
    [['a', 'done', false], ['b', 'done', false], ['c', 'done', true], ['d', 'done', true], ['e', 'done', true]],
  );
  assert.equal(typeof second.stages[0]!.seconds, 'number', 'a stage done earlier keeps its time');

  // Everything done: nothing to do.
  const h = fakeStages();
  const third = await runStages(h.stages, { statePath, reporter: new Recorder() });
  assert.equal(third.result, 'nothing to do');
  assert.deepEqual(h.calls, []);
});

test('--from re-runs a stage and the ones after it; --only runs one stage', async (t) => {
  const dir = tempDir(t);
  const statePath = join(dir, 'state.json');
  await runStages(fakeStages().stages, { statePath, reporter: new Recorder() });

  const f = fakeStages();
  const from = await runStages(f.stages, { statePath, reporter: new Recorder(), from: 'd' });
  assert.equal(from.result, 'ok');
  assert.deepEqual(f.calls, ['d', 'e']);
  assert.deepEqual(Object.keys(f.seen.d!), ['a', 'b', 'c', 'e'], 'it sees the outputs of the stages done (its own record says running)');

  const g = fakeStages();
  const only = await runStages(g.stages, { statePath, reporter: new Recorder(), only: 'b' });
  assert.deepEqual(g.calls, ['b']);
  assert.deepEqual(only.stages.filter((s) => s.ran).map((s) => s.name), ['b']);

  // --only on a failing stage: recorded as failed; the others keep their records.
  const h = fakeStages();
  h.failing.add('b');
  const failed = await runStages(h.stages, { statePath, reporter: new Recorder(), only: 'b' });
  assert.equal(failed.result, 'failed');
  const state = await readState(statePath);
  assert.deepEqual(Object.entries(state.stages).map(([k, r]) => [k, r.status]), [['a', 'done'], ['b', 'failed'], ['c', 'done'], ['d', 'done'], ['e', 'done']]);
  // ... and a plain run resumes at b, then runs everything after it.
  const i = fakeStages();
  await runStages(i.stages, { statePath, reporter: new Recorder() });
  assert.deepEqual(i.calls, ['b', 'c', 'd', 'e']);
});

test('selection: unknown stages and --from with --only are usage errors', () => {
  const names = ['a', 'b', 'c'];
  const st = emptyState();
  assert.deepEqual(selectStages(names, st, {}), ['a', 'b', 'c']);
  assert.throws(() => selectStages(names, st, { from: 'x' }), (e: unknown) => e instanceof UsageError && /--from: no stage "x"; the stages are a, b, c/.test(e.message));
  assert.throws(() => selectStages(names, st, { only: 'x' }), /--only: no stage "x"/);
  assert.throws(() => selectStages(names, st, { from: 'a', only: 'b' }), /--from and --only do not go together/);
  st.stages.a = { status: 'done', started_at: '' };
  st.stages.b = { status: 'running', started_at: '' };
  assert.deepEqual(selectStages(names, st, {}), ['b', 'c'], 'a stage a killed run left running is not done');
});

test('the state file is replaced whole (rename), never rewritten in place; 0600; valid JSON while a stage runs', async (t) => {
  const dir = tempDir(t);
  const statePath = join(dir, 'state.json');
  // A descriptor opened on the file at each stage keeps that version: a write in place would change
  // what it reads, a rename leaves it as it was (and the open file keeps its inode from being reused).
  const held: Array<{ fd: number; ino: number; text: string }> = [];
  t.after(() => held.forEach((h) => closeSync(h.fd)));
  const stages: Stage[] = ['a', 'b'].map((name) => ({
    name,
    description: name,
    async run() {
      const fd = openSync(statePath, 'r');
      const text = readFileSync(fd, 'utf8');
      held.push({ fd, ino: fstatSync(fd).ino, text });
      assert.equal(JSON.parse(text).stages[name].status, 'running', 'a stage that runs is recorded as running');
      return { secret: 'x', at: new Date(0) };
    },
  }));
  await runStages(stages, { statePath, reporter: new Recorder() });
  const inodes = [...held.map((h) => h.ino), statSync(statePath).ino];
  assert.equal(new Set(inodes).size, inodes.length, `each version is a new file: ${inodes.join(' ')}`);
  for (const h of held) {
    const again = Buffer.alloc(h.text.length + 100);
    const n = readSync(h.fd, again, 0, again.length, 0);
    assert.equal(again.subarray(0, n).toString('utf8'), h.text, 'an earlier version is unchanged');
  }
  assert.equal(statSync(statePath).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary files left');
  const state = await readState(statePath);
  assert.deepEqual(state.stages.a!.output, { secret: 'x', at: '1970-01-01T00:00:00.000Z' }, 'outputs as JSON');
});

test('a state file that is not one is refused, naming it', async (t) => {
  const dir = tempDir(t);
  const statePath = join(dir, 'state.json');
  writeFileSync(statePath, '{"version": 1, "stag');
  await assert.rejects(runStages(fakeStages().stages, { statePath, reporter: new Recorder() }), new RegExp(`${statePath} is not JSON`));
  writeFileSync(statePath, '{"version": 7, "stages": {}}');
  await assert.rejects(readState(statePath), /not a devtest state file of version 1/);
});

test('an interrupted stage is recorded as failed (interrupted), and the run stops', async (t) => {
  const dir = tempDir(t);
  const statePath = join(dir, 'state.json');
  const ac = new AbortController();
  const calls: string[] = [];
  const stages: Stage[] = [
    {
      name: 'slow',
      description: 'waits for the signal',
      run: (ctx) =>
        new Promise((_, reject) => {
          calls.push('slow');
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted wait')));
          setTimeout(() => ac.abort(new Error('SIGINT received')), 10);
        }),
    },
    { name: 'after', description: 'never', run: async () => void calls.push('after') },
  ];
  const s = await runStages(stages, { statePath, reporter: new Recorder(), signal: ac.signal });
  assert.equal(s.result, 'failed');
  assert.deepEqual(calls, ['slow']);
  assert.match(s.failed!.error, /^interrupted \(SIGINT received\)$/);
  assert.equal((await readState(statePath)).stages.slow!.status, 'failed');
});

test('the summary as JSON: its keys and each stage row', async (t) => {
  const dir = tempDir(t);
  const f = fakeStages(['a', 'b']);
  f.failing.add('b');
  const s = JSON.parse(JSON.stringify(await runStages(f.stages, { statePath: join(dir, 'state.json'), reporter: new Recorder() })));
  assert.deepEqual(Object.keys(s).sort(), ['failed', 'result', 'seconds', 'stages', 'state_file']);
  assert.equal(s.result, 'failed');
  assert.equal(s.state_file, join(dir, 'state.json'));
  assert.equal(typeof s.seconds, 'number');
  assert.deepEqual(Object.keys(s.stages[0]).sort(), ['finished_at', 'name', 'ran', 'seconds', 'status']);
  assert.deepEqual(Object.keys(s.stages[1]).sort(), ['error', 'finished_at', 'name', 'ran', 'seconds', 'status']);
  assert.deepEqual({ ...s.stages[1], seconds: 0, finished_at: '' }, { name: 'b', status: 'failed', ran: true, seconds: 0, finished_at: '', error: 'b broke' });
});

function fakeEnds(): { lab: LabApi; seed: SeedControl; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lab: {
      up: async () => assert.fail('no lab up here'),
      down: async (o) => (calls.push(`lab down ${o.dir}`), true),
    },
    seed: {
      start: async () => assert.fail('no seed start here'),
      stop: async (files) => (calls.push(`seed stop ${files.pid}`), 'stopped'),
      running: () => undefined,
    },
  };
}

test('a whole run: torn down after the last stage, kept with --keep, left for a look after a failure', async (t) => {
  const base = tempDir(t);
  // Finished, no --keep: teardown stops the seed, takes the lab down, removes the directory.
  const layout = new DevtestLayout(join(base, 'run1'));
  mkdirSync(layout.seedDir, { recursive: true });
  const ends = fakeEnds();
  const done = await runDevtest(layout, fakeStages(['first', 'smoke']).stages, ends, { reporter: new Recorder() });
  assert.equal(done.result, 'ok');
  assert.equal(done.end, 'torn down');
  assert.equal(done.teardown?.name, 'teardown');
  assert.deepEqual(ends.calls, [`seed stop ${layout.seedPid}`, `lab down ${layout.lab}`]);
  assert.ok(!existsSync(layout.dir), 'the directory is gone');
  assert.deepEqual(done.next, []);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(done))).sort(), ['dir', 'end', 'next', 'result', 'seconds', 'stages', 'state_file', 'teardown']);

  // --keep: left running, directions to reach it and to clean up.
  const kept = new DevtestLayout(join(base, 'run2'));
  const ends2 = fakeEnds();
  const k = await runDevtest(kept, fakeStages(['first', 'smoke']).stages, ends2, { keep: true, reporter: new Recorder() });
  assert.equal(k.end, 'kept');
  assert.deepEqual(ends2.calls, []);
  assert.ok(existsSync(kept.state));
  assert.equal(k.next.at(-1)?.startsWith(`bootstack devtest clean --dir ${kept.dir}`), true, k.next.join('\n'));

  // A failure: nothing torn down, the way to resume.
  const broken = new DevtestLayout(join(base, 'run3'));
  const f = fakeStages(['first', 'seed', 'smoke']);
  f.failing.add('seed');
  const ends3 = fakeEnds();
  const r = await runDevtest(broken, f.stages, ends3, { reporter: new Recorder() });
  assert.equal(r.result, 'failed');
  assert.equal(r.end, 'left as it is');
  assert.deepEqual(ends3.calls, []);
  assert.equal(r.next[1], `bootstack devtest --dir ${broken.dir}`);
  const o = await runDevtest(broken, fakeStages(['first', 'seed', 'smoke']).stages, ends3, { only: 'first', reporter: new Recorder() });
  assert.equal(o.end, 'left as it is', 'an --only run never tears down');
  assert.deepEqual(ends3.calls, []);
  assert.equal(statSync(broken.dir).mode & 0o777, 0o700);
});
