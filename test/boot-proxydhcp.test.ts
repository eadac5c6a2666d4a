// ProxyDHCP network boot: the provisioning network already has a DHCP server (the "site" server,
// a plain dnsmasq inside the lab namespace on the bridge, no boot options), and the seed runs its
// dnsmasq in proxy mode. A lab machine (QEMU under TCG, SeaBIOS or OVMF, and the iPXE in its NIC
// ROM) must take its address from the site server and the iPXE script URL from us, then fetch
// the script, kernel and ramdisk from /boot; the busybox ramdisk does the agent lookup. This
// failed until the proxy answers carried a next-server address (iPXE ignores ProxyDHCP answers
// whose siaddr is 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { labDown } from '../src/lab/index.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { serverConfigSchema } from '../src/server/config.js';
import type { BootService } from '../src/boot/index.js';
import { run } from '../src/common/child-process.js';
import { armNetboot, assertWordsInOrder, eventWords, lookupLab, powerOnFromNetwork, waitForConsole } from './support/netboot.js';

const dirs: string[] = [];
let server: RunningServer | undefined;
const sites: ChildProcess[] = [];
after(async () => {
  await server?.stop().catch(() => undefined);
  for (const p of sites) if (p.exitCode === null) p.kill('SIGTERM');
  for (const dir of dirs) {
    await labDown({ dir: join(dir, 'lab') }).catch((err: unknown) => console.error('lab down failed', err));
    await rm(dir, { recursive: true, force: true });
  }
});

/** The site DHCP server: addresses .50–.60 from .2 on the lab bridge, nothing about booting. */
async function startSiteDhcp(namespace: string, bridge: string, prefix: string, leaseFile: string): Promise<{ log: () => string; stop: () => void }> {
  await run('ip', ['-n', namespace, 'addr', 'add', `${prefix}.2/24`, 'dev', bridge]);
  const args = ['netns', 'exec', namespace, '/usr/sbin/dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${bridge}`, '--bind-interfaces',
    `--dhcp-range=${prefix}.50,${prefix}.60,255.255.255.0,1h`, `--dhcp-leasefile=${leaseFile}`, '--dhcp-authoritative', '--no-ping', '--log-dhcp', '--log-facility=-', '--pid-file='];
  const site = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  sites.push(site);
  let out = '';
  site.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  site.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 10_000;
  while (!/DHCP, IP range/.test(out)) {
    if (site.exitCode !== null || Date.now() > until) throw new Error(`site dnsmasq did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { log: () => out, stop: () => site.kill('SIGTERM') };
}

async function proxyBoot(firmware: 'bios' | 'uefi') {
  const { dir, files, labDir, lab, m, net } = await lookupLab('boot-proxydhcp', firmware);
  dirs.push(dir);
  const prefix = net.seedAddress.split('.').slice(0, 3).join('.');
  const siteDhcp = await startSiteDhcp(net.namespace, net.bridge, prefix, join(dir, 'site.leases'));

  server = await startServer(
    serverConfigSchema.parse({
      state_dir: join(dir, 'state'),
      listen: { host: net.seedAddress, port: 0 },
      services: ['boot'],
      log: { level: 'silent' },
      boot: { files_dir: files, dnsmasq: { enabled: true, interface: net.seedInterface, mode: 'proxy', proxy_subnet: `${prefix}.0` } },
    }),
    pino({ level: process.env.BOOT_DEBUG ? 'debug' : 'silent' }),
  );
  const boot = server.services.find((s) => s.name === 'boot') as BootService;
  const events = await armNetboot(boot, 'node-proxy', m.mac, firmware);

  await powerOnFromNetwork(labDir, lab, m.systemId);

  // Before the fix iPXE ended at "Nothing to boot" and went on to the (empty) disk: stop there too.
  // The lookup line must be complete (the console file can be read in the middle of it).
  const text = await waitForConsole(labDir, m.name, /BOOTSTACK-LOOKUP [^\r\n]*\r?\n|No bootable device/);
  const kinds = eventWords(events, 'node-proxy');
  const context = `console:\n${text.slice(-3000)}\nevents: ${kinds.join(' ')}\nsite dnsmasq:\n${siteDhcp.log().slice(-2000)}`;
  assert.match(text, /BOOTSTACK-LOOKUP \{"node_id":"node-proxy","agent_token":"[A-Za-z0-9_-]{43}"/, context);

  // The addresses came from the site server: iPXE's and the ramdisk's leases are in its range,
  // with it as gateway/server, and the seed's dnsmasq handed out none (no DHCPACK from it).
  const sub = prefix.replace(/[.]/g, '\\.');
  assert.match(text, new RegExp(`net0: ${sub}\\.(5\\d|60)/255\\.255\\.255\\.0 gw ${sub}\\.2`), context);
  assert.match(text, new RegExp(`udhcpc: lease of ${sub}\\.(5\\d|60) obtained from ${sub}\\.2`), context);
  assert.match(siteDhcp.log(), new RegExp(`DHCPACK\\(${net.bridge}\\) ${sub}\\.(5\\d|60) ${m.mac}`), context);
  assert.ok(!kinds.includes('dhcp:DHCPACK'), `the seed's proxy dnsmasq acknowledged a lease: ${kinds.join(' ')}`);
  const fetched = events.find((e) => e.kind === 'file_fetched' && e.detail.file === 'deploy.kernel');
  assert.match(String(fetched?.detail.from), new RegExp(`^${sub}\\.(5\\d|60)$`), context);

  // The timeline, in order: the proxy answer (boot info only), script, kernel, ramdisk, lookup.
  const order = ['dhcp:PXE', 'script_fetched', 'file_fetched:deploy.kernel', 'file_fetched:deploy.initramfs', 'agent_lookup'];
  assertWordsInOrder(kinds, order);
  assert.ok(boot.manager.commands.session('node-proxy'), 'the lookup opened an agent session');
  await server.stop();
  server = undefined;
  siteDhcp.stop();
  await labDown({ dir: labDir });
}

test('ProxyDHCP, SeaBIOS: address from the site DHCP server, iPXE script from the seed, ramdisk looks itself up', async () => {
  await proxyBoot('bios');
});

test('ProxyDHCP, UEFI (OVMF): the same', async () => {
  await proxyBoot('uefi');
});
