// The config drive: a vfat filesystem labelled config-2 holding openstack/latest/meta_data.json,
// network_data.json, user_data (and vendor_data.json), the layout cloud-init and our first-boot
// unit read. Built straight into its partition with mkfs.vfat --offset and mtools, so nothing is
// mounted and no partition device node is needed (the kernel may not know the new table yet).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../common/child-process.js';

export interface ConfigDriveContent {
  meta_data: Record<string, unknown>;
  network_data?: Record<string, unknown>;
  user_data?: string | null;
  vendor_data?: Record<string, unknown>;
}

export const CONFIG_DRIVE_LABEL = 'config-2';

export async function writeConfigDrive(device: string, partition: { start: number; size: number }, content: ConfigDriveContent): Promise<{ files: string[] }> {
  if (partition.start % 512 !== 0) throw new Error(`config drive partition start ${partition.start} is not sector-aligned`);
  const kib = Math.floor(partition.size / 1024);
  // mkfs.vfat writes a filesystem of `kib` 1 KiB blocks starting at sector `start/512` of the disk.
  // -I: on a real disk (not a file) it otherwise refuses a whole device that has partitions, which
  // is exactly our case; -F 16: on a real disk it sizes the FAT from the whole device (FAT32, then
  // "too small" for 64 MiB). Both found by the lab deploy test (test/boot-lab-deploy.test.ts).
  await run('mkfs.vfat', ['-I', '-F', '16', '-n', CONFIG_DRIVE_LABEL, '--offset', String(partition.start / 512), device, String(kib)], { timeoutMs: 60_000 });
  const target = `${device}@@${partition.start}`;
  // mtools checks the BIOS geometry against the size, which an offset filesystem does not match.
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  const tmp = await mkdtemp(join(tmpdir(), 'config-drive-'));
  const files: string[] = [];
  try {
    await run('mmd', ['-i', target, '::openstack', '::openstack/latest'], { env, timeoutMs: 30_000 });
    const put = async (name: string, data: string) => {
      const local = join(tmp, name);
      await writeFile(local, data);
      await run('mcopy', ['-i', target, local, `::openstack/latest/${name}`], { env, timeoutMs: 30_000 });
      files.push(`openstack/latest/${name}`);
    };
    await put('meta_data.json', JSON.stringify(content.meta_data));
    await put('network_data.json', JSON.stringify(content.network_data ?? { links: [], networks: [], services: [] }));
    if (content.vendor_data) await put('vendor_data.json', JSON.stringify(content.vendor_data));
    if (content.user_data !== undefined && content.user_data !== null) await put('user_data', content.user_data);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { files };
}
