// `npm run bench -- devtest [--cold] [--keep]`: runs `bootstack devtest` in a fresh directory
// (as root, with the lab's packages) and prints its figures (src/devtest/figures.ts): each stage's
// time, the pivot's time and bytes, the seed's and the undercloud's server RSS, the two stack
// updates. --cold uses an empty image cache (BOOTSTACK_CACHE_DIR in a temporary directory: every
// image built, the Debian base fetched); --keep leaves the run up. `--state <dir>` only reads the
// figures of a run already made in <dir>.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { devtestFigures } from '../test/support/devtest/figures.js';
import { readState, STATE_FILE } from '../src/devtest/state.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'bootstack.js');

export default async function devtest(args: string[]): Promise<unknown> {
  const machine = { cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
  const stateAt = args.indexOf('--state');
  if (stateAt >= 0) {
    const dir = args[stateAt + 1];
    if (!dir) throw new Error('--state needs a devtest directory');
    if (!existsSync(join(dir, STATE_FILE))) throw new Error(`--state ${dir}: no ${STATE_FILE} there (not a devtest directory, or cleaned)`);
    return { source: dir, machine, ...devtestFigures(await readState(join(dir, STATE_FILE))) };
  }
  const base = mkdtempSync(join(tmpdir(), 'bench-devtest-'));
  const dir = join(base, 'run');
  const cold = args.includes('--cold');
  const env = { ...process.env, ...(cold ? { BOOTSTACK_CACHE_DIR: join(base, 'cache') } : {}) };
  const started = performance.now();
  try {
    const r = await run(process.execPath, [BIN, 'devtest', '--dir', dir, '--keep', '-f', 'json'], { env, allowFailure: true, onStderr: (b) => void process.stderr.write(b) });
    const wall = Math.round((performance.now() - started) / 100) / 10;
    const summary = JSON.parse(r.stdout || '{}') as { result?: string; failed?: unknown };
    const figures = devtestFigures(await readState(join(dir, STATE_FILE)));
    return { cache: cold ? 'cold' : 'warm', result: summary.result, ...(summary.failed ? { failed: summary.failed } : {}), wall_s: wall, machine, ...figures };
  } finally {
    // Whatever happened (a crash, a summary that is not JSON), nothing of the run is left behind.
    if (!args.includes('--keep')) {
      await run(process.execPath, [BIN, 'devtest', 'clean', '--dir', dir], { env, allowFailure: true });
      rmSync(base, { recursive: true, force: true });
    }
  }
}
