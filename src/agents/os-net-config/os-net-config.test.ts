// os-net-config: nic1/nic2 from a fake /sys/class/net, --noop output, ifupdown files that
// Debian's own parser (ifquery) reads back as intended, systemd-networkd units, detailed exit
// codes (2 on change, 0 when unchanged), mapping-file overrides and errors that name the place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../common/child-process.js';
import { main } from './cli.js';
import { listNics, nicMapping } from './nic-mapping.js';

function fakeSysfs(root: string): string {
  const sys = join(root, 'sys-class-net');
  const nic = (name: string, mac: string, carrier: string | undefined, physical = true) => {
    mkdirSync(join(sys, name), { recursive: true });
    if (physical) mkdirSync(join(sys, name, 'device'));
    writeFileSync(join(sys, name, 'address'), `${mac}\n`);
    if (carrier !== undefined) writeFileSync(join(sys, name, 'carrier'), `${carrier}\n`);
  };
  nic('ens3', '52:54:00:00:00:03', '1');
  nic('eth10', '52:54:00:00:00:10', '1');
  nic('eth2', '52:54:00:00:00:02', '1');
  nic('eth1', '52:54:00:00:00:01', '0');
  nic('lo', '00:00:00:00:00:00', '1', false);
  nic('veth9', '52:54:00:00:00:99', '1', false);
  return sys;
}

const CONFIG = {
  network_config: [
    {
      type: 'interface',
      name: 'nic1',
      use_dhcp: false,
      mtu: 9000,
      addresses: [{ ip_netmask: '192.0.2.10/24' }, { ip_netmask: '192.0.2.11/24' }, { ip_netmask: '2001:db8::10/64' }],
      routes: [
        { default: true, next_hop: '192.0.2.1' },
        { ip_netmask: '10.0.0.0/8', next_hop: '192.0.2.254', route_options: 'metric 10' },
      ],
      dns_servers: ['192.0.2.53'],
    },
    { type: 'vlan', vlan_id: 100, device: 'nic1', addresses: [{ ip_netmask: '198.51.100.5/24' }] },
    {
      type: 'linux_bridge',
      name: 'br-ex',
      use_dhcp: true,
      members: [{ type: 'interface', name: 'nic2' }],
    },
    {
      type: 'linux_bond',
      name: 'bond0',
      bonding_options: 'mode=active-backup miimon=100',
      addresses: [{ ip_netmask: '203.0.113.7/24' }],
      members: [{ type: 'interface', name: 'nic3' }],
    },
  ],
};

test('nic1, nic2 map active physical NICs, on-board names first, in natural order', () => {
  const root = mkdtempSync(join(tmpdir(), 'onc-map-'));
  try {
    const map = nicMapping(listNics(fakeSysfs(root)));
    assert.deepEqual(Object.fromEntries(map), { nic1: 'eth2', nic2: 'eth10', nic3: 'ens3' });
    const over = nicMapping(listNics(join(root, 'sys-class-net')), { nic1: '52:54:00:00:00:03', nic4: 'eth1' });
    assert.equal(over.get('nic1'), 'ens3');
    assert.equal(over.get('nic4'), 'eth1');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ifupdown: --noop prints, a write reports a change (exit 2), ifquery reads it back, a rerun changes nothing', async () => {
  const root = mkdtempSync(join(tmpdir(), 'onc-eni-'));
  try {
    const sys = fakeSysfs(root);
    const cfg = join(root, 'config.json');
    writeFileSync(cfg, JSON.stringify(CONFIG));
    const out = join(root, 'rootfs');
    const base = ['-c', cfg, '--sys-class-net', sys, '-p', 'ifupdown', '-m', join(root, 'none.yaml')];
    let stdout = '';
    const io = { env: process.env, stdout: (s: string) => (stdout += s), stderr: () => undefined };
    assert.equal(await main([...base, '--noop'], io), 0);
    assert.match(stdout, /^File: \/etc\/network\/interfaces\n/);
    assert.ok(!existsSync(out));
    assert.equal(await main([...base, '-r', out, '--detailed-exit-codes'], io), 2);
    const file = join(out, 'etc/network/interfaces');
    assert.equal(readFileSync(file, 'utf8'), stdout.replace(/^File: .*\n\n/, '').replace(/\n----\n$/, ''));
    const q = async (iface: string) => (await run('ifquery', ['-i', file, iface], { timeoutMs: 10_000 })).stdout;
    const list = (await run('ifquery', ['-i', file, '--list', '-a'], { timeoutMs: 10_000 })).stdout.trim().split('\n');
    assert.deepEqual(list, ['lo', 'eth2', 'vlan100', 'br-ex', 'eth10', 'bond0', 'ens3']);
    const eth2 = await q('eth2');
    assert.match(eth2, /^address: 192\.0\.2\.10$/m);
    assert.match(eth2, /^netmask: 255\.255\.255\.0$/m);
    assert.match(eth2, /^address: 2001:db8::10$/m);
    assert.match(eth2, /^mtu: 9000$/m);
    assert.match(eth2, /^up: ip route add default via 192\.0\.2\.1 dev eth2$/m);
    assert.match(eth2, /^up: ip route add 10\.0\.0\.0\/8 via 192\.0\.2\.254 dev eth2 metric 10$/m);
    assert.match(eth2, /^dns-nameservers: 192\.0\.2\.53$/m);
    assert.match(await q('vlan100'), /^vlan-raw-device: eth2$/m);
    assert.match(await q('br-ex'), /^bridge-ports: eth10$/m);
    assert.match(await q('bond0'), /^bond-mode: active-backup$/m);
    assert.match(await q('ens3'), /^bond-master: bond0$/m);
    assert.equal(await main([...base, '-r', out, '--detailed-exit-codes'], io), 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('systemd-networkd: netdev and network units; stale units removed', async () => {
  const root = mkdtempSync(join(tmpdir(), 'onc-nd-'));
  try {
    const sys = fakeSysfs(root);
    const cfg = join(root, 'config.yaml');
    writeFileSync(cfg, JSON.stringify(CONFIG));
    const out = join(root, 'rootfs');
    const io = { env: process.env, stdout: () => undefined, stderr: () => undefined };
    const args = ['-c', cfg, '--sys-class-net', sys, '-p', 'systemd-networkd', '-r', out, '--detailed-exit-codes', '-m', join(root, 'none')];
    assert.equal(await main(args, io), 2);
    const dir = join(out, 'etc/systemd/network');
    assert.deepEqual(readdirSync(dir).sort(), [
      '10-bond0.netdev',
      '10-br-ex.netdev',
      '10-vlan100.netdev',
      '20-bond0.network',
      '20-br-ex.network',
      '20-ens3.network',
      '20-eth10.network',
      '20-eth2.network',
      '20-vlan100.network',
    ]);
    const eth2 = readFileSync(join(dir, '20-eth2.network'), 'utf8');
    assert.match(eth2, /\[Match\]\nName=eth2\n/);
    assert.match(eth2, /VLAN=vlan100/);
    assert.match(eth2, /Address=2001:db8::10\/64/);
    assert.match(eth2, /\[Route\]\nDestination=0\.0\.0\.0\/0\nGateway=192\.0\.2\.1/);
    assert.match(readFileSync(join(dir, '10-vlan100.netdev'), 'utf8'), /Kind=vlan\n\n\[VLAN\]\nId=100/);
    assert.match(readFileSync(join(dir, '10-bond0.netdev'), 'utf8'), /Mode=active-backup\nMIIMonitorSec=100ms/);
    assert.match(readFileSync(join(dir, '20-eth10.network'), 'utf8'), /Bridge=br-ex/);
    assert.match(readFileSync(join(dir, '20-br-ex.network'), 'utf8'), /DHCP=ipv4/);
    assert.equal(await main(args, io), 0);
    writeFileSync(cfg, JSON.stringify({ network_config: [CONFIG.network_config[0]] }));
    assert.equal(await main(args, io), 2);
    assert.deepEqual(readdirSync(dir), ['20-eth2.network']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bad config names the object; an unmapped nicN is an error', async () => {
  const root = mkdtempSync(join(tmpdir(), 'onc-bad-'));
  try {
    const sys = fakeSysfs(root);
    const cfg = join(root, 'config.yaml');
    let stderr = '';
    const io = { env: process.env, stdout: () => undefined, stderr: (s: string) => (stderr += s) };
    writeFileSync(cfg, 'network_config:\n  - type: interface\n    name: nic1\n    addresses:\n      - ip_netmask: 192.0.2.300\n');
    assert.equal(await main(['-c', cfg, '--sys-class-net', sys, '--noop', '-m', join(root, 'x')], io), 1);
    assert.match(stderr, /network_config\[0\]\(nic1\)\.addresses\[0\]\.ip_netmask/);
    writeFileSync(cfg, 'network_config:\n  - type: interface\n    name: nic7\n');
    assert.equal(await main(['-c', cfg, '--sys-class-net', sys, '--noop', '-m', join(root, 'x')], io), 1);
    assert.match(stderr, /nic7 does not match an active NIC/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
