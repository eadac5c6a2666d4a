// os-refresh-config against Debian's (/usr/bin/os-refresh-config) on the same phase trees: the
// scripts that ran, in the same order, with the same environment.d variables, the same stop on
// the first failure (error.d then runs), the same exit status, and the same refusal while another
// run holds the lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { run } from '../../common/child-process.js';
import { main } from './cli.js';
import { compareNumeric } from './run-parts.js';

const SCRIPT = '#!/bin/sh\necho "$(basename "$0") ${FROM_ENV:-unset} ${LOCAL_ONLY:-unset}" >> "$LOG"\n';

function tree(base: string, opts: { failIn?: string; failCode?: number; only?: string[] }): void {
  const w = (p: string, body: string, mode = 0o755) => {
    mkdirSync(join(base, p, '..'), { recursive: true });
    writeFileSync(join(base, p), body, { mode });
  };
  w('environment.d/10-env', 'export FROM_ENV=hello\nLOCAL_ONLY=shell-var\n', 0o644);
  w('shared/target', SCRIPT);
  const phases: Record<string, string[]> = {
    'pre-configure.d': ['10-a', '2-b', '00-c', 'zeta', 'Alpha', '9_x', '-1-neg'],
    'configure.d': ['10-x', '20-y', '30-after'],
    'post-configure.d': ['1-p', '2-q'],
    'migration.d': ['1-m'],
    'error.d': ['1-err'],
  };
  for (const [phase, names] of Object.entries(phases)) {
    if (opts.only && !opts.only.includes(phase)) continue;
    for (const n of names) {
      const failing = opts.failIn === `${phase}/${n}`;
      w(`${phase}/${n}`, failing ? `${SCRIPT}exit ${opts.failCode ?? 3}\n` : SCRIPT);
    }
  }
  if (!opts.only || opts.only.includes('pre-configure.d')) {
    w('pre-configure.d/with.dot', SCRIPT);
    w('pre-configure.d/notexec', SCRIPT, 0o644);
    w('pre-configure.d/sub/1-inner', SCRIPT);
    symlinkSync('../shared/target', join(base, 'pre-configure.d/5-link'));
  }
}

interface Outcome {
  code: number | null;
  log: string;
}

async function python(base: string, lock: string, log: string): Promise<Outcome> {
  const r = await run('/usr/bin/os-refresh-config', ['--lockfile', lock], {
    env: { ...process.env, OS_REFRESH_CONFIG_BASE_DIR: base, LOG: log },
    allowFailure: true,
    timeoutMs: 60_000,
  });
  return { code: r.code, log: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

async function ours(base: string, lock: string, log: string, extra: string[] = []): Promise<Outcome & { stderr: string }> {
  let stderr = '';
  const code = await main(['--lockfile', lock, ...extra], {
    env: { ...process.env, OS_REFRESH_CONFIG_BASE_DIR: base, LOG: log },
    stdout: () => undefined,
    stderr: (s) => (stderr += s),
  });
  return { code, log: existsSync(log) ? readFileSync(log, 'utf8') : '', stderr };
}

async function both(opts: Parameters<typeof tree>[1]) {
  const root = mkdtempSync(join(tmpdir(), 'orc-diff-'));
  try {
    for (const side of ['py', 'ts']) tree(join(root, side), opts);
    const py = await python(join(root, 'py'), join(root, 'py.lock'), join(root, 'py.log'));
    const ts = await ours(join(root, 'ts'), join(root, 'ts.lock'), join(root, 'ts.log'));
    return { py, ts };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('all phases in order, like the original', async () => {
  const { py, ts } = await both({});
  assert.equal(py.code, 0);
  assert.equal(ts.code, 0);
  assert.equal(ts.log, py.log);
  assert.match(ts.log, /^-1-neg hello unset\n00-c /);
  assert.ok(ts.log.includes('1-m hello'));
  assert.ok(!ts.log.includes('1-err'), 'error.d runs only on failure');
});

test('the first failing script stops the run; error.d runs; exit 1', async () => {
  const { py, ts } = await both({ failIn: 'configure.d/20-y', failCode: 3 });
  assert.equal(py.code, 1);
  assert.equal(ts.code, 1);
  assert.equal(ts.log, py.log);
  assert.match(ts.log, /20-y hello unset\n1-err hello unset\n$/);
  assert.match(ts.stderr, /configure\.d\/20-y returned non-zero exit status 3/);
});

test('missing phase directories are skipped', async () => {
  const { py, ts } = await both({ only: ['configure.d', 'migration.d'] });
  assert.equal(ts.code, py.code);
  assert.equal(ts.log, py.log);
});

test('a held lock refuses the run with EWOULDBLOCK, as the original does', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orc-lock-'));
  const lock = join(root, 'lock');
  writeFileSync(lock, '');
  // Another process holds the lock (flock(1) with a sleeping child).
  const holder = spawn('flock', [lock, 'sh', '-c', 'echo held; sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  try {
    await new Promise((r) => holder.stdout.once('data', r));
    tree(join(root, 'base'), {});
    const py = await python(join(root, 'base'), lock, join(root, 'py.log'));
    const ts = await ours(join(root, 'base'), lock, join(root, 'ts.log'));
    assert.equal(py.code, 11);
    assert.equal(ts.code, 11);
    assert.equal(ts.log, '');
    assert.match(ts.stderr, /Could not lock/);
  } finally {
    process.kill(-(holder.pid as number), 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

test('two of our runs never overlap', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orc-overlap-'));
  try {
    const base = join(root, 'base');
    mkdirSync(join(base, 'configure.d'), { recursive: true });
    writeFileSync(join(base, 'configure.d/10-slow'), '#!/bin/sh\necho start >> "$LOG"\nsleep 3\necho end >> "$LOG"\n', { mode: 0o755 });
    const first = ours(base, join(root, 'lock'), join(root, 'log'));
    // The second starts only once the first is inside its phase, holding the lock.
    const deadline = Date.now() + 30_000;
    while (!(existsSync(join(root, 'log')) && readFileSync(join(root, 'log'), 'utf8').includes('start')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await ours(base, join(root, 'lock'), join(root, 'log'));
    assert.equal(second.code, 11);
    assert.equal((await first).code, 0);
    assert.equal(readFileSync(join(root, 'log'), 'utf8'), 'start\nend\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('--timeout kills the running script and fails the run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orc-timeout-'));
  try {
    const base = join(root, 'base');
    mkdirSync(join(base, 'configure.d'), { recursive: true });
    writeFileSync(join(base, 'configure.d/10-hang'), '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
    const r = await ours(base, join(root, 'lock'), join(root, 'log'), ['--timeout', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Timeout reached: 1s/);
    assert.match(r.stderr, /10-hang was killed by SIGKILL/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('sort -n order', () => {
  assert.deepEqual(['10-a', '2-b', 'b', 'a', '00-c', '-1'].sort(compareNumeric), ['-1', '00-c', 'a', 'b', '2-b', '10-a']);
});
