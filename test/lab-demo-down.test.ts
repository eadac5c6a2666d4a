// `scripts/lab-demo.sh down` without a lab (no root, no QEMU): it removes only what `up` made, is
// safe to repeat, never signals a process a stale pid file names, and does not leave a seed that
// ignores SIGTERM (with its dnsmasq) running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';

const ROOT = join(import.meta.dirname, '..');

/** Running, and not a zombie waiting for its parent. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function down(demo: string) {
  return run('bash', [join(ROOT, 'scripts/lab-demo.sh'), 'down'], { env: { ...process.env, BOOTSTACK_DEMO_DIR: demo }, allowFailure: true, timeoutMs: 60_000 });
}

function tempDemo(t: { after: (fn: () => void) => void }): string {
  const demo = mkdtempSync(join(tmpdir(), 'bootstack-demo-down-'));
  t.after(() => rmSync(demo, { recursive: true, force: true }));
  return demo;
}

test('down removes what up made, keeps other files in BOOTSTACK_DEMO_DIR, and can be repeated', async (t) => {
  const demo = tempDemo(t);
  mkdirSync(join(demo, 'state/boot'), { recursive: true });
  mkdirSync(join(demo, 'images'));
  for (const f of ['bootstack.yaml', 'serve.log', 'serve.out', 'id_ed25519', 'id_ed25519.pub', 'deployed.txt']) writeFileSync(join(demo, f), 'x');
  writeFileSync(join(demo, 'notes.txt'), 'mine');
  for (let i = 0; i < 2; i++) {
    const r = await down(demo);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(readFileSync(join(demo, 'notes.txt'), 'utf8'), 'mine');
  for (const f of ['state', 'images', 'bootstack.yaml', 'serve.log', 'id_ed25519', 'deployed.txt']) assert.ok(!existsSync(join(demo, f)), `${f} left behind`);
});

test('down never signals a process a stale serve.pid names', async (t) => {
  const demo = tempDemo(t);
  const other = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  writeFileSync(join(demo, 'serve.pid'), String(other.pid));
  const r = await down(demo);
  assert.equal(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(alive(other.pid!), 'an unrelated process was killed');
  assert.equal(other.exitCode, null);
  assert.equal(other.signalCode, null);
});

test('down kills a seed that ignores SIGTERM, and its dnsmasq, after the grace period', async (t) => {
  const demo = tempDemo(t);
  const childPidFile = join(demo, 'child.pid');
  // A stand-in seed with the real one's command line: ignores SIGTERM and has a child (dnsmasq's
  // place) in its process group, as `setsid bin/bootstack.js serve` has.
  const code = `process.on('SIGTERM', () => {});
    const c = require('node:child_process').spawn('sleep', ['300'], { stdio: 'ignore' });
    require('node:fs').writeFileSync(${JSON.stringify(childPidFile)}, String(c.pid));
    setInterval(() => {}, 1000);`;
  const seed = spawn(process.execPath, ['-e', code, join(ROOT, 'bin/bootstack.js'), 'serve', '-c', join(demo, 'bootstack.yaml')], { detached: true, stdio: 'ignore' });
  t.after(() => {
    try {
      process.kill(-seed.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  for (let i = 0; i < 100 && !existsSync(childPidFile); i++) await new Promise((res) => setTimeout(res, 50));
  const child = Number(readFileSync(childPidFile, 'utf8'));
  writeFileSync(join(demo, 'serve.pid'), String(seed.pid));
  const r = await down(demo);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /did not stop within 10 s/);
  await new Promise((res) => setTimeout(res, 300));
  assert.ok(!alive(seed.pid!), 'the seed is still running');
  assert.ok(!alive(child), "the seed's child (dnsmasq) is still running");
});
