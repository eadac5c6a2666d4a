// `bootstack lab up --nodes 3` then `bootstack lab down`, through the real CLI: while up, the
// namespace, the seed interface, the BMC and (after power-on) three QEMUs exist; after down there
// is no namespace, link, process, mount or file left that the lab made, and the lab dir is gone.
// Uses accel auto, so it also runs the real KVM boot test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, readBmcPassword, LabPaths, type LabRecord } from '../src/lab/index.js';

const exec = promisify(execFile);
const repo = join(import.meta.dirname, '..');
const cli = join(repo, 'bin', 'bootstack.js');

const parent = await mkdtemp(join(tmpdir(), 'bootstack-lab-updown-'));
const dir = join(parent, 'lab');

after(async () => {
  await labDown({ dir }).catch((err: unknown) => console.error('lab down failed', err));
  await rm(parent, { recursive: true, force: true });
});

async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) found.push(`${pid}: ${cmd.replaceAll('\0', ' ').slice(0, 200)}`);
  }
  return found;
}

async function hostLinks(): Promise<string[]> {
  const { stdout } = await exec('ip', ['-j', 'link', 'show']);
  return (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

async function netnsNames(): Promise<string[]> {
  const { stdout } = await exec('ip', ['-j', 'netns', 'list']);
  return stdout.trim() ? (JSON.parse(stdout) as Array<{ name: string }>).map((n) => n.name) : [];
}

async function probeDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('bootstack-kvm-probe-'));
}

test('lab up --nodes 3, power everything on, lab down: nothing is left behind', async () => {
  const probesBefore = await probeDirs();
  const up = await exec(process.execPath, [cli, 'lab', 'up', '--dir', dir, '--nodes', '3', '--memory', '256', '--disk', '1', '--accel', 'auto', '--bmc-port', '0', '-f', 'json'], {
    cwd: repo,
  });
  const shown = JSON.parse(up.stdout) as Record<string, string>;
  assert.equal(shown.machines, 'lab-0, lab-1, lab-2');
  assert.match(up.stderr, /accelerator: (kvm|tcg) \(/);
  const lab = JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as LabRecord;
  const { namespace, seedInterface, seedAddress } = lab.network;
  assert.ok((await netnsNames()).includes(namespace));
  assert.ok((await hostLinks()).includes(seedInterface));
  const addr = await exec('ip', ['-j', '-4', 'addr', 'show', 'dev', seedInterface]);
  assert.ok(addr.stdout.includes(seedAddress));
  // The taps and the bridge live inside the namespace, not on the host.
  const nsLinks = await exec('ip', ['-n', namespace, '-j', 'link', 'show']);
  const inside = (JSON.parse(nsLinks.stdout) as Array<{ ifname: string; master?: string }>).filter((l) => l.master === 'br-prov').map((l) => l.ifname);
  assert.deepEqual(inside.sort(), ['seed0', 'tap0', 'tap1', 'tap2']);
  assert.equal(await readFile(`/proc/sys/net/ipv4/conf/${seedInterface}/forwarding`, 'utf8'), '0\n');

  const password = await readBmcPassword(new LabPaths(dir));
  const headers = { authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64'), 'content-type': 'application/json' };
  for (const m of lab.machines) {
    const r = await fetch(`${lab.bmc.url}/redfish/v1/Systems/${m.systemId}/Actions/ComputerSystem.Reset`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ResetType: 'On' }),
    });
    assert.equal(r.status, 204);
  }
  const status = await exec(process.execPath, [cli, 'lab', 'status', '--dir', dir, '-f', 'json'], { cwd: repo });
  const st = JSON.parse(status.stdout) as { machines: Array<{ power: string }>; bmc: { answers: boolean } };
  assert.deepEqual(st.machines.map((m) => m.power.split(' ')[0]), ['on', 'on', 'on']);
  assert.equal(st.bmc.answers, true);
  const running = await processesMentioning(dir);
  assert.equal(running.length, 1 + 3 * 2, `BMC + 3 × (wrapper shell + QEMU):\n${running.join('\n')}`);

  const down = await exec(process.execPath, [cli, 'lab', 'down', '--dir', dir], { cwd: repo });
  assert.match(down.stdout, /removed \(lab-0, lab-1, lab-2\)/);

  assert.deepEqual(await processesMentioning(dir), []);
  assert.deepEqual(await processesMentioning(namespace), []);
  assert.ok(!(await netnsNames()).includes(namespace));
  assert.ok(!existsSync(`/run/netns/${namespace}`));
  assert.deepEqual((await hostLinks()).filter((l) => l.includes(lab.id)), []);
  const mounts = await readFile('/proc/mounts', 'utf8');
  assert.ok(!mounts.includes(namespace) && !mounts.includes(dir), 'no mount left');
  assert.equal(existsSync(dir), false, 'the lab directory is removed');
  assert.deepEqual(await readdir(parent), [], 'nothing written beside the lab directory');
  assert.deepEqual(await probeDirs(), probesBefore, 'the KVM probe cleaned up after itself');
  await fetch(`${lab.bmc.url}/redfish/v1/`).then(
    () => assert.fail('the BMC still answers'),
    () => undefined,
  );

  // down again is harmless, and status says there is no lab.
  const again = await exec(process.execPath, [cli, 'lab', 'down', '--dir', dir], { cwd: repo });
  assert.match(again.stdout, /no lab in/);
  await assert.rejects(exec(process.execPath, [cli, 'lab', 'status', '--dir', dir], { cwd: repo }), /lab .* could not be found/);
});
