// A real dnsmasq in a network namespace we create, and busybox's udhcpc as the machine on the
// other end of a veth pair: known MACs get a lease and boot options, others are ignored,
// host entries added or removed at runtime take effect without a restart, and a killed dnsmasq
// comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import type { DhcpEvent } from './dnsmasq-log.js';
import { startDhcpNetns, type DhcpNetns } from '../../test/support/dhcp-netns.js';

const KNOWN = '52:54:00:b0:00:01';
const LATE = '52:54:00:b0:00:02';
const UNKNOWN = '52:54:00:b0:00:99';

let net: DhcpNetns;

before(async () => {
  net = await startDhcpNetns('boot');
  // The udhcpc hook prints what the server handed out, one line per event.
  await writeFile(join(net.dir, 'hook.sh'), '#!/bin/sh\necho "EVENT $1 ip=$ip boot_file=$boot_file siaddr=$siaddr"\n');
  await chmod(join(net.dir, 'hook.sh'), 0o755);
  await net.hosts.add({ mac: KNOWN });
});

after(async () => {
  await net?.stop();
});

interface Lease {
  ok: boolean;
  ip?: string;
  bootFile?: string;
  output: string;
}

/** Runs udhcpc once as MAC `mac`, with extra DHCP options (-x), and reports what it got. */
async function dhcp(mac: string, extra: string[] = [], tries = 3): Promise<Lease> {
  // veth takes a live MAC change, so the link stays up between clients.
  await net.ip('-n', net.cliNs, 'link', 'set', net.cliIf, 'address', mac);
  const r = await run(
    'ip',
    ['netns', 'exec', net.cliNs, 'busybox', 'udhcpc', '-i', net.cliIf, '-f', '-q', '-n', '-t', String(tries), '-T', '1', '-s', join(net.dir, 'hook.sh'), ...extra],
    { allowFailure: true, timeoutMs: 20_000 },
  );
  const output = r.stdout + r.stderr;
  const bound = /EVENT bound ip=(\S*) boot_file=(\S*)/.exec(output);
  return bound ? { ok: true, ip: bound[1], bootFile: bound[2], output } : { ok: false, output };
}

const dhcpEvents = (mac: string) => net.events.filter((e): e is DhcpEvent => e.kind === 'dhcp' && e.mac === mac);

test('a known MAC gets a lease from the range and the BIOS iPXE chainloader', async () => {
  const lease = await dhcp(KNOWN);
  assert.ok(lease.ok, lease.output);
  assert.match(lease.ip!, new RegExp(`^${net.subnet.replace(/\./g, '\\.')}\\.(5\\d|[6-9]\\d)$`));
  assert.equal(lease.bootFile, 'undionly.kpxe');
  const seen = dhcpEvents(KNOWN).map((e) => e.message);
  assert.ok(seen.includes('DHCPDISCOVER') && seen.includes('DHCPREQUEST') && seen.includes('DHCPACK'), seen.join(','));
  assert.equal(dhcpEvents(KNOWN).find((e) => e.message === 'DHCPACK')?.ip, lease.ip);
});

test('UEFI firmware (client arch 7) gets ipxe.efi; an iPXE client gets the HTTP script', async () => {
  const efi = await dhcp(KNOWN, ['-x', '0x5d:0007']);
  assert.ok(efi.ok, efi.output);
  assert.equal(efi.bootFile, 'ipxe.efi');
  // iPXE identifies itself with user class "iPXE" (option 77).
  const ipxe = await dhcp(KNOWN, ['-x', '0x4d:69505845']);
  assert.ok(ipxe.ok, ipxe.output);
  assert.equal(ipxe.bootFile, net.ipxeScriptUrl);
});

test('an unknown MAC is ignored, and the refusal is an event', async () => {
  const lease = await dhcp(UNKNOWN, [], 2);
  assert.equal(lease.ok, false, lease.output);
  const seen = dhcpEvents(UNKNOWN);
  assert.ok(seen.length > 0 && seen.every((e) => e.ignored), JSON.stringify(seen));
});

test('host entries added and removed at runtime take effect without restarting dnsmasq', async () => {
  const pid = net.supervisor.pid;
  assert.equal((await dhcp(LATE, [], 2)).ok, false);
  await net.hosts.add({ mac: LATE });
  // inotify delivers the new file to dnsmasq asynchronously; give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  const lease = await dhcp(LATE);
  assert.ok(lease.ok, lease.output);
  await net.hosts.remove(LATE);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await dhcp(LATE, [], 2)).ok, false);
  assert.equal(net.supervisor.pid, pid);
  assert.equal(net.supervisor.restarts, 0);
});

test('a killed dnsmasq is restarted and serves again', async () => {
  const pid = net.supervisor.pid;
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while ((net.supervisor.restarts === 0 || net.supervisor.pid === undefined) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(net.supervisor.restarts, 1);
  assert.notEqual(net.supervisor.pid, pid);
  await net.supervisor.waitReady();
  const lease = await dhcp(KNOWN);
  assert.ok(lease.ok, lease.output);
});

test('TFTP serves the iPXE chainloaders from Debian\'s ipxe package, and the transfer is an event', async () => {
  const lease = await dhcp(KNOWN);
  assert.ok(lease.ok, lease.output);
  await net.ip('-n', net.cliNs, 'addr', 'replace', `${lease.ip}/24`, 'dev', net.cliIf);
  for (const file of ['undionly.kpxe', 'ipxe.efi']) {
    const local = join(net.dir, `got-${file}`);
    await run('ip', ['netns', 'exec', net.cliNs, 'busybox', 'tftp', '-g', '-r', file, '-l', local, `${net.subnet}.1`], { timeoutMs: 20_000 });
    assert.ok((await readFile(local)).equals(await readFile(`/usr/lib/ipxe/${file}`)), file);
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(net.events.some((e) => e.kind === 'tftp' && e.file.endsWith('/undionly.kpxe') && e.to === lease.ip), JSON.stringify(net.events.filter((e) => e.kind === 'tftp')));
});
