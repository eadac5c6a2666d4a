// Output formats, all made without mounting anything: tar of the root; an ext4 partition image made
// with `mke2fs -d`; a whole-disk GPT image (ESP as FAT via mtools, holding the kernel, initrd,
// systemd-boot for UEFI and syslinux for BIOS, flagged legacy-BIOS-bootable so syslinux's gptmbr.bin
// finds it; root ext4 written straight into its partition with `mke2fs -E offset=`); qcow2 through
// qemu-img; a compressed cpio initramfs. No loop device is used anywhere.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run } from '../common/child-process.js';
import { BootstackError } from '../common/errors.js';

const MiB = 1024 * 1024;
export const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
export const LINUX_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
const GPTMBR = '/usr/lib/syslinux/mbr/gptmbr.bin';

export class OutputError extends BootstackError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super(500, 'image_output_failed', message, { fields });
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `<file>.sha256` in sha256sum's format and returns the digest. */
export async function writeChecksum(path: string): Promise<string> {
  const digest = await sha256File(path);
  writeFileSync(`${path}.sha256`, `${digest}  ${basename(path)}\n`);
  return digest;
}

/** Apparent size of a tree in bytes (du -sb), used to size file systems. */
export async function treeBytes(root: string): Promise<number> {
  const r = await run('du', ['-sb', '--one-file-system', root]);
  return Number(r.stdout.split(/\s/)[0]);
}

export async function makeTar(root: string, out: string): Promise<void> {
  await run('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', out, '.']);
}

export interface KernelFiles {
  kernel: string;
  initrd: string | undefined;
  version: string;
}

/** The newest /boot/vmlinuz-<version> of the root and its initrd.img, if any. */
export function findKernel(root: string): KernelFiles | undefined {
  const boot = join(root, 'boot');
  if (!existsSync(boot)) return undefined;
  const versions = readdirSync(boot)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = versions.pop();
  if (!version) return undefined;
  const initrd = join(boot, `initrd.img-${version}`);
  return { kernel: join(boot, `vmlinuz-${version}`), initrd: existsSync(initrd) ? initrd : undefined, version };
}

/** Root file system size: contents plus 30% and 256 MiB of headroom, in whole MiB. */
export function rootSizeFor(contentBytes: number): number {
  return Math.ceil((contentBytes * 1.3 + 256 * MiB) / MiB) * MiB;
}

export async function makeExt4(root: string, out: string, opts: { bytes: number; label: string; uuid: string; offset?: number }): Promise<void> {
  const args = ['-q', '-F', '-t', 'ext4', '-L', opts.label, '-U', opts.uuid, '-d', root];
  if (opts.offset !== undefined) args.push('-E', `offset=${opts.offset}`);
  args.push(out, `${Math.floor(opts.bytes / 1024)}k`);
  await run('mke2fs', args, { env: { ...process.env, E2FSPROGS_FAKE_TIME: undefined } });
}

export interface DiskLayout {
  espStart: number;
  espBytes: number;
  rootStart: number;
  rootBytes: number;
  totalBytes: number;
}

export function diskLayout(rootBytes: number, espBytes = 128 * MiB): DiskLayout {
  const espStart = 1 * MiB;
  const rootStart = espStart + espBytes;
  // 1 MiB at the end leaves room for the backup GPT.
  const totalBytes = rootStart + rootBytes + 1 * MiB;
  return { espStart, espBytes, rootStart, rootBytes, totalBytes };
}

export interface WholeDiskOptions {
  root: string;
  out: string;
  kernel: KernelFiles;
  cmdline: string;
  rootLabel: string;
  rootUuid: string;
  /** Total disk size in bytes (--image-size); default: from the root's contents. */
  sizeBytes?: number;
}

export async function makeWholeDisk(opts: WholeDiskOptions): Promise<DiskLayout> {
  if (!opts.kernel.initrd) throw new OutputError(`no initrd for kernel ${opts.kernel.version} in the image's /boot`);
  for (const f of [SYSTEMD_BOOT, GPTMBR]) {
    if (!existsSync(f)) throw new OutputError(`${f} is missing: install the Debian packages systemd-boot-efi and syslinux-common`);
  }
  const content = await treeBytes(opts.root);
  let layout = diskLayout(rootSizeFor(content));
  if (opts.sizeBytes !== undefined) {
    const rootBytes = Math.floor((opts.sizeBytes - 130 * MiB) / MiB) * MiB;
    if (rootBytes < content) {
      throw new OutputError(`--image-size ${opts.sizeBytes} bytes is too small for ${content} bytes of root file system`);
    }
    layout = diskLayout(rootBytes);
  }
  const sector = 512;
  writeFileSync(opts.out, '');
  await run('truncate', ['-s', String(layout.totalBytes), opts.out]);
  const script = [
    'label: gpt',
    `start=${layout.espStart / sector}, size=${layout.espBytes / sector}, type=${ESP_TYPE}, name="ESP", attrs="LegacyBIOSBootable"`,
    `start=${layout.rootStart / sector}, size=${layout.rootBytes / sector}, type=${LINUX_TYPE}, name="root"`,
    '',
  ].join('\n');
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', opts.out], { input: script });

  // ESP: FAT with kernel + initrd at its root, systemd-boot (UEFI) and syslinux (BIOS).
  const esp = `${opts.out}@@${layout.espStart}`;
  const mt = { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } };
  await run('mformat', ['-i', esp, '-T', String(layout.espBytes / sector), '-v', 'ESP', '::'], mt);
  const staging = `${opts.out}.esp`;
  try {
    mkdirSync(join(staging, 'EFI', 'BOOT'), { recursive: true });
    mkdirSync(join(staging, 'loader', 'entries'), { recursive: true });
    writeFileSync(join(staging, 'loader', 'loader.conf'), 'default bootstack.conf\ntimeout 0\n');
    writeFileSync(
      join(staging, 'loader', 'entries', 'bootstack.conf'),
      `title Bootstack image\nlinux /vmlinuz\ninitrd /initrd.img\noptions ${opts.cmdline}\n`,
    );
    writeFileSync(
      join(staging, 'syslinux.cfg'),
      `DEFAULT linux\nTIMEOUT 0\nPROMPT 0\nSERIAL 0 115200\nLABEL linux\n  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND ${opts.cmdline}\n`,
    );
    await run('cp', [SYSTEMD_BOOT, join(staging, 'EFI', 'BOOT', 'BOOTX64.EFI')]);
    await run('cp', [opts.kernel.kernel, join(staging, 'vmlinuz')]);
    await run('cp', [opts.kernel.initrd, join(staging, 'initrd.img')]);
    await run('mcopy', ['-s', '-i', esp, join(staging, 'EFI'), join(staging, 'loader'), '::/'], mt);
    await run('mcopy', ['-i', esp, join(staging, 'vmlinuz'), join(staging, 'initrd.img'), join(staging, 'syslinux.cfg'), '::/'], mt);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  await run('syslinux', ['--offset', String(layout.espStart), '--install', opts.out]);
  await run('dd', [`if=${GPTMBR}`, `of=${opts.out}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);

  await makeExt4(opts.root, opts.out, { bytes: layout.rootBytes, label: opts.rootLabel, uuid: opts.rootUuid, offset: layout.rootStart });
  return layout;
}

export async function makeQcow2(raw: string, out: string): Promise<void> {
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, out]);
}

/** newc cpio of a directory, gzip-compressed (what the kernel and iPXE take as an initrd). */
export async function makeInitramfs(tree: string, out: string): Promise<void> {
  // pipefail: a failing find or cpio must fail the build, not leave a truncated initramfs.
  await run('bash', [
    '-o',
    'pipefail',
    '-c',
    'cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null --quiet -o -H newc -R 0:0 | gzip -1 > "$2"',
    'bash',
    tree,
    out,
  ]);
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

export function newUuid(): string {
  return randomUUID();
}
