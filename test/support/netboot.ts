// Steps the network-boot tests share once their seed (boot service, dnsmasq) is up: arm a pending
// boot for one lab machine, power it on through the lab's Redfish BMC with a one-time PXE override,
// wait for a console line, and read the node's boot events as "kind:detail" words in order.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUp, readBmcPassword, LabPaths } from '../../src/lab/index.js';
import { buildBusyboxRamdisk, hostKernel } from './busybox-ramdisk.js';
import type { BootService } from '../../src/boot/index.js';
import type { BootEvent } from '../../src/boot/boot-events.js';
import type { Firmware } from '../../src/boot/ipxe-script.js';

/** Enrols the MAC, prepares the node's boot, waits for dnsmasq; returns the events as they come. */
export async function armNetboot(boot: BootService, nodeId: string, mac: string, firmware: Firmware): Promise<BootEvent[]> {
  const events: BootEvent[] = [];
  boot.events.subscribe((e) => events.push(e));
  await boot.manager.setEnrolledPorts([{ mac }]);
  await boot.manager.prepareBoot({ nodeId, macs: [mac], firmware });
  const deadline = Date.now() + 10_000;
  while (!boot.dnsmasq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await boot.dnsmasq!.waitReady();
  return events;
}

/** Powers the machine on through the BMC, network boot first (once), as the conductor would. */
export async function powerOnFromNetwork(labDir: string, lab: { bmc: { url: string; username: string } }, systemId: string): Promise<void> {
  const password = await readBmcPassword(new LabPaths(labDir));
  const headers = { authorization: 'Basic ' + Buffer.from(`${lab.bmc.username}:${password}`).toString('base64'), 'content-type': 'application/json' };
  const sys = `${lab.bmc.url}/redfish/v1/Systems/${systemId}`;
  assert.ok((await fetch(sys, { method: 'PATCH', headers, body: JSON.stringify({ Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } }) })).ok);
  assert.ok((await fetch(`${sys}/Actions/ComputerSystem.Reset`, { method: 'POST', headers, body: JSON.stringify({ ResetType: 'On' }) })).ok);
}

/** The machine's console once `until` matches it (or after `ms`, whatever it holds then). */
export async function waitForConsole(labDir: string, machine: string, until: RegExp, ms = 240_000): Promise<string> {
  const consoleLog = join(labDir, 'machines', machine, 'console.log');
  let text = '';
  const end = Date.now() + ms;
  while (Date.now() < end && !until.test(text)) {
    await new Promise((r) => setTimeout(r, 500));
    text = await readFile(consoleLog, 'utf8').catch(() => '');
  }
  return text;
}

/** The node's events as words: "dhcp:DHCPACK", "script_fetched", "file_fetched:deploy.kernel"... */
export function eventWords(events: readonly BootEvent[], nodeId: string): string[] {
  return events
    .filter((e) => e.nodeId === nodeId)
    .map((e) => `${e.kind}${e.kind === 'file_fetched' ? `:${String(e.detail.file)}` : ''}${e.kind === 'dhcp' ? `:${String(e.detail.message)}` : ''}`);
}

/** Each word of `order` appears after the previous one. */
export function assertWordsInOrder(words: readonly string[], order: readonly string[]): void {
  let at = -1;
  for (const k of order) {
    const i = words.indexOf(k, at + 1);
    assert.ok(i > at, `${k} missing or out of order in: ${words.join(' ')}`);
    at = i;
  }
}

/**
 * A one-machine lab (TCG, 384 MiB) and a boot files directory whose busybox ramdisk looks itself
 * up with the secret from its kernel command line, prints BOOTSTACK-LOOKUP <answer>, powers off.
 * The lab gives the seed interface an IPv6 prefix, so dnsmasq's router advertisements work.
 */
export async function lookupLab(name: string, firmware: Firmware) {
  const dir = await mkdtemp(join(tmpdir(), `bootstack-${name}-${firmware}-`));
  const { kernel, modules } = await hostKernel();
  const files = join(dir, 'files');
  await mkdir(files);
  await copyFile(kernel, join(files, 'deploy.kernel'));
  const lookup = `RESP=$($B wget -q -O - --header 'Content-Type: application/json' --post-data "{\\"macs\\":[\\"$MAC\\"],\\"boot_secret\\":\\"$SECRET\\"}" "$API/agent/lookup")
echo "BOOTSTACK-LOOKUP $RESP"
$B poweroff -f`;
  await copyFile(await buildBusyboxRamdisk(dir, modules, lookup), join(files, 'deploy.initramfs'));
  const labDir = join(dir, 'lab');
  const { lab } = await labUp({ nodes: 1, memoryMiB: 384, diskGiB: 1, accel: 'tcg', firmware, bmcPort: 0 }, { dir: labDir });
  return { dir, files, labDir, lab, m: lab.machines[0]!, net: lab.network };
}
