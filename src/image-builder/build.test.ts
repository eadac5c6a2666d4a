// End-to-end builds (root, debootstrap base from the shared cache, QEMU under TCG). Sequential in
// one file: builds of the same release share the apt cache and wait for each other anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../common/child-process.js';
import { buildImage } from './build.js';
import { HookFailedError } from './hook-runner.js';
import { mountsUnder, processesUnder } from './mounts.js';
import { bootUntilMarker } from '../../test/support/image-builder/qemu-boot.js';
import { sha256File } from './outputs.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const TEST_ELEMENTS = join(here, 'testdata', 'elements');
const REPO = join(here, '..', '..');

function processesWithArg(arg: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(arg);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function assertClean(buildDir: string, sleepArg: string): void {
  assert.deepEqual(mountsUnder(buildDir), [], 'mounts left');
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(buildDir), 'a mount under the build dir is left in /proc/mounts');
  assert.deepEqual(processesWithArg(sleepArg), [], 'the hook\'s background process is still running');
  assert.deepEqual(processesUnder(buildDir), [], 'processes left in the build dir');
  assert.ok(!existsSync(buildDir), `build dir ${buildDir} not removed`);
}

test('debian-minimal vm: qcow2, raw, partition and tar outputs; boots under SeaBIOS and OVMF', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-image-test-'));
  try {
    const marker = `m${Date.now().toString(36)}`;
    const r = await buildImage({
      elements: ['debian-minimal', 'vm', 'boot-marker'],
      output: join(out, 'vm'),
      types: ['qcow2', 'raw', 'partition', 'tar'],
      elementsPath: [TEST_ELEMENTS],
      env: { DIB_BOOT_MARKER: marker },
    });
    assert.deepEqual(r.elements, ['boot-marker', 'debian-minimal', 'vm']);
    const types = r.outputs.map((o) => o.type).sort();
    assert.deepEqual(types, ['initrd', 'partition', 'qcow2', 'raw', 'tar', 'vmlinuz']);
    for (const o of r.outputs) {
      assert.equal(await sha256File(o.path), o.sha256);
      assert.equal(readFileSync(`${o.path}.sha256`, 'utf8'), `${o.sha256}  ${o.path.split('/').pop()}\n`);
    }
    const manifest = JSON.parse(readFileSync(r.manifest, 'utf8')) as { packages: Array<{ name: string }> };
    const names = manifest.packages.map((p) => p.name);
    for (const p of ['linux-image-amd64', 'systemd-sysv', 'initramfs-tools', 'base-files']) assert.ok(names.includes(p), p);

    // The whole disk: GPT, ESP flagged legacy-BIOS-bootable, ext4 root labelled for the kernel.
    const table = JSON.parse((await run('sfdisk', ['--json', join(out, 'vm.raw')])).stdout) as {
      partitiontable: { label: string; partitions: Array<{ type: string; attrs?: string; start: number }> };
    };
    assert.equal(table.partitiontable.label, 'gpt');
    assert.equal(table.partitiontable.partitions.length, 2);
    assert.match(table.partitiontable.partitions[0]!.attrs ?? '', /LegacyBIOSBootable/);
    const esp = await run('mdir', ['-i', `${join(out, 'vm.raw')}@@${table.partitiontable.partitions[0]!.start * 512}`, '-a', '-b', '::/'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    for (const f of ['vmlinuz', 'initrd.img', 'syslinux.cfg', 'ldlinux.sys', 'ldlinux.c32']) assert.match(esp.stdout, new RegExp(f, 'i'));
    const part = await run('dumpe2fs', ['-h', join(out, 'vm.partition.raw')]);
    assert.match(part.stdout, /Filesystem volume name:\s+cloudimg-rootfs/);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', join(out, 'vm.qcow2')])).stdout) as { format: string };
    assert.equal(info.format, 'qcow2');
    const tar = await run('sh', ['-c', 'tar -tf "$1" | grep -c . ; tar -tf "$1" ./etc/boot-marker', 'sh', join(out, 'vm.tar')]);
    assert.match(tar.stdout, /\.\/etc\/boot-marker/);

    const expect = new RegExp(`BOOT-MARKER ${marker} root=/dev/vda2`);
    const disk = { path: join(out, 'vm.qcow2'), format: 'qcow2' as const };
    const [bios, uefi] = await Promise.all([
      bootUntilMarker({ firmware: 'bios', disk, marker: expect, timeoutMs: 240_000 }),
      bootUntilMarker({ firmware: 'uefi', disk, marker: expect, timeoutMs: 240_000 }),
    ]);
    assert.ok(bios.found, `SeaBIOS boot did not reach the marker:\n${bios.console.slice(-3000)}`);
    assert.ok(uefi.found, `OVMF boot did not reach the marker:\n${uefi.console.slice(-3000)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('ramdisk: kernel + initramfs boot to the marker with the virtio modules loaded', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-image-test-'));
  try {
    const r = await buildImage({ elements: ['debian-minimal', 'ramdisk'], output: join(out, 'rd'), types: ['initramfs'] });
    assert.deepEqual(r.outputs.map((o) => o.type).sort(), ['initramfs', 'kernel']);
    const listing = await run('sh', ['-c', 'zcat "$1" | cpio -t --quiet', 'sh', join(out, 'rd.initramfs')]);
    for (const f of ['init', 'bin/busybox', 'etc/modules']) assert.ok(listing.stdout.split('\n').includes(f), f);
    const boot = await bootUntilMarker({
      firmware: 'bios',
      kernel: join(out, 'rd.kernel'),
      initrd: join(out, 'rd.initramfs'),
      append: 'console=ttyS0,115200',
      marker: /BOOTSTACK-RAMDISK-READY[^\n]*virtio_blk[^\n]*\n/, // the whole line
      timeoutMs: 120_000,
    });
    assert.ok(boot.found, `ramdisk did not reach the marker:\n${boot.console.slice(-3000)}`);
    assert.match(boot.match!, /virtio_pci virtio_blk virtio_net ext4/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a failing hook stops the build with element, phase, hook, exit code and output tail; nothing is left', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-image-test-'));
  try {
    let err: unknown;
    let buildDir = '';
    try {
      await buildImage({
        elements: ['debian-minimal', 'fail-hook'],
        output: join(out, 'fail'),
        types: ['tar'],
        elementsPath: [TEST_ELEMENTS],
        env: {},
        verbose: true,
        write: (c) => {
          const m = /build dir: (\S+)/.exec(c);
          if (m) buildDir = m[1]!;
        },
      });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof HookFailedError, String(err));
    assert.equal(err.element, 'fail-hook');
    assert.equal(err.phase, 'pre-install.d');
    assert.match(err.hookPath, /pre-install\.d\/50-fail$/);
    assert.equal(err.exitCode, 3);
    assert.match(err.message, /the last words of the failing hook/);
    assert.match(err.message, /exit code 3/);
    assert.doesNotMatch(err.outputTail, /noise line 1\n/, 'only the tail is kept');
    assert.ok(buildDir.startsWith(tmpdir()), `hook did not report its build dir: ${buildDir}`);
    assertClean(buildDir, '3600.4242');
    assert.ok(!existsSync(join(out, 'fail.tar')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('Ctrl-C (SIGINT) during a hook: the CLI exits 130 and cleans up mounts, processes and files', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-image-test-'));
  try {
    const child = spawn(
      join(REPO, 'bin', 'bootstack.js'),
      ['image', 'build', '-v', '-o', join(out, 'int'), '-t', 'tar', '--elements-path', TEST_ELEMENTS, 'debian-minimal', 'sigint-hook'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let buildDir = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hook never started:\n${stderr}`)), 300_000);
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /HOOK-STARTED (\S+)/.exec(stderr);
        if (m && !buildDir) {
          buildDir = m[1]!;
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, stderr.slice(-2000));
    assert.match(stderr, /interrupted: cleaning up/);
    assertClean(buildDir, '3600.7777');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--offline rebuild from the cache: no download, the same elements build', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-image-test-'));
  try {
    // Fill the cache if this test runs alone; a no-op cache hit after the first test.
    await buildImage({ elements: ['debian-minimal', 'vm'], output: join(out, 'online'), types: ['tar'], env: {} });
    let output = '';
    const r = await buildImage({
      elements: ['debian-minimal', 'vm'],
      output: join(out, 'offline'),
      types: ['tar'],
      offline: true,
      env: {},
      verbose: true,
      write: (c) => (output += c),
    });
    assert.ok(r.baseCacheHit);
    assert.doesNotMatch(output, /^(Get|Hit|Ign):\d/m, 'apt went to the network');
    assert.ok(existsSync(join(out, 'offline.tar')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
