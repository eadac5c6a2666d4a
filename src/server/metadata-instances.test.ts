// One content, two outputs: a real config drive (vfat written by the deploy agent's
// writeConfigDrive, read back with mtools) and the metadata listener's answers must be the same
// bytes, file by file. And the adapter's identification rules, over a seed's real services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { run } from '../common/child-process.js';
import { configDriveFiles } from '../common/instance-metadata.js';
import { writeConfigDrive } from '../agents/deploy-agent/config-drive.js';
import { configDriveParams } from '../baremetal/drivers/direct-deploy.js';
import type { DriverNode } from '../baremetal/drivers/interfaces.js';
import { buildMetadataApp } from '../metadata/routes.js';
import { FakeInstanceLocator } from '../../test/support/metadata/fake-locator.js';
import { ConfigError } from '../common/errors.js';
import { serverConfigSchema } from './config.js';
import { metadataSettings } from './metadata-instances.js';

const MiB = 1024 * 1024;

function node(instance_info: Record<string, unknown>): DriverNode {
  return { uuid: '5d2c1a4e-0000-4000-8000-00000000abcd', name: 'mdnode', driver_info: {}, properties: {}, instance_info, power_state: 'power on', boot_mode: null };
}

test('configDriveParams: node fields, standard keys, network_data from the ports when none is given, extra keys kept', () => {
  const occ = { collectors: ['request'], request: { metadata_url: 'http://seed/m' } };
  const c = configDriveParams(node({ configdrive: { meta_data: { 'os-collect-config': occ, public_keys: { default: 'ssh-rsa K' } }, user_data: { a: 1 } } }), ['52:54:00:AA:00:01', '52:54:00:aa:00:02'])!;
  assert.equal(c.meta_data.uuid, '5d2c1a4e-0000-4000-8000-00000000abcd');
  assert.equal(c.meta_data.hostname, 'mdnode');
  assert.equal(c.meta_data.availability_zone, 'nova');
  assert.deepEqual(c.meta_data.keys, [{ name: 'default', type: 'ssh', data: 'ssh-rsa K' }]);
  assert.equal(c.meta_data['os-collect-config'], occ);
  assert.equal(c.user_data, '{"a":1}');
  assert.deepEqual(c.network_data, {
    links: [
      { id: 'port0', type: 'phy', ethernet_mac_address: '52:54:00:aa:00:01', mtu: null, vif_id: null },
      { id: 'port1', type: 'phy', ethernet_mac_address: '52:54:00:aa:00:02', mtu: null, vif_id: null },
    ],
    networks: [
      { id: 'network0', type: 'ipv4_dhcp', link: 'port0', network_id: 'network0' },
      { id: 'network1', type: 'ipv4_dhcp', link: 'port1', network_id: 'network1' },
    ],
    services: [],
  });
  const given = { links: [], networks: [], services: [{ type: 'dns', address: '192.0.2.53' }] };
  assert.equal(configDriveParams(node({ configdrive: { network_data: given } }), ['52:54:00:aa:00:01'])!.network_data, given);
  assert.equal(configDriveParams(node({})), undefined);
  assert.throws(() => configDriveParams(node({ configdrive: 'aGVsbG8=' })), /instance_info\.configdrive must be an object/);
  assert.throws(() => configDriveParams(node({ configdrive: { vendor_data: [1] } })), /instance_info\.configdrive\.vendor_data must be an object/);
});

test('the config drive and the metadata listener serve the same bytes for every file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-md-drive-'));
  try {
    const content = configDriveParams(
      node({ configdrive: { meta_data: { public_keys: { default: 'ssh-ed25519 AAAA x@y' }, 'os-collect-config': { a: { b: [1, 2] } } }, user_data: '#cloud-config\nruncmd: [true]\n', vendor_data: { v: 'é' } } }),
      ['52:54:00:aa:00:01'],
    )!;
    const disk = join(dir, 'disk.img');
    await writeFile(disk, '');
    await truncate(disk, 80 * MiB);
    const part = { start: 8 * MiB, size: 64 * MiB };
    const { files } = await writeConfigDrive(disk, part, content);
    const expected = configDriveFiles(content);
    assert.deepEqual(files, [...expected.keys()]);
    assert.ok(files.includes('openstack/2018-08-27/meta_data.json') && files.includes('ec2/latest/meta-data.json'), files.join(' '));

    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    const app = buildMetadataApp({ locator: new FakeInstanceLocator({ '192.0.2.10': { nodeId: 'n', content } }), log: pino({ level: 'silent' }) });
    let compared = 0;
    for (const path of files) {
      const onDrive = (await run('mtype', ['-i', `${disk}@@${part.start}`, `::${path}`], { env })).stdout;
      assert.equal(onDrive, expected.get(path), `${path} on the drive`);
      if (!path.startsWith('openstack/')) continue;
      const r = await app.inject({ method: 'GET', url: `/${path}`, remoteAddress: '192.0.2.10' });
      assert.equal(r.statusCode, 200, path);
      assert.equal(r.body, onDrive, `${path}: drive and HTTP differ`);
      compared++;
    }
    // The EC2 JSON on the drive is the document the HTTP tree walks.
    const ec2 = JSON.parse(expected.get('ec2/latest/meta-data.json')!);
    const r = await app.inject({ method: 'GET', url: '/latest/meta-data/public-keys/0/openssh-key', remoteAddress: '192.0.2.10' });
    assert.equal(r.body, ec2['public-keys']['0']['openssh-key']);
    // 9 versions: meta_data + user_data in each, vendor_data in 7, network_data in 6, vendor_data2 in 4.
    assert.equal(compared, 9 + 9 + 7 + 6 + 4, 'every OpenStack file compared');
    await app.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the metadata section: interface from boot.dnsmasq when enabled; required with a dnsmasq netns; strict', () => {
  assert.equal(serverConfigSchema.safeParse({ metadata: { listen: 'x' } }).success, false);
  const off = serverConfigSchema.parse({});
  assert.equal(metadataSettings(off).interface, undefined);
  const on = serverConfigSchema.parse({ metadata: { enabled: true }, boot: { dnsmasq: { interface: 'br-prov' } } });
  assert.equal(metadataSettings(on).interface, 'br-prov');
  const given = serverConfigSchema.parse({ metadata: { enabled: true, interface: 'veth-seed' }, boot: { dnsmasq: { interface: 'br-prov', netns: 'lab' } } });
  assert.equal(metadataSettings(given).interface, 'veth-seed');
  // dnsmasq in another namespace: its interface is not one the seed can add an address to.
  const netns = serverConfigSchema.parse({ metadata: { enabled: true }, boot: { dnsmasq: { interface: 'br-prov', netns: 'lab' } } });
  assert.throws(() => metadataSettings(netns), (e: unknown) => e instanceof ConfigError && /metadata\.interface/.test(e.message));
});

