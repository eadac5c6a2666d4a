// Real network boot through the boot service: a lab machine (QEMU under TCG, SeaBIOS + the iPXE
// in its NIC ROM) powered on from the network gets its lease and the HTTP script URL from our
// supervised dnsmasq, fetches its per-node iPXE script, the kernel and the ramdisk from /boot,
// and the ramdisk (a busybox one built here) reads the seed URL and the one-time boot secret from
// its kernel command line and does the agent lookup with busybox wget. The boot events the seed
// recorded for the node are checked in order: that is the boot timeline up to the agent lookup.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { labDown } from '../src/lab/index.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { serverConfigSchema } from '../src/server/config.js';
import type { BootService } from '../src/boot/index.js';
import { armNetboot, assertWordsInOrder, eventWords, lookupLab, powerOnFromNetwork, waitForConsole } from './support/netboot.js';

const dirs: string[] = [];
let server: RunningServer | undefined;
after(async () => {
  await server?.stop().catch(() => undefined);
  for (const dir of dirs) {
    await labDown({ dir: join(dir, 'lab') }).catch((err: unknown) => console.error('lab down failed', err));
    await rm(dir, { recursive: true, force: true });
  }
});

async function netboot(firmware: 'bios' | 'uefi') {
  const { dir, files, labDir, lab, m, net } = await lookupLab('boot-netboot', firmware);
  dirs.push(dir);
  const [a, b, c] = net.seedAddress.split('.');
  server = await startServer(
    serverConfigSchema.parse({
      state_dir: join(dir, 'state'),
      listen: { host: net.seedAddress, port: 0 },
      services: ['boot'],
      log: { level: 'silent' },
      boot: {
        files_dir: files,
        dnsmasq: { enabled: true, interface: net.seedInterface, range_start: `${a}.${b}.${c}.100`, range_end: `${a}.${b}.${c}.150` },
      },
    }),
    pino({ level: process.env.BOOT_DEBUG ? 'debug' : 'silent' }),
  );
  const boot = server.services.find((s) => s.name === 'boot') as BootService;
  const events = await armNetboot(boot, 'node-netboot', m.mac, firmware);

  await powerOnFromNetwork(labDir, lab, m.systemId);

  const text = await waitForConsole(labDir, m.name, /BOOTSTACK-LOOKUP [^\r\n]*\r?\n/);
  const kinds = eventWords(events, 'node-netboot');
  assert.match(text, /BOOTSTACK-LOOKUP \{"node_id":"node-netboot","agent_token":"[A-Za-z0-9_-]{43}"/, `console:\n${text.slice(-3000)}\nevents: ${kinds.join(' ')}`);
  assert.match(text, new RegExp(`BOOTSTACK-RAMDISK api=${server.url.replace(/[.]/g, '\\.')}/boot mac=${m.mac}`));
  // The timeline, in order: DHCP (firmware), script, kernel, ramdisk, DHCP (ramdisk), lookup.
  const order = ['dhcp:DHCPACK', 'script_fetched', 'file_fetched:deploy.kernel', 'file_fetched:deploy.initramfs', 'dhcp:DHCPACK', 'agent_lookup'];
  assertWordsInOrder(kinds, order);
  assert.ok(boot.manager.commands.session('node-netboot'), 'the lookup opened an agent session');
  if (firmware === 'uefi') {
    // The kernel's EFI stub loaded the ramdisk named by initrd= (iPXE puts the image name first).
    assert.match(text, /EFI stub: Loaded initrd from command line option/);
    assert.match(text, /Command line: (\S+ )?initrd=ramdisk bootstack\.api=/);
  }
  await server.stop();
  server = undefined;
}

test('SeaBIOS: a lab machine network-boots the deploy ramdisk from the seed and looks itself up', async () => {
  await netboot('bios');
});

test('UEFI (OVMF): the same through ipxe with initrd= on the kernel command line', async () => {
  await netboot('uefi');
});
