// The config-drive element's first-boot script run against a directory standing in for the mounted
// drive and a root prefix (CONFIG_DRIVE_DIR, TARGET): the networkd files it writes for the
// network_data.json shapes Ironic/Nova produce, and its console line. The real boot is in
// test/first-boot.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BUILTIN_ELEMENTS } from './build.js';

const SCRIPT = join(BUILTIN_ELEMENTS, 'config-drive', 'static', 'bootstack-config-drive');

async function apply(meta: unknown, network?: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-cd-element-'));
  const drive = join(dir, 'drive', 'openstack', 'latest');
  const root = join(dir, 'root');
  mkdirSync(drive, { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(drive, 'meta_data.json'), JSON.stringify(meta));
  if (network !== undefined) writeFileSync(join(drive, 'network_data.json'), JSON.stringify(network));
  const r = await run(SCRIPT, [], { env: { ...process.env, CONFIG_DRIVE_DIR: join(dir, 'drive'), TARGET: root } });
  const networkFile = (id: string) => {
    const p = join(root, 'etc', 'systemd', 'network', `50-config-drive-${id}.network`);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  };
  return { r, root, networkFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('static IPv4 + IPv6 with extra routes; DHCPv4 + DHCPv6 on another link; a link without MAC is skipped', async () => {
  const { r, networkFile, cleanup } = await apply(
    { hostname: 'db-1.example.org', public_keys: { a: 'ssh-ed25519 AAAA one' } },
    {
      links: [
        { id: 'eth0', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01' },
        { id: 'eth1', type: 'phy', ethernet_mac_address: '52:54:00:00:00:02' },
        { id: 'nomac', type: 'phy' },
        { id: '../../../x y', type: 'phy', ethernet_mac_address: '52:54:00:00:00:03' },
      ],
      networks: [
        {
          link: 'eth0', type: 'ipv4', ip_address: '192.0.2.10', netmask: '255.255.255.0',
          routes: [
            { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '192.0.2.1' },
            { network: '198.51.100.0', netmask: '255.255.255.0', gateway: '192.0.2.254' },
          ],
        },
        { link: 'eth0', type: 'ipv6', ip_address: '2001:db8::10', netmask: 'ffff:ffff:ffff:ffff::', routes: [{ network: '::', netmask: '::', gateway: '2001:db8::1' }] },
        { link: 'eth1', type: 'ipv4_dhcp' },
        { link: 'eth1', type: 'ipv6_dhcp' },
        { link: 'nomac', type: 'ipv4_dhcp' },
      ],
      services: [{ type: 'dns', address: '192.0.2.53' }],
    },
  );
  try {
    assert.match(r.stdout, /^bootstack-config-drive: applied hostname=db-1 keys=1 links=3 from \S+\/drive$/m);
    assert.match(r.stderr, /link nomac has no ethernet_mac_address, skipped/);
    const eth0 = networkFile('eth0')!;
    // [Network] keys before the [Route] section; the extra route's netmask as a prefix length.
    assert.match(eth0, /\[Network\]\nAddress=192\.0\.2\.10\/24\nGateway=192\.0\.2\.1\nAddress=2001:db8::10\/64\nGateway=2001:db8::1\nIPv6AcceptRA=no\nDNS=192\.0\.2\.53\n/);
    assert.match(eth0, /\n\[Route\]\nDestination=198\.51\.100\.0\/24\nGateway=192\.0\.2\.254\n/);
    assert.doesNotMatch(eth0, /DHCP=/);
    // Both DHCP flavours on one link make one DHCP=yes (a second DHCP= line would replace the first).
    const eth1 = networkFile('eth1')!;
    assert.match(eth1, /^DHCP=yes$/m);
    assert.equal(eth1.match(/^DHCP=/gm)?.length, 1);
    assert.match(eth1, /^IPv6AcceptRA=yes$/m);
    assert.equal(networkFile('nomac'), undefined);
    // A link id is only a file name: '/' and spaces are replaced, nothing is written outside.
    assert.match(networkFile('.._.._.._x_y')!, /MACAddress=52:54:00:00:00:03/);
  } finally {
    cleanup();
  }
});

test('no network_data.json and no keys: only the hostname (name when hostname is absent); the line says so', async () => {
  const { r, root, networkFile, cleanup } = await apply({ name: 'plain' });
  try {
    assert.match(r.stdout, /applied hostname=plain keys=0 links=0 /);
    assert.equal(readFileSync(join(root, 'etc', 'hostname'), 'utf8'), 'plain\n');
    assert.ok(!existsSync(join(root, 'root', '.ssh')));
    assert.equal(networkFile('eth0'), undefined);
  } finally {
    cleanup();
  }
});

test('the fallback network file gives DHCP to NICs the drive does not describe, after the drive\'s files', () => {
  const hook = readFileSync(join(BUILTIN_ELEMENTS, 'config-drive', 'install.d', '60-bootstack-config-drive'), 'utf8');
  const fallback = /cat > \/etc\/systemd\/network\/(\d+)-bootstack-dhcp\.network <<'NET'\n([\s\S]*?)\nNET/.exec(hook);
  assert.ok(fallback, 'no fallback .network file in the install hook');
  // networkd takes the first matching file in lexical order: 50-config-drive-* must sort first.
  assert.ok('50-config-drive-x.network' < `${fallback[1]}-bootstack-dhcp.network`);
  assert.match(fallback[2]!, /Name=en\* eth\*/);
  assert.match(fallback[2]!, /DHCP=yes/);
});

test('a hostname that is not a valid DNS name is not applied (nor written to /etc/hosts); the rest still is', async () => {
  for (const bad of ['bad name', 'x\n10.0.0.1 evil', '-lead.example', `${'a'.repeat(64)}.example`, 'dots..twice']) {
    const { r, root, cleanup } = await apply({ hostname: bad, public_keys: { a: 'ssh-ed25519 AAAA one' } });
    try {
      assert.match(r.stderr, /is not a valid host name, not applied/, bad);
      assert.match(r.stdout, /applied hostname=\(none\) keys=1 /, bad);
      assert.ok(!existsSync(join(root, 'etc', 'hostname')), bad);
      assert.equal(readFileSync(join(root, 'etc', 'hosts'), 'utf8'), '127.0.0.1 localhost\n', bad);
    } finally {
      cleanup();
    }
  }
  const { r, cleanup } = await apply({ hostname: 'n-1.rack-2.example.org' });
  try {
    assert.match(r.stdout, /applied hostname=n-1 /);
  } finally {
    cleanup();
  }
});
