// Conformance of the lab BMC against python3-sushy (Debian's Redfish client, the one Ironic uses),
// for every machine of a real 2-machine lab: list systems, read power, set the boot override to
// Pxe, power on (the QEMU process really runs), reset, power off. Then the bad-input cases on the
// same lab: unknown node, conflicting second `up`, a machine whose QEMU dies.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labConsole, labDown, labStatus, labUp, readBmcPassword, LabPaths, type LabRecord } from '../src/lab/index.js';
import { ConflictError, NotFoundError } from '../src/common/errors.js';

// Drives sushy step by step: after each power action it prints a JSON line and waits for the
// test to check the real QEMU process before going on.
const SUSHY_SCRIPT = String.raw`
import sys, json
import sushy
url, user, pw = sys.argv[1:4]
def say(**kw):
    print(json.dumps(kw), flush=True)
    sys.stdin.readline()
root = sushy.Sushy(url + '/redfish/v1', username=user, password=pw)
ids = list(root.get_system_collection().members_identities)
say(step='systems', ids=sorted(ids), managers=sorted(root.get_manager_collection().members_identities))
for ident in sorted(ids):
    s = root.get_system(ident)
    say(step='read', id=ident, power=str(s.power_state),
        boot_values=sorted(str(v) for v in s.get_allowed_system_boot_source_values()),
        reset_values=sorted(str(v) for v in s.get_allowed_reset_system_values()))
    s.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_CONTINUOUS)
    s.refresh()
    say(step='boot', id=ident, target=str(s.boot.target), enabled=str(s.boot.enabled), mode=str(s.boot.mode))
    s.reset_system(sushy.RESET_ON)
    s.refresh()
    say(step='on', id=ident, power=str(s.power_state))
    s.reset_system(sushy.RESET_FORCE_RESTART)
    s.refresh()
    say(step='reset', id=ident, power=str(s.power_state))
    s.reset_system(sushy.RESET_FORCE_OFF)
    s.refresh()
    say(step='off', id=ident, power=str(s.power_state))
say(step='done')
`;

let dir = '';
let lab: LabRecord;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-lab-sushy-'));
  const r = await labUp({ nodes: 2, memoryMiB: 256, diskGiB: 1, accel: 'tcg', bmcPort: 0 }, { dir });
  lab = r.lab;
});

after(async () => {
  await labDown({ dir }).catch((err: unknown) => console.error('lab down failed', err));
  await rm(dir, { recursive: true, force: true });
});

async function qemuPidRunning(name: string): Promise<number | undefined> {
  const st = await labStatus({ dir });
  const m = st.machines.find((x) => x.name === name);
  if (m?.power !== 'On' || !m.pid) return undefined;
  // The process may exit between the status read and this one (the kill test): then it is not running.
  const cmdline = await readFile(`/proc/${m.pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('qemu-system-x86_64') ? m.pid : undefined;
}

test('python3-sushy drives every machine of a 2-machine lab', async () => {
  const password = await readBmcPassword(new LabPaths(dir));
  const py = spawn('/usr/bin/python3', ['-c', SUSHY_SCRIPT, lab.bmc.url, lab.bmc.username, password], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  py.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((res) => py.on('close', res));
  const byId = new Map(lab.machines.map((m) => [`/redfish/v1/Systems/${m.systemId}`, m]));
  const seen: string[] = [];
  const pids = new Map<string, number>();
  try {
    for await (const line of createInterface({ input: py.stdout })) {
      const msg = JSON.parse(line) as Record<string, unknown> & { step: string; id?: string };
      seen.push(`${msg.step}${msg.id ? ':' + byId.get(msg.id)?.name : ''}`);
      const m = msg.id ? byId.get(msg.id) : undefined;
      switch (msg.step) {
        case 'systems':
          assert.deepEqual(msg.ids, [...byId.keys()].sort());
          assert.deepEqual(msg.managers, ['/redfish/v1/Managers/BMC']);
          break;
        case 'read':
          assert.equal(msg.power, 'PowerState.OFF');
          assert.ok((msg.boot_values as string[]).includes('BootSource.PXE'));
          assert.ok((msg.reset_values as string[]).includes('ResetType.FORCE_RESTART'));
          break;
        case 'boot':
          assert.equal(msg.target, 'BootSource.PXE');
          assert.equal(msg.enabled, 'BootSourceOverrideEnabled.CONTINUOUS');
          assert.equal(msg.mode, 'BootSourceOverrideMode.LEGACY');
          break;
        case 'on': {
          assert.equal(msg.power, 'PowerState.ON');
          const pid = await qemuPidRunning(m!.name);
          assert.ok(pid, `${m!.name}: a QEMU process runs after power on`);
          // The Pxe override is in the running QEMU's boot order: the NIC is first.
          assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /virtio-net-pci,netdev=net0,mac=[0-9a-f:]+,bootindex=1/);
          pids.set(m!.name, pid);
          break;
        }
        case 'reset': {
          assert.equal(msg.power, 'PowerState.ON');
          // Same boot order, so a reset is a QMP system_reset of the same process.
          assert.equal(await qemuPidRunning(m!.name), pids.get(m!.name));
          break;
        }
        case 'off':
          assert.equal(msg.power, 'PowerState.OFF');
          assert.equal(await qemuPidRunning(m!.name), undefined);
          assert.equal(existsSync(`/proc/${pids.get(m!.name)}`), false, 'the QEMU process is gone');
          break;
      }
      py.stdin.write('\n');
    }
  } finally {
    py.stdin.end();
  }
  assert.equal(await exited, 0, stderr);
  const per = ['read', 'boot', 'on', 'reset', 'off'];
  const order = [...byId.keys()].sort().map((id) => byId.get(id)!.name);
  assert.deepEqual(seen, ['systems', ...order.flatMap((name) => per.map((s) => `${s}:${name}`)), 'done']);
});

test('credentials are required and the password file is private', async () => {
  const r = await fetch(`${lab.bmc.url}/redfish/v1/Systems`);
  assert.equal(r.status, 401);
  assert.equal((await stat(join(dir, 'bmc-password'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'instackenv.json'))).mode & 0o777, 0o600);
  const password = await readBmcPassword(new LabPaths(dir));
  assert.doesNotMatch(await readFile(join(dir, 'bmc.log'), 'utf8'), new RegExp(password));
  assert.doesNotMatch(await readFile(join(dir, 'lab.json'), 'utf8'), new RegExp(password));
});

test('the node file is instackenv.json for the redfish driver', async () => {
  const env = JSON.parse(await readFile(join(dir, 'instackenv.json'), 'utf8')) as { nodes: Array<Record<string, unknown>> };
  const password = await readBmcPassword(new LabPaths(dir));
  assert.equal(env.nodes.length, 2);
  for (const [i, n] of env.nodes.entries()) {
    const m = lab.machines[i]!;
    assert.deepEqual(n, {
      name: m.name,
      pm_type: 'redfish',
      pm_addr: lab.bmc.url,
      pm_user: 'admin',
      pm_password: password,
      pm_system_id: `/redfish/v1/Systems/${m.systemId}`,
      mac: [m.mac],
      cpu: '1',
      memory: '256',
      disk: '1',
      arch: 'x86_64',
      capabilities: 'boot_mode:bios',
    });
  }
});

test('bad input: unknown node, conflicting second up; a converging up changes nothing', async () => {
  await assert.rejects(
    labConsole('no-such-node', () => undefined, { dir }),
    (e: unknown) => e instanceof NotFoundError && /lab machine no-such-node could not be found\. Machines in this lab: lab-0, lab-1\./.test(e.message),
  );
  await assert.rejects(
    labUp({ nodes: 2, memoryMiB: 512 }, { dir }),
    (e: unknown) => e instanceof ConflictError && /lab-0 has memory MiB 256 \(asked 512\)/.test(e.message),
  );
  await assert.rejects(labUp({ firmware: 'uefi' }, { dir }), /firmware bios \(asked uefi\)/);
  // A new lab on a port that is taken is refused before anything is created.
  const other = await mkdtemp(join(tmpdir(), 'bootstack-lab-port-'));
  try {
    await assert.rejects(labUp({ nodes: 1, accel: 'tcg', bmcPort: lab.bmc.port }, { dir: other }), /BMC port 127\.0\.0\.1:\d+ is not available \(EADDRINUSE\)/);
    assert.deepEqual(await readdir(other), []);
  } finally {
    await rm(other, { recursive: true, force: true });
  }
  const again = await labUp({}, { dir });
  assert.equal(again.created, false);
  assert.deepEqual(again.added, []);
  assert.deepEqual(again.lab, lab);
});

test('a machine whose QEMU dies is shown off, with the reason', async () => {
  const password = await readBmcPassword(new LabPaths(dir));
  const auth = { authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64'), 'content-type': 'application/json' };
  const [m0, m1] = lab.machines as [LabRecord['machines'][0], LabRecord['machines'][0]];
  const reset = (m: typeof m0, type: string) =>
    fetch(`${lab.bmc.url}/redfish/v1/Systems/${m.systemId}/Actions/ComputerSystem.Reset`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ ResetType: type }),
    });

  // Killed from outside.
  assert.equal((await reset(m0, 'On')).status, 204);
  const pid = await qemuPidRunning(m0.name);
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && (await qemuPidRunning(m0.name)); i++) await new Promise((r) => setTimeout(r, 100));
  let st = await labStatus({ dir });
  let row = st.machines.find((x) => x.name === m0.name)!;
  assert.equal(row.power, 'Off');
  assert.match(row.reason ?? '', /QEMU was killed by signal 9/);
  const sys = (await (await fetch(`${lab.bmc.url}/redfish/v1/Systems/${m0.systemId}`, { headers: auth })).json()) as { PowerState: string };
  assert.equal(sys.PowerState, 'Off');

  // Fails to start: its disk is not a disk any more. The BMC answers with QEMU's own error.
  await writeFile(join(dir, 'machines', m1.name, 'disk.qcow2'), 'not a qcow2 image');
  const r = await reset(m1, 'On');
  assert.equal(r.status, 502);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /QEMU did not start: QEMU exited with code 1: .*disk\.qcow2/);
  st = await labStatus({ dir });
  row = st.machines.find((x) => x.name === m1.name)!;
  assert.equal(row.power, 'Off');
  assert.match(row.reason ?? '', /QEMU exited with code 1: .*qcow2/);
});

test('up converges to a new machine count: fewer removes machines, more adds them, the BMC follows', async () => {
  const down = await labUp({ nodes: 1 }, { dir });
  assert.deepEqual(down.removed, ['lab-1']);
  assert.equal(existsSync(join(dir, 'machines', 'lab-1')), false);
  const password = await readBmcPassword(new LabPaths(dir));
  const headers = { authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') };
  const count = async () =>
    ((await (await fetch(`${lab.bmc.url}/redfish/v1/Systems`, { headers })).json()) as { 'Members@odata.count': number })['Members@odata.count'];
  assert.equal(await count(), 1);
  const upAgain = await labUp({ nodes: 2 }, { dir });
  assert.deepEqual(upAgain.added, ['lab-1']);
  assert.equal(upAgain.lab.machines[1]!.memoryMiB, 256, 'new machines get the lab size');
  assert.equal(await count(), 2);
  lab = upAgain.lab;
});

test('a BMC that died is reported by status and restarted by the next up', async () => {
  const pid = Number((await readFile(join(dir, 'bmc.pid'), 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}/cmdline`) && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const st = await labStatus({ dir });
  assert.deepEqual(st.bmc, { running: false, answers: false });
  await labUp({}, { dir });
  assert.equal((await labStatus({ dir })).bmc.answers, true);
});
