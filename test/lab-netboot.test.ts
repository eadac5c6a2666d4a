// Network boot: a lab machine told (through the Redfish BMC) to boot from Pxe runs iPXE, its
// console log shows iPXE configuring net0, and a DHCPDISCOVER from its MAC arrives on the
// provisioning bridge (caught by a listener inside the lab's namespace: nothing leaves it).
// Both firmwares: SeaBIOS and OVMF (UEFI). Then: a boot override takes effect at the next reset.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labConsole, labDown, labStatus, labUp, listenForDhcp, readBmcPassword, LabPaths, IPXE_NIC_OPEN, type Firmware, type LabRecord } from '../src/lab/index.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) {
    await labDown({ dir }).catch((err: unknown) => console.error('lab down failed', err));
    await rm(dir, { recursive: true, force: true });
  }
});

async function redfish(lab: LabRecord, dir: string) {
  const password = await readBmcPassword(new LabPaths(dir));
  const headers = { authorization: 'Basic ' + Buffer.from(`${lab.bmc.username}:${password}`).toString('base64'), 'content-type': 'application/json' };
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${lab.bmc.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
    return r;
  };
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function netboot(firmware: Firmware, extra: Parameters<typeof labUp>[0] = {}) {
  const dir = await mkdtemp(join(tmpdir(), `bootstack-lab-netboot-${firmware}-`));
  dirs.push(dir);
  const { lab } = await labUp({ nodes: 1, memoryMiB: 256, diskGiB: 1, accel: 'tcg', firmware, bmcPort: 0, ...extra }, { dir });
  const m = lab.machines[0]!;
  const call = await redfish(lab, dir);
  const sys = `/redfish/v1/Systems/${m.systemId}`;
  await call('PATCH', sys, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } });
  const listener = listenForDhcp(lab, 120);
  await listener.ready;
  await call('POST', `${sys}/Actions/ComputerSystem.Reset`, { ResetType: 'On' });
  const dhcp = await listener.message;
  assert.equal(dhcp.op, 1, 'BOOTREQUEST');
  assert.equal(dhcp.type, 1, 'DHCPDISCOVER');
  assert.equal(dhcp.mac, m.mac);
  assert.match(dhcp.vendor, /^PXEClient:Arch:/);
  assert.equal(dhcp.user_class, 'iPXE');
  assert.equal(dhcp.arch, firmware === 'uefi' ? 7 : 0);
  const consoleLog = join(dir, 'machines', m.name, 'console.log');
  await waitFor('iPXE on the console', async () => /Configuring \(net0 /.test(await readFile(consoleLog, 'utf8')), 30000);
  const text = await readFile(consoleLog, 'utf8');
  assert.match(text, /iPXE/);
  assert.match(text, IPXE_NIC_OPEN);
  assert.match(text, new RegExp(`Configuring \\(net0 ${m.mac}\\)`));
  // `lab console` prints the same log.
  const chunks: Buffer[] = [];
  await labConsole(m.name, (c) => chunks.push(c), { dir });
  assert.match(Buffer.concat(chunks).toString(), /Configuring \(net0 /);
  return { dir, lab, call, sys };
}

test('SeaBIOS: a machine set to Pxe runs iPXE and asks for DHCP on the provisioning network', async () => {
  const { dir, lab, call, sys } = await netboot('bios');
  // The Once override was used by that power-on: the BMC shows it disabled, and a reset now
  // restarts QEMU with the disk first (a new process), because QEMU fixes boot order at start.
  const body = (await (await call('GET', sys)).json()) as { Boot: { BootSourceOverrideEnabled: string } };
  assert.equal(body.Boot.BootSourceOverrideEnabled, 'Disabled');
  const before = (await labStatus({ dir })).machines[0]!.pid!;
  await call('POST', `${sys}/Actions/ComputerSystem.Reset`, { ResetType: 'ForceRestart' });
  const after = (await labStatus({ dir })).machines[0]!;
  assert.equal(after.power, 'On');
  assert.notEqual(after.pid, before);
  assert.match(await readFile(`/proc/${after.pid}/cmdline`, 'utf8'), /virtio-blk-pci,drive=disk0,bootindex=1/);
  await call('POST', `${sys}/Actions/ComputerSystem.Reset`, { ResetType: 'ForceOff' });
  assert.equal(lab.machines.length, 1);
});

test('OVMF (UEFI): a machine set to Pxe runs iPXE and asks for DHCP; BMC bound to the seed address', async () => {
  // Its own network (a random 10.214.N.0/24, refused if taken) and the BMC on the seed address,
  // where the machines (and a seed's services) can reach it.
  const n = 1 + Math.floor(Math.random() * 250);
  const { lab } = await netboot('uefi', { cidr: `10.214.${n}.0/24`, bmcHost: `10.214.${n}.1` });
  assert.equal(lab.bmc.url, `http://10.214.${n}.1:${lab.bmc.port}`);
  assert.equal(lab.network.seedAddress, `10.214.${n}.1`);
});
