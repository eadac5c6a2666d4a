// `bootstack devtest` end to end on this host, as an operator runs it (the command, not its
// modules): a lab of QEMU machines (TCG here) behind a Redfish BMC, the images (the undercloud's
// built here unless cached), a seed that deploys the undercloud with `openstack stack create`, the
// pivot into the undercloud, the seed stopped, the hand-over checked through the openstack CLI
// against the undercloud alone, the overcloud demo deployed by the undercloud and smoke-tested
// from this host, the database machine replaced by a stack update and the smoke test again, and
// the undercloud's update of its own stack (re-rendered, restarted, every record kept). Each stage
// checks what it claims and fails the run otherwise; this test reads the state file the stages
// wrote to check their outputs agree, and prints the stage times (docs/benchmarks.md keeps them).
// It runs alone (scripts/run-tests.mjs SOLO): each lab machine under TCG takes a core.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { devtestFigures } from './support/devtest/figures.js';
import type { DevtestState } from '../src/devtest/state.js';

const dir = join(mkdtempSync(join(tmpdir(), 'bootstack-devtest-')), 'run');
const bin = join(import.meta.dirname, '..', 'bin', 'bootstack.js');
const bootstack = (args: string[], timeoutMs: number) =>
  run(process.execPath, [bin, ...args], { allowFailure: true, timeoutMs, onStderr: (b) => void process.stderr.write(b) });

after(async () => {
  const r = await bootstack(['devtest', 'clean', '--dir', dir], 5 * 60_000);
  process.stderr.write(r.stdout);
});

interface Summary {
  result: string;
  end: string;
  seconds: number;
  stages: Array<{ name: string; status: string; ran: boolean; seconds: number | null; error?: string }>;
  failed?: { stage: string; error: string };
}

test('bootstack devtest: seed → undercloud → pivot → seed stopped → overcloud, replaced machine, self-update; every stage passes', { timeout: 75 * 60_000 }, async () => {
  const r = await bootstack(['devtest', '--dir', dir, '--keep', '-f', 'json'], 70 * 60_000);
  let summary: Summary;
  try {
    summary = JSON.parse(r.stdout) as Summary;
  } catch {
    assert.fail(`bootstack devtest exited ${r.code} without its summary:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  }
  assert.equal(summary.result, 'ok', `devtest failed at ${summary.failed?.stage}: ${summary.failed?.error}`);
  assert.equal(r.code, 0);
  assert.equal(summary.end, 'kept');
  assert.deepEqual(
    summary.stages.map((s) => `${s.name} ${s.status}`),
    ['lab', 'images', 'seed', 'undercloud', 'pivot', 'seed-stop', 'handover', 'overcloud', 'smoke', 'replace', 'undercloud-update'].map((n) => `${n} done`),
  );

  const state = JSON.parse(readFileSync(join(dir, 'devtest-state.json'), 'utf8')) as { stages: Record<string, { output: Record<string, unknown> }> };
  const out = (stage: string) => state.stages[stage]!.output as Record<string, unknown>;
  const pivot = out('pivot');
  const report = pivot.report as { bytes: number; counts: Record<string, number>; seconds: number };
  const seedInventory = pivot.seed_inventory as { nodes: unknown[]; images: unknown[] };
  assert.ok(report.bytes > 0 && report.counts.baremetal_nodes === seedInventory.nodes.length, JSON.stringify(report.counts));
  const handover = out('handover');
  assert.deepEqual((handover.inventory as { images: unknown[] }).images, seedInventory.images, 'the same images with the same checksums');
  assert.equal(out('seed-stop').result, 'stopped');
  const replace = out('replace');
  assert.notEqual(replace.new_server, replace.old_server);
  const update = out('undercloud-update');
  assert.notEqual(update.pid_after, update.pid_before);
  process.stderr.write(`devtest figures: ${JSON.stringify(devtestFigures(state as DevtestState))}\n`);
});
