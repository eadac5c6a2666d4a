// Inspection against a fake /proc and /sys tree built in a temp dir, and root device hints
// (with oslo's specs_matcher, Debian's python3-oslo.utils, as the oracle for the expression grammar).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { run } from '../../common/child-process.js';
import { inspect } from './inspect.js';
import { chooseRootDevice, findDevices, matchExpression, RootDeviceHintError } from './root-device-hints.js';

let root = '';
const GiB = 1024 ** 3;

async function put(path: string, content: string) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'deploy-agent-sysfs-'));
  const cpu = (n: number) => `processor\t: ${n}\nvendor_id\t: GenuineIntel\nmodel name\t: QEMU Virtual CPU version 2.5+\nflags\t\t: fpu vme\n\n`;
  await put('proc/cpuinfo', cpu(0) + cpu(1) + cpu(2));
  await put('proc/meminfo', 'MemTotal:         760000 kB\nMemFree:          500000 kB\n');
  // vda: virtio, 20 GiB, serial file directly under the block dir; sda: SCSI with model/vendor/wwid.
  await put('sys/block/vda/size', String((20 * GiB) / 512));
  await put('sys/block/vda/serial', 'BSDISK0001');
  await put('sys/block/vda/queue/rotational', '0');
  await put('sys/block/sda/size', String((100 * GiB) / 512));
  await put('sys/block/sda/queue/rotational', '1');
  await put('sys/devices/pci0000:00/host0/target0:0:0/0:0:0:0/model', 'QEMU HARDDISK   \n');
  await put('sys/devices/pci0000:00/host0/target0:0:0/0:0:0:0/vendor', 'ATA\n');
  await put('sys/devices/pci0000:00/host0/target0:0:0/0:0:0:0/wwid', 'naa.5000C500A1B2C3D4\n');
  await symlink(join(root, 'sys/devices/pci0000:00/host0/target0:0:0/0:0:0:0'), join(root, 'sys/block/sda/device'));
  await put('sys/block/loop0/size', '2048');
  await put('sys/block/sr0/size', '2048');
  await put('sys/block/vdb/size', '0');
  for (const [name, mac, carrier, phys] of [
    ['eth0', '52:54:00:12:34:56', '1', true],
    ['eth1', '52:54:00:AB:CD:EF', '0', true],
    ['br0', '52:54:00:00:00:01', '1', false],
  ] as const) {
    await put(`sys/class/net/${name}/address`, `${mac}\n`);
    await put(`sys/class/net/${name}/type`, '1\n');
    await put(`sys/class/net/${name}/carrier`, `${carrier}\n`);
    if (phys) await put(`sys/class/net/${name}/device/vendor`, '0x1af4');
  }
  await put('sys/class/net/eth0/speed', '1000');
  await put('sys/class/net/lo/address', '00:00:00:00:00:00');
  await put('sys/class/net/lo/type', '772');
  await put('sys/class/net/sit0/type', '776');
  await put('sys/class/dmi/id/sys_vendor', 'QEMU\n');
  await put('sys/class/dmi/id/product_name', 'Standard PC (Q35 + ICH9, 2009)\n');
  await put('sys/class/dmi/id/product_serial', 'BS-NODE-7\n');
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('inspect reads CPUs, memory, disks, NICs and system from /proc and /sys', async () => {
  const inv = await inspect(root);
  assert.equal(inv.cpu.count, 3);
  assert.equal(inv.cpu.model_name, 'QEMU Virtual CPU version 2.5+');
  assert.equal(inv.memory.total_bytes, 760000 * 1024);
  assert.equal(inv.memory.physical_mb, 768);
  assert.deepEqual(inv.disks, [
    { name: '/dev/sda', size: 100 * GiB, model: 'QEMU HARDDISK', vendor: 'ATA', serial: null, wwn: '0x5000c500a1b2c3d4', rotational: true, hctl: '0:0:0:0' },
    { name: '/dev/vda', size: 20 * GiB, model: null, vendor: null, serial: 'BSDISK0001', wwn: null, rotational: false, hctl: null },
  ]);
  assert.deepEqual(inv.interfaces, [
    { name: 'br0', mac_address: '52:54:00:00:00:01', has_carrier: true, speed_mbps: null, physical: false },
    { name: 'eth0', mac_address: '52:54:00:12:34:56', has_carrier: true, speed_mbps: 1000, physical: true },
    { name: 'eth1', mac_address: '52:54:00:ab:cd:ef', has_carrier: false, speed_mbps: null, physical: true },
  ]);
  assert.deepEqual(inv.system_vendor, { manufacturer: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)', serial_number: 'BS-NODE-7', uuid: null });
});

test('root device hints choose by size, name, serial, wwn, model and rotational', async () => {
  const { disks } = await inspect(root);
  const pick = (h: Record<string, string | number | boolean>) => findDevices(disks, h).map((d) => d.name);
  assert.deepEqual(pick({ size: 20 }), ['/dev/vda']);
  assert.deepEqual(pick({ size: '>= 50' }), ['/dev/sda']);
  assert.deepEqual(pick({ size: '<or> 20 <or> 100' }), ['/dev/sda', '/dev/vda']);
  assert.deepEqual(pick({ name: 'vda' }), ['/dev/vda']);
  assert.deepEqual(pick({ name: '/dev/sda' }), ['/dev/sda']);
  assert.deepEqual(pick({ serial: 'BSDISK0001' }), ['/dev/vda']);
  assert.deepEqual(pick({ wwn: '0x5000c500a1b2c3d4' }), ['/dev/sda']);
  assert.deepEqual(pick({ model: 'QEMU HARDDISK' }), ['/dev/sda']);
  assert.deepEqual(pick({ model: '<in> HARD' }), ['/dev/sda']);
  assert.deepEqual(pick({ rotational: false }), ['/dev/vda']);
  assert.deepEqual(pick({ rotational: 'true', size: '> 10' }), ['/dev/sda']);
  assert.deepEqual(pick({ serial: 'nope' }), []);
  assert.equal(chooseRootDevice(disks).name, '/dev/vda'); // the smallest of at least 4 GiB
  assert.throws(() => chooseRootDevice(disks, { serial: 'nope' }), /no disk matches.*\/dev\/sda 100 GiB/);
  assert.throws(() => findDevices(disks, { colour: 'red' }), RootDeviceHintError);
});

test('hint expressions evaluate as oslo.utils specs_matcher does', async () => {
  const cases: Array<[string | number, string, 'int' | 'str']> = [
    [20, '20', 'int'], [20, '== 20', 'int'], [20, '== 21', 'int'], [20, '>= 10', 'int'], [20, '>= 21', 'int'],
    [20, '= 10', 'int'], [20, '<= 20', 'int'], [20, '< 20', 'int'], [20, '> 19', 'int'], [20, '!= 20', 'int'],
    ['abc', 'abc', 'str'], ['abc', 's== abc', 'str'], ['abc', 's!= abc', 'str'], ['abc', 's< abd', 'str'],
    ['abc', 's>= abd', 'str'], ['abc', 's> abb', 'str'], ['abc', 's<= abc', 'str'], ['abcdef', '<in> cde', 'str'],
    ['abcdef', '<in> xyz', 'str'], ['abc', '<or> x <or> abc', 'str'], ['abc', '<or> x <or> y', 'str'],
  ];
  // Ironic first gives a bare value its default operator (== for integers, s== for strings), then
  // hands specs_matcher an integer size or a string. (Not compared: "<or>" on sizes, which
  // specs_matcher compares as int == str and so never matches; we compare numbers.)
  const py = `
import json, sys
from oslo_utils import specs_matcher
ops = ('=', '==', '!=', '<=', '<', '>=', '>', 's==', 's!=', 's<', 's<=', 's>', 's>=', '<in>', '<or>')
out = []
for actual, expr, kind in json.load(sys.stdin):
    if expr.split()[0] not in ops:
        expr = ('== ' if kind == 'int' else 's== ') + expr
    out.append(bool(specs_matcher.match(actual if kind == 'int' else str(actual), expr)))
print(json.dumps(out))
`;
  const r = await run('/usr/bin/python3', ['-c', py], { input: JSON.stringify(cases), timeoutMs: 30_000 });
  const oracle = JSON.parse(r.stdout) as boolean[];
  const ours = cases.map(([a, e, k]) => matchExpression(a, e, k));
  assert.deepEqual(ours, oracle);
});
