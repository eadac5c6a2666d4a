// The boot-and-deploy acceptance, end to end with real parts: the README's main job
// (scripts/lab-demo.sh) brings up a 2-machine QEMU lab (TCG) behind the Redfish BMC, builds the
// deploy ramdisk (Node agent) and the Debian sample image with the image builder, starts the seed
// with dnsmasq, enrols the machines from instackenv.json, inspects one from the machine itself,
// deploys both with `openstack baremetal node deploy --config-drive` (hostname + SSH key) and SSHes
// into each over the provisioning network. This test runs that script as an operator would, then
// checks what it claims against the lab itself: inspection facts equal the QEMU machine's, the
// consoles show the deployed systems' login prompts with their hostnames, SSH gives the hostname,
// the timeline holds every step in order, and undeploy goes through cleaning back to available.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { assertInOrder } from './support/in-order.js';
import { openstackCli } from './support/openstack-cli.js';

const ROOT = join(import.meta.dirname, '..');
const MEMORY_MIB = 1024;
const DISK_GIB = 4;
const demos: string[] = [];
// The demo directory of the test running now (tests in a file run one after the other).
let demo = '';

/** `lab-demo.sh down` and the directory gone; safe to repeat. */
async function demoDown(d: string): Promise<void> {
  await run('bash', [join(ROOT, 'scripts/lab-demo.sh'), 'down'], { env: { ...process.env, BOOTSTACK_DEMO_DIR: d }, allowFailure: true, timeoutMs: 120_000 });
  await rm(d, { recursive: true, force: true });
}

after(async () => {
  for (const d of demos) await demoDown(d);
});

// The demo's seed keeps its state (and clouds.yaml) in <demo>/state.
const { env, ok, json } = openstackCli(() => join(demo, 'state'), { timeoutMs: 1_500_000, extraEnv: { OS_BAREMETAL_API_VERSION: '1.78' } });

/** Runs `scripts/lab-demo.sh up` in a new demo directory as an operator would; fails with its output. */
async function demoUp(settings: Record<string, string>): Promise<void> {
  demo = await mkdtemp(join(tmpdir(), 'bootstack-acceptance-'));
  demos.push(demo);
  const started = Date.now();
  const log = createWriteStream(join(demo, 'demo.log'));
  const child = spawn('bash', [join(ROOT, 'scripts/lab-demo.sh'), 'up'], {
    env: { ...env(), BOOTSTACK_DEMO_DIR: demo, DEMO_ACCEL: 'tcg', DEMO_MEMORY_MIB: String(MEMORY_MIB), DEMO_DISK_GIB: String(DISK_GIB), DEMO_PORT: '0', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const [code] = (await once(child, 'exit')) as [number | null];
  log.end();
  const output = await readFile(join(demo, 'demo.log'), 'utf8');
  assert.equal(code, 0, `scripts/lab-demo.sh up failed:\n${output.slice(-6000)}\nseed log:\n${(await readFile(join(demo, 'serve.log'), 'utf8').catch(() => '')).slice(-4000)}`);
  console.log(`# main job (${JSON.stringify(settings)}): ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function sshHostnameAndMachineId(ip: string): Promise<[string, string]> {
  const key = join(demo, 'id_ed25519');
  const ssh = await run('ssh', ['-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${ip}`, 'hostname; cat /etc/machine-id'], { timeoutMs: 60_000 });
  const [hostname, machineId] = ssh.stdout.trim().split('\n');
  return [hostname ?? '', machineId ?? ''];
}

async function deployedAddresses(): Promise<Map<string, string>> {
  return new Map((await readFile(join(demo, 'deployed.txt'), 'utf8')).trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

async function node(name: string): Promise<Record<string, unknown>> {
  return (await json(['baremetal', 'node', 'show', name])) as Record<string, unknown>;
}

async function consoleOf(machine: string): Promise<string> {
  return readFile(join(demo, 'lab/machines', machine, 'console.log'), 'utf8').catch(() => '');
}

test('the main job deploys a 2-machine lab: inspect, deploy with a config drive, SSH, undeploy through cleaning', { timeout: 45 * 60_000 }, async (t) => {
  await demoUp({});
  const mine = demo;
  t.after(() => demoDown(mine)); // the machines would otherwise keep a core busy during the next test

  const lab = JSON.parse(await readFile(join(demo, 'lab/lab.json'), 'utf8')) as { machines: Array<{ name: string; mac: string }> };
  assert.equal(lab.machines.length, 2);
  const [first, second] = lab.machines as [{ name: string; mac: string }, { name: string; mac: string }];

  // Inspection: the facts come from the machine (QEMU's memory, CPUs, disk) through the agent.
  const inspected = await node(first.name);
  const props = inspected.properties as Record<string, unknown>;
  assert.equal(Number(props.cpus), 1);
  assert.ok(Math.abs(Number(props.memory_mb) - MEMORY_MIB) <= 64, `memory_mb ${String(props.memory_mb)} vs the machine's ${MEMORY_MIB} MiB`);
  assert.equal(Number(props.local_gb), DISK_GIB - 1, 'Ironic reports local_gb one less than the disk (room for partitioning)');
  const ports = await ok(['baremetal', 'port', 'list', '--node', first.name, '-f', 'value', '-c', 'Address']);
  assert.equal(ports.trim(), first.mac);

  // Both active; the consoles show the deployed systems at their login prompt, with their names.
  const deployed = await deployedAddresses();
  const machineIds = new Set<string>();
  for (const m of lab.machines) {
    const n = await node(m.name);
    assert.equal(n.provision_state, 'active', `${m.name}: ${String(n.last_error)}`);
    assert.equal(n.last_error, null);
    const consoleLog = await consoleOf(m.name);
    assert.match(consoleLog, new RegExp(`${m.name} login:`), `${m.name}'s console has no login prompt with its hostname:\n${consoleLog.slice(-2000)}`);
    const ip = deployed.get(m.name);
    assert.ok(ip, `${m.name} has no address in deployed.txt`);
    const [hostname, machineId] = await sshHostnameAndMachineId(ip);
    assert.equal(hostname, m.name);
    machineIds.add(machineId);
  }
  // Machines deployed from one image must not share an identity (machine-id → DHCP DUID → address).
  assert.equal(machineIds.size, 2, 'both machines have the same /etc/machine-id');
  assert.equal(new Set(deployed.values()).size, 2, `both machines answer on one address: ${[...deployed.values()].join(', ')}`);

  // The timeline of a deploy: every step the machine took, in order.
  const timeline = JSON.parse(await run(join(ROOT, 'bin/bootstack.js'), ['node', 'timeline', second.name, '-f', 'json'], { env: env() }).then((r) => r.stdout)) as Array<Record<string, string>>;
  const lines = timeline.map((r) => Object.values(r).join(' '));
  assertInOrder(lines, [/DHCP/, /iPXE script fetched/, /deploy\.kernel fetched/, /deploy\.initramfs fetched/, /agent looked up/, /write_image succeeded: .* MB\/s/, /write_config_drive succeeded/, /first contact/]);

  // Undeploy: cleaning (the agent erases the disk metadata) and back to available.
  const states: string[] = [];
  const watcher = (async () => {
    for (let i = 0; i < 3000 && states.at(-1) !== 'available'; i++) {
      const s = String((await node(second.name)).provision_state);
      if (states.at(-1) !== s) states.push(s);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await ok(['baremetal', 'node', 'undeploy', '--wait', '900', second.name]);
  await watcher;
  assert.ok(states.includes('cleaning') || states.includes('clean wait'), `undeploy went through ${states.join(' → ')}`);
  assert.equal(states.at(-1), 'available');
  const after = await node(second.name);
  assert.equal(after.last_error, null);
  assert.deepEqual(after.instance_info, {});
});

test('UEFI: the same job on one OVMF machine (iPXE EFI, systemd-boot from the deployed disk)', { timeout: 30 * 60_000 }, async (t) => {
  await demoUp({ DEMO_NODES: '1', DEMO_FIRMWARE: 'uefi' });
  const mine = demo;
  t.after(() => demoDown(mine));
  const lab = JSON.parse(await readFile(join(demo, 'lab/lab.json'), 'utf8')) as { firmware: string; machines: Array<{ name: string }> };
  assert.equal(lab.firmware, 'uefi');
  const name = lab.machines[0]!.name;
  const n = await node(name);
  assert.equal(n.provision_state, 'active', String(n.last_error));
  const consoleLog = await consoleOf(name);
  assert.match(consoleLog, new RegExp(`${name} login:`));
  const [hostname] = await sshHostnameAndMachineId((await deployedAddresses()).get(name)!);
  assert.equal(hostname, name);
  const history = (await json(['baremetal', 'node', 'history', 'list', name, '--long'])) as Array<Record<string, string>>;
  assert.ok(history.some((h) => /network boot of the deploy ramdisk prepared for .* \(UEFI\)/.test(h['Description of the event'] ?? '')), 'the boot was prepared for UEFI');
});
