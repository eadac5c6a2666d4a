// devtest's stages after the pivot with fakes (no lab, no openstack CLI, no ssh): the inventories
// and their comparison, a stack update waited out across its server's restart, the hand-over
// checks, the replacement of the database machine and the undercloud's update of its own stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Clients } from './clients.js';
import { fakeRunner, io, json, os, tempDir, type Call } from '../../test/support/devtest/fake-runner.js';
import { compareInventories, type Inventory } from './inventory.js';
import { DevtestLayout } from './layout.js';
import type { SeedControl } from './seed-process.js';
import { parseProcStatus } from './ssh.js';
import { updateStack } from './stacks.js';
import { runHandoverStage } from './stage-handover.js';
import type { PivotOutput } from './stage-pivot.js';
import { runReplaceStage } from './stage-replace.js';
import type { SmokeFn } from './stage-smoke.js';
import { runUndercloudUpdateStage } from './stage-undercloud-update.js';
import type { UndercloudOutput } from './stage-undercloud.js';

const INVENTORY: Inventory = {
  nodes: [
    { uuid: 'n0', name: 'lab-0', provision_state: 'active', instance_uuid: 'uc' },
    { uuid: 'n1', name: 'lab-1', provision_state: 'available', instance_uuid: null },
  ],
  images: [{ id: 'i1', name: 'sample', checksum: 'aaa' }],
  servers: [{ id: 'uc', name: 'undercloud', status: 'ACTIVE' }],
  stacks: [{ id: 's1', name: 'undercloud', status: 'CREATE_COMPLETE' }],
};

/** What the openstack CLI prints for INVENTORY-like records (-f json column names). */
function cliAnswer(cmd: string, inv: Inventory) {
  if (cmd.startsWith('baremetal node list')) return json(inv.nodes.map((n) => ({ UUID: n.uuid, Name: n.name, 'Instance UUID': n.instance_uuid, 'Power State': 'power on', 'Provisioning State': n.provision_state, Maintenance: false })));
  if (cmd.startsWith('image list')) return json(inv.images.map((i) => ({ ID: i.id, Name: i.name, Checksum: i.checksum, Status: 'active' })));
  if (cmd.startsWith('server list')) return json(inv.servers.map((s) => ({ ID: s.id, Name: s.name, Status: s.status, Networks: {} })));
  if (cmd.startsWith('stack list')) return json(inv.stacks.map((s) => ({ ID: s.id, 'Stack Name': s.name, 'Stack Status': s.status })));
  return undefined;
}

const UNDERCLOUD: UndercloudOutput = { stack_id: 's1', api_url: 'http://10.213.7.5:6385', admin_password: '', pivot_token: 't', outputs: { server_id: 'uc' } };
const stoppedSeed: SeedControl = { start: async () => ({ pid: 1, url: '' }), stop: async () => 'not running', running: () => undefined };
const procStatus = (pid: number, rssKiB: number) => `pid ${pid}\nName:\tnode\nVmHWM:\t  ${rssKiB + 1024} kB\nVmRSS:\t  ${rssKiB} kB\n`;
const sshLine = (c: Call) => (c.command === 'ssh' ? c.args.at(-1)! : '');

test('inventories: the same records compare equal; a missing node, a changed state or checksum, an extra stack are each named', () => {
  assert.deepEqual(compareInventories(INVENTORY, structuredClone(INVENTORY)), []);
  const after = structuredClone(INVENTORY);
  after.nodes[1]!.provision_state = 'clean failed';
  after.images[0]!.checksum = 'bbb';
  after.stacks[0]!.status = 'UPDATE_COMPLETE'; // an update changes a status, not the record
  after.stacks.push({ id: 's2', name: 'overcloud', status: 'CREATE_COMPLETE' });
  after.servers = [];
  assert.deepEqual(compareInventories(INVENTORY, after, { before: 'the seed', after: 'the undercloud' }), [
    'server undercloud (uc) is in the seed but not in the undercloud',
    'stack overcloud (s2) is in the undercloud but not in the seed',
    'node lab-1 is clean failed in the undercloud, was available in the seed',
    'image sample has checksum bbb in the undercloud, had aaa in the seed',
  ]);
  assert.deepEqual(parseProcStatus(7, procStatus(7, 102400)), { pid: 7, rss_mib: 100, peak_rss_mib: 101 });
  assert.equal(parseProcStatus(7, 'Name: x'), undefined);
});

test('updateStack: --existing with the changed parameter, waited for across a refused connection, new events as progress; a failure says why', async (t) => {
  const dir = tempDir(t);
  const shows = [
    { code: 1, stderr: 'Failed to establish a new connection: [Errno 111] Connection refused' },
    json({ id: 'S', stack_status: 'UPDATE_IN_PROGRESS' }),
    json({ id: 'S', stack_status: 'UPDATE_COMPLETE', outputs: [{ output_key: 'api_url', output_value: 'http://x' }] }),
  ];
  let updated = false;
  const f = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('stack event list')) return json(updated ? [{ id: 'e1', resource_name: 'old' }, { id: 'e2', resource_name: 'bootstack_deployment', resource_status: 'UPDATE_IN_PROGRESS' }] : [{ id: 'e1', resource_name: 'old' }]);
    if (cmd.startsWith('stack update')) updated = true;
    if (cmd.startsWith('stack show')) return shows.shift();
    return undefined;
  });
  const lines: string[] = [];
  const r = await updateStack(new Clients(f.run, join(dir, 'clouds.yaml')), { cloud: 'undercloud', name: 'undercloud', parameters: { log_level: 'debug' }, timeoutMinutes: 30, intervalMs: 1 }, io(lines));
  assert.deepEqual(r, { id: 'S', status: 'UPDATE_COMPLETE', outputs: { api_url: 'http://x' }, created: false });
  assert.deepEqual(f.calls.find((c) => os(c).startsWith('stack update'))!.args, ['stack', 'update', '--existing', '--parameter', 'log_level=debug', '--timeout', '30', 'undercloud']);
  assert.ok(lines.some((l) => /does not answer .*Connection refused.*: waiting/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('answers again')));
  assert.equal(lines.filter((l) => l.includes('[bootstack_deployment]')).length, 1, 'each new event once');
  assert.ok(!lines.some((l) => l.includes('[old]')), 'events from before the update are not progress');

  const failed = fakeRunner((c) => (os(c).startsWith('stack show') ? json({ id: 'S', stack_status: 'UPDATE_FAILED', stack_status_reason: 'Resource UPDATE failed: timed out' }) : os(c).startsWith('stack event') ? json([]) : undefined));
  await assert.rejects(updateStack(new Clients(failed.run, join(dir, 'clouds.yaml')), { cloud: 'overcloud', name: 'oc', timeoutMinutes: 1, intervalMs: 1 }, io()), /stack oc is UPDATE_FAILED: Resource UPDATE failed: timed out[^]*stack event list oc/);
});

test('handover: the undercloud lists what the seed listed, its own machine active with its server; a lost node fails the stage', async (t) => {
  const layout = new DevtestLayout(tempDir(t));
  const pivot = { from: 'http://seed', to: UNDERCLOUD.api_url, report: null, seed_inventory: INVENTORY } as PivotOutput;
  const answers = (inv: Inventory) => (c: Call) => cliAnswer(os(c), inv) ?? (sshLine(c).includes('MainPID') ? { stdout: procStatus(321, 150000) } : undefined);
  const f = fakeRunner(answers(INVENTORY));
  const lines: string[] = [];
  const out = await runHandoverStage({ layout, pivot, undercloud: UNDERCLOUD }, { clients: new Clients(f.run, layout.clouds), seed: stoppedSeed }, io(lines));
  assert.equal(out.undercloud_node, 'lab-0');
  assert.deepEqual(out.undercloud_memory, { pid: 321, rss_mib: 146.5, peak_rss_mib: 147.5 });
  assert.ok(f.calls.filter((c) => c.command === 'openstack').every((c) => c.cloud === 'undercloud'));
  assert.ok(lines.some((l) => /1 active, 1 available; lab-0 is active with the undercloud's own server undercloud/.test(l)), lines.join('\n'));

  const lost = structuredClone(INVENTORY);
  lost.nodes.pop();
  await assert.rejects(runHandoverStage({ layout, pivot, undercloud: UNDERCLOUD }, { clients: new Clients(fakeRunner(answers(lost)).run, layout.clouds), seed: stoppedSeed }, io()), /node lab-1 \(n1\) is in the seed \(before the pivot\) but not in the undercloud/);
  const running: SeedControl = { ...stoppedSeed, running: () => 99 };
  await assert.rejects(runHandoverStage({ layout, pivot, undercloud: UNDERCLOUD }, { clients: new Clients(f.run, layout.clouds), seed: running }, io()), /the seed still runs/);
  const notActive = structuredClone(INVENTORY);
  notActive.nodes[0]!.provision_state = 'deploy failed';
  await assert.rejects(
    runHandoverStage({ layout, pivot: { ...pivot, seed_inventory: notActive }, undercloud: UNDERCLOUD }, { clients: new Clients(fakeRunner(answers(notActive)).run, layout.clouds), seed: stoppedSeed }, io()),
    /the undercloud's own machine is lab-0, deploy failed: it should be active/,
  );
});

test('replace: the database marked unhealthy, the stack updated, a new server, the old one gone, its machine back in the pool, the smoke test again', async (t) => {
  const dir = tempDir(t);
  let updated = false;
  const nodeStates = [['active', 'clean wait'], ['active', 'available']];
  const f = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('stack resource show overcloud db')) return json({ physical_resource_id: updated ? 'db-new' : 'db-old' });
    if (cmd.startsWith('stack update')) updated = true;
    if (cmd.startsWith('stack show')) return json({ id: 'O', stack_status: 'UPDATE_COMPLETE', outputs: [{ output_key: 'db_address', output_value: '10.213.7.9' }] });
    if (cmd.startsWith('stack event list')) return json([]);
    if (cmd.startsWith('server list')) return json([{ ID: 'db-new' }, { ID: 'web-0' }]);
    if (cmd.startsWith('baremetal node list')) return json((nodeStates.shift() ?? ['active', 'available']).map((s, i) => ({ UUID: `n${i}`, Name: `lab-${i}`, 'Provisioning State': s })));
    return undefined;
  });
  const smoked: string[][] = [];
  const smoke: SmokeFn = async (urls) => {
    smoked.push([...urls]);
    return { webs: [{ url: urls[0]!, hostname: 'overcloud-web-0' }], key: 'k', value: 'v', wroteThrough: urls[0]!, readThrough: urls[0]! } as never;
  };
  const overcloud = { stack_id: 'O', web_urls: ['http://10.213.7.3:8080/'], db_address: '10.213.7.2', outputs: {} };
  const lines: string[] = [];
  const out = await runReplaceStage({ overcloud, timeoutMinutes: 30, intervalMs: 1 }, { clients: new Clients(f.run, join(dir, 'clouds.yaml')), smoke }, io(lines));
  assert.deepEqual({ ...out, update_s: 0, smoke: null }, { resource: 'db', old_server: 'db-old', new_server: 'db-new', db_address: '10.213.7.9', update_s: 0, smoke: null });
  const mark = f.calls.find((c) => os(c).startsWith('stack resource mark'))!;
  assert.deepEqual(mark.args, ['stack', 'resource', 'mark', 'unhealthy', 'overcloud', 'db', 'devtest: replace the database machine']);
  assert.ok(f.calls.indexOf(mark) < f.calls.findIndex((c) => os(c).startsWith('stack update')));
  assert.ok(lines.includes('waiting for lab-1 clean wait'), lines.join('\n'));
  assert.deepEqual(smoked, [['http://10.213.7.3:8080/']]);

  const stuck = fakeRunner((c) => (os(c).startsWith('stack resource show') ? json({ physical_resource_id: 'db-old' }) : os(c).startsWith('stack show') ? json({ id: 'O', stack_status: 'UPDATE_COMPLETE' }) : os(c).startsWith('stack event') ? json([]) : undefined));
  await assert.rejects(runReplaceStage({ overcloud, timeoutMinutes: 30, intervalMs: 1 }, { clients: new Clients(stuck.run, join(dir, 'clouds.yaml')), smoke }, io()), /db is still server db-old/);
});

test('undercloud-update: log_level flipped through a stack update; the file re-rendered, the server restarted, the same records', async (t) => {
  const layout = new DevtestLayout(tempDir(t));
  let updated = false;
  let pidAsks = 0; // the server restarts a few polls after the update completes
  const f = fakeRunner((c) => {
    const cmd = os(c);
    const line = sshLine(c);
    if (cmd === 'stack show undercloud -f json') return json({ id: 's1', stack_status: updated ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE', parameters: { log_level: 'info' } });
    if (cmd.startsWith('stack update')) updated = true;
    if (cmd.startsWith('stack event list')) return json([]);
    if (line.includes('MainPID')) return { stdout: procStatus(updated && ++pidAsks > 3 ? 200 : 100, 120000) };
    if (line.includes('bootstack.yaml')) return { stdout: updated ? 'log:\n  level: debug\nboot:\n' : 'log:\n  level: info\n' };
    return cliAnswer(cmd, INVENTORY);
  });
  // The undercloud's API, which the stage asks after the update.
  const http = createServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.after(() => http.close());
  const port = (http.address() as { port: number }).port;
  const undercloud = { ...UNDERCLOUD, api_url: `http://127.0.0.1:${port}` };
  const out = await runUndercloudUpdateStage({ layout, undercloud, timeoutMinutes: 30, intervalMs: 1 }, { clients: new Clients(f.run, layout.clouds) }, io());
  assert.equal(out.log_level, 'debug');
  assert.deepEqual([out.pid_before, out.pid_after], [100, 200]);
  assert.deepEqual(f.calls.find((c) => os(c).startsWith('stack update'))!.args, ['stack', 'update', '--existing', '--parameter', 'log_level=debug', '--timeout', '30', 'undercloud']);

  updated = false;
  const notRestarted = fakeRunner((c) => {
    if (sshLine(c).includes('MainPID')) return { stdout: procStatus(100, 120000) };
    if (sshLine(c).includes('bootstack.yaml')) return { stdout: 'log:\n  level: debug\n' };
    if (os(c) === 'stack show undercloud -f json') return json({ id: 's1', stack_status: 'UPDATE_COMPLETE', parameters: { log_level: 'info' } });
    if (os(c).startsWith('stack event list')) return json([]);
    return cliAnswer(os(c), INVENTORY);
  });
  await assert.rejects(
    runUndercloudUpdateStage({ layout, undercloud, timeoutMinutes: 30, intervalMs: 1, restartTimeoutMs: 50 }, { clients: new Clients(notRestarted.run, layout.clouds) }, io()),
    /the undercloud's server is still pid 100 0.05 s after its stack update completed/,
  );
});
