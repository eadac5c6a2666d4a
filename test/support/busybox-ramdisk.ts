// A busybox initramfs for lab machines (QEMU, virtio): the host's kernel and its virtio modules,
// an /init of the test's choosing after the common start (mounts, modules, kernel command line
// read into API/SECRET/MAC, eth0 up with a DHCP lease). Used by the network-boot tests.
import { mkdir, writeFile, copyFile, readdir, chmod, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../../src/common/child-process.js';

export const VIRTIO_NET_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];

/** The newest kernel in /boot with its modules present (Debian's linux-image-amd64). */
export async function hostKernel(): Promise<{ kernel: string; modules: string }> {
  const versions = (await readdir('/boot')).filter((f) => f.startsWith('vmlinuz-')).map((f) => f.slice('vmlinuz-'.length));
  const usable = versions.filter((v) => existsSync(`/lib/modules/${v}/kernel`)).sort();
  const v = usable.at(-1);
  if (!v) throw new Error('no /boot/vmlinuz-* with /lib/modules: install linux-image-amd64 (scripts/debian-packages/boot.txt)');
  return { kernel: `/boot/vmlinuz-${v}`, modules: `/lib/modules/${v}` };
}

/** Copies a host binary and the shared libraries ldd lists for it into the ramdisk root, same paths. */
export async function copyWithLibraries(root: string, binary: string): Promise<void> {
  const files = [binary];
  const ldd = await run('ldd', [binary], { allowFailure: true });
  for (const line of ldd.stdout.split('\n')) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m?.[1]) files.push(m[1]);
  }
  for (const f of files) {
    await mkdir(join(root, dirname(f)), { recursive: true });
    await copyFile(f, join(root, f));
    await chmod(join(root, f), 0o755);
  }
}

/**
 * Builds <dir>/deploy.initramfs; `body` is shell run by /init after the network is up ($B is
 * busybox). `binaries` (host paths) are copied with their libraries; `files` maps ramdisk paths
 * to host files; `applets` become busybox links in /bin.
 */
export async function buildBusyboxRamdisk(
  dir: string,
  modulesDir: string,
  body: string,
  modules: string[] = VIRTIO_NET_MODULES,
  extra: { binaries?: string[]; files?: Record<string, string>; applets?: string[] } = {},
): Promise<string> {
  const root = join(dir, 'initramfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'lib/modules'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  for (const a of extra.applets ?? []) await symlink('busybox', join(root, 'bin', a));
  for (const b of extra.binaries ?? []) await copyWithLibraries(root, b);
  for (const [to, from] of Object.entries(extra.files ?? {})) {
    await mkdir(join(root, dirname(to)), { recursive: true });
    await copyFile(from, join(root, to));
  }
  for (const m of modules) {
    const found = await run('find', [modulesDir, '-name', `${m}.ko*`]);
    const path = found.stdout.trim().split('\n')[0];
    if (!path) throw new Error(`module ${m} not found under ${modulesDir}`);
    if (path.endsWith('.ko')) await copyFile(path, join(root, 'lib/modules', `${m}.ko`));
    else if (path.endsWith('.xz')) await run('sh', ['-c', `xz -dc "${path}" > "${join(root, 'lib/modules', `${m}.ko`)}"`]);
    else throw new Error(`module ${path}: unsupported compression`);
  }
  await writeFile(
    join(root, 'init'),
    `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /tmp
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do $B insmod /lib/modules/$m.ko; done
arg() { for w in $($B cat /proc/cmdline); do case $w in $1=*) echo "\${w#*=}";; esac; done; }
API=$(arg bootstack.api); SECRET=$(arg bootstack.boot_secret); MAC=$(arg BOOTIF)
echo "BOOTSTACK-RAMDISK api=$API mac=$MAC"
$B ip link set eth0 up
$B udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /dhcp.sh
${body}
`,
  );
  await writeFile(join(root, 'dhcp.sh'), '#!/bin/busybox sh\n[ "$1" = bound ] && /bin/busybox ip addr add "$ip/$mask" dev "$interface"\nexit 0\n');
  await chmod(join(root, 'init'), 0o755);
  await chmod(join(root, 'dhcp.sh'), 0o755);
  const out = join(dir, 'deploy.initramfs');
  await run('sh', ['-c', `find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "${out}"`], { cwd: root });
  return out;
}
