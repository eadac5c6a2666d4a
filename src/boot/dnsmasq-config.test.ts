import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { ConfigError } from '../common/errors.js';
import { dnsmasqConfigSchema } from './config.js';
import { renderDnsmasqConfig } from './dnsmasq-config.js';
import { parseDnsmasqLine } from './dnsmasq-log.js';

const paths = { hostsDir: '/x/hosts', leaseFile: '/x/leases', ipxeScriptUrl: 'http://192.0.2.1:6385/boot/boot.ipxe' };

/** dnsmasq's own syntax check of a rendered file. */
async function dnsmasqAccepts(config: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-dnsmasq-conf-'));
  try {
    await writeFile(join(dir, 'c.conf'), config.replace(/\/x\//g, `${dir}/`));
    const r = await run('/usr/sbin/dnsmasq', ['--test', `--conf-file=${join(dir, 'c.conf')}`], { allowFailure: true });
    assert.equal(r.code, 0, r.stderr + r.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('full DHCP mode: range, no DNS, known MACs only, iPXE/EFI tags, RA; dnsmasq accepts it', async () => {
  const s = dnsmasqConfigSchema.parse({ enabled: true, interface: 'br-prov', range_start: '192.0.2.100', range_end: '192.0.2.150' });
  const c = renderDnsmasqConfig(s, paths);
  const lines = c.split('\n');
  for (const l of [
    'port=0',
    'interface=br-prov',
    'bind-interfaces',
    'dhcp-range=set:prov,192.0.2.100,192.0.2.150,255.255.255.0,1h',
    'dhcp-ignore=tag:!known',
    'dhcp-hostsdir=/x/hosts',
    'dhcp-userclass=set:ipxe,iPXE',
    'dhcp-match=set:ipxe,175',
    'dhcp-match=set:efi64,option:client-arch,7',
    'dhcp-boot=tag:ipxe,http://192.0.2.1:6385/boot/boot.ipxe',
    'dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi',
    'dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe',
    'tftp-root=/usr/lib/ipxe',
    'enable-ra',
    'dhcp-range=::,constructor:br-prov,ra-only',
    'no-ping',
  ]) {
    assert.ok(lines.includes(l), `missing ${l}\n${c}`);
  }
  await dnsmasqAccepts(c);
});

test('discovery answers unknown MACs; ProxyDHCP mode adds boot options only; dnsmasq accepts it', async () => {
  const s = dnsmasqConfigSchema.parse({ mode: 'proxy', proxy_subnet: '10.0.0.0', discovery: true, ipv6_ra: false });
  const c = renderDnsmasqConfig(s, paths);
  assert.ok(c.includes('dhcp-range=set:prov,10.0.0.0,proxy,255.255.255.0'));
  assert.ok(!c.includes('dhcp-ignore'));
  assert.ok(!c.includes('enable-ra'));
  assert.ok(!c.includes('dhcp-authoritative'));
  assert.match(c, /pxe-service=tag:!ipxe,tag:!efi64,x86PC,"Network boot",undionly\.kpxe/);
  // iPXE drops ProxyDHCP answers whose next-server (siaddr) is 0: the script URL's host is named.
  assert.ok(c.split('\n').includes('dhcp-boot=tag:ipxe,http://192.0.2.1:6385/boot/boot.ipxe,,192.0.2.1'), c);
  assert.ok(c.split('\n').includes('dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe'), c);
  await dnsmasqAccepts(c);
});

test('ProxyDHCP next-server: boot.dnsmasq.next_server wins; a host-name URL without it is a config error', () => {
  const s = dnsmasqConfigSchema.parse({ mode: 'proxy', proxy_subnet: '10.0.0.0', next_server: '10.0.0.7' });
  assert.ok(renderDnsmasqConfig(s, paths).split('\n').includes('dhcp-boot=tag:ipxe,http://192.0.2.1:6385/boot/boot.ipxe,,10.0.0.7'));
  const named = { ...paths, ipxeScriptUrl: 'http://seed.example:6385/boot/boot.ipxe' };
  const noServer = dnsmasqConfigSchema.parse({ mode: 'proxy', proxy_subnet: '10.0.0.0' });
  assert.throws(() => renderDnsmasqConfig(noServer, named), (e: unknown) => e instanceof ConfigError && /boot\.dnsmasq\.next_server/.test(e.message));
  assert.ok(renderDnsmasqConfig({ ...noServer, next_server: '10.0.0.7' }, named).includes('boot.ipxe,,10.0.0.7\n'));
  // Full DHCP answers carry dnsmasq's own address already: no next-server there.
  const full = dnsmasqConfigSchema.parse({ range_start: '192.0.2.100', range_end: '192.0.2.150' });
  assert.ok(renderDnsmasqConfig(full, named).split('\n').includes('dhcp-boot=tag:ipxe,http://seed.example:6385/boot/boot.ipxe'));
});

test('missing range or subnet is a config error naming the key', () => {
  assert.throws(() => renderDnsmasqConfig(dnsmasqConfigSchema.parse({}), paths), (e: unknown) => e instanceof ConfigError && /range_start/.test(e.message));
  assert.throws(() => renderDnsmasqConfig(dnsmasqConfigSchema.parse({ mode: 'proxy' }), paths), /proxy_subnet/);
});

test('DHCP and TFTP log lines become events', () => {
  const ack = parseDnsmasqLine('dnsmasq-dhcp[812]: 1754 DHCPACK(veth0) 10.9.0.50 52:54:00:12:34:AB node-1');
  assert.deepEqual({ ...ack, at: undefined }, {
    kind: 'dhcp', message: 'DHCPACK', xid: '1754', interface: 'veth0', mac: '52:54:00:12:34:ab', ip: '10.9.0.50', hostname: 'node-1', ignored: false, at: undefined,
  });
  const inform = parseDnsmasqLine('dnsmasq-dhcp[812]: 88 DHCPINFORM(veth0) 10.9.0.200 52:54:00:12:34:ab');
  assert.equal(inform?.kind === 'dhcp' && `${inform.message} ${inform.xid}`, 'DHCPINFORM 88', 'an INFORM and the ACK answering it share the xid');
  const ign = parseDnsmasqLine('dnsmasq-dhcp[812]: 99 DHCPDISCOVER(veth0) 52:54:00:aa:bb:cc ignored');
  assert.equal(ign?.kind === 'dhcp' && ign.ignored, true);
  const nak = parseDnsmasqLine('dnsmasq-dhcp[812]: 7 DHCPNAK(br0) 10.0.0.9 52:54:00:aa:bb:cc wrong network');
  assert.equal(nak?.kind === 'dhcp' && nak.reason, 'wrong network');
  const tftp = parseDnsmasqLine('dnsmasq-tftp[812]: sent /usr/lib/ipxe/undionly.kpxe to 10.9.0.50');
  assert.deepEqual(tftp && { ...tftp, at: undefined }, { kind: 'tftp', file: '/usr/lib/ipxe/undionly.kpxe', to: '10.9.0.50', at: undefined });
  assert.equal(parseDnsmasqLine('dnsmasq-dhcp[812]: 1754 tags: prov, known, veth0'), null);
  assert.equal(parseDnsmasqLine('dnsmasq[812]: started, version 2.90 DNS disabled'), null);
});

test('metadata route: option 121 and 249 carry 169.254.169.254/32 and the default route via the seed; dnsmasq accepts it', async () => {
  const s = dnsmasqConfigSchema.parse({ enabled: true, interface: 'br-prov', range_start: '192.0.2.100', range_end: '192.0.2.150' });
  const c = renderDnsmasqConfig(s, paths, { routes: { hosts: ['169.254.169.254'], via: '192.0.2.1' } });
  const lines = c.split('\n');
  assert.ok(lines.includes('dhcp-option=tag:prov,option:classless-static-route,169.254.169.254/32,192.0.2.1,0.0.0.0/0,192.0.2.1'), c);
  assert.ok(lines.includes('dhcp-option=tag:prov,249,169.254.169.254/32,192.0.2.1,0.0.0.0/0,192.0.2.1'), c);
  await dnsmasqAccepts(c);
  // Without routes asked for, no option 121 at all (clients keep using option 3 alone).
  assert.ok(!renderDnsmasqConfig(s, paths).includes('classless-static-route'));
  assert.throws(() => renderDnsmasqConfig(s, paths, { routes: { hosts: ['169.254.169.254'], via: '192.0.2.300' } }), /classless static route: "192\.0\.2\.300"/);
  // ProxyDHCP gives no address options: the site's DHCP server must give the route.
  const p = renderDnsmasqConfig(dnsmasqConfigSchema.parse({ mode: 'proxy', proxy_subnet: '10.0.0.0' }), paths, { routes: { hosts: ['169.254.169.254'], via: '10.0.0.1' } });
  assert.ok(!p.includes('classless-static-route') && !p.includes(',249,'), p);
});
