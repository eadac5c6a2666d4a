// kill -9 the server while nodes are mid-operation (fake drivers with a delay), start it again
// on the same state directory: no node stays in an -ing state; each operation either resumed
// and finished (verifying, power actions: safe to repeat) or failed with a reason saying what
// was interrupted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeed, type Loose, type Seed } from './baremetal-helpers.js';
import { adminToken } from './support/serve-process.js';

const stateDir = mkdtempSync(join(tmpdir(), 'bm-restart-'));
const configFile = join(stateDir, 'bootstack.yaml');
writeFileSync(
  configFile,
  `services: [identity, baremetal]
log: { level: warn }
baremetal:
  conductor: { host: restart-test, check_interval: 0.2, sync_power_state_interval: 0 }
`,
);
let seed: Seed | undefined;
after(async () => {
  await seed?.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

async function start(): Promise<string> {
  seed = await startSeed({ stateDir, configFile });
  return seed.url;
}

const token = (url: string) => adminToken(url, stateDir);

function client(url: string, tok: string) {
  return async (method: string, path: string, body?: unknown, version = '1.78') => {
    const res = await fetch(`${url}/baremetal/v1${path}`, {
      method,
      headers: { 'x-auth-token': tok, 'x-openstack-ironic-api-version': version, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

test('after kill -9 mid-operation, a restart leaves no node stuck and explains every interruption', { timeout: 120_000 }, async () => {
  let url = await start();
  let call = client(url, await token(url));
  const slow = { fake_delay_ms: 60_000 };
  const mk = async (name: string, version: string, info: object) => {
    const r = await call('POST', '/nodes', { name, driver: 'fake-hardware', driver_info: info }, version);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  };
  const move = async (name: string, target: string) => assert.equal((await call('PUT', `/nodes/${name}/states/provision`, { target })).status, 202);
  const show = async (name: string) => (await call('GET', `/nodes/${name}`)).body;
  const until = async (name: string, ok: (n: Loose) => boolean) => {
    for (let i = 0; i < 300; i++) {
      const n = await show(name);
      if (ok(n)) return n;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${name} never settled: ${JSON.stringify(await show(name))}`);
  };

  // 1.9 creates nodes straight into "available" (Ironic before 1.11).
  await mk('deploying-0', '1.9', slow);
  await mk('cleaning-0', '1.9', slow);
  await mk('verifying-0', '1.78', { fake_delay_ms: 6000 });
  await mk('power-0', '1.9', { fake_delay_ms: 6000 });
  await mk('deleting-0', '1.9', {});
  await move('deleting-0', 'active');
  await until('deleting-0', (n) => n.provision_state === 'active' && !n.reservation);
  assert.equal((await call('PATCH', '/nodes/deleting-0', [{ op: 'add', path: '/driver_info/fake_delay_ms', value: 60_000 }])).status, 200);

  await move('deploying-0', 'active');
  await move('cleaning-0', 'manage');
  await until('cleaning-0', (n) => n.provision_state === 'manageable' && !n.reservation);
  await move('cleaning-0', 'provide');
  await move('verifying-0', 'manage');
  assert.equal((await call('PUT', '/nodes/power-0/states/power', { target: 'power on' })).status, 202);
  await move('deleting-0', 'deleted');

  const before = Object.fromEntries(await Promise.all(['deploying-0', 'cleaning-0', 'verifying-0', 'power-0', 'deleting-0'].map(async (n) => [n, await show(n)])));
  assert.equal(before['deploying-0'].provision_state, 'deploying');
  assert.equal(before['cleaning-0'].provision_state, 'cleaning');
  assert.equal(before['verifying-0'].provision_state, 'verifying');
  assert.equal(before['power-0'].target_power_state, 'power on');
  assert.equal(before['deleting-0'].provision_state, 'deleting');
  for (const n of Object.values(before)) assert.equal((n as Loose).reservation, 'restart-test');

  await seed!.kill('SIGKILL');

  url = await start();
  call = client(url, await token(url));
  const settled = (n: Loose) => n.reservation === null && n.target_power_state === null && !['verifying', 'cleaning', 'deploying', 'deleting', 'inspecting', 'adopting'].includes(n.provision_state);

  const dep = await until('deploying-0', settled);
  assert.equal(dep.provision_state, 'deploy failed');
  assert.match(dep.last_error, /Conductor restart-test restarted while the node was "deploying" \(operation "deploy" started at .*\); the operation was interrupted/);
  const cln = await until('cleaning-0', settled);
  assert.equal(cln.provision_state, 'clean failed');
  assert.match(cln.last_error, /while the node was "cleaning"/);
  const del = await until('deleting-0', settled);
  assert.equal(del.provision_state, 'error');
  assert.match(del.last_error, /while the node was "deleting"/);
  // Resumed and finished after the restart.
  const ver = await until('verifying-0', settled);
  assert.equal(ver.provision_state, 'manageable');
  assert.equal(ver.last_error, null);
  const pw = await until('power-0', settled);
  assert.equal(pw.power_state, 'power on');
  const hist = (await call('GET', '/nodes/power-0/history')).body.history.map((e: Loose) => e.event);
  assert.ok(hist.some((e: string) => /resuming "power on" interrupted by a restart/.test(e)), hist.join('\n'));

  // A failed node can be retried.
  assert.equal((await call('PATCH', '/nodes/deploying-0', [{ op: 'replace', path: '/driver_info/fake_delay_ms', value: 0 }])).status, 200);
  await move('deploying-0', 'active');
  const redeployed = await until('deploying-0', settled);
  assert.equal(redeployed.provision_state, 'active');
  assert.equal(redeployed.last_error, null);
});
