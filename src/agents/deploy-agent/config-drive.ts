// The config drive: a vfat filesystem labelled config-2 holding the OpenStack tree
// (openstack/<version>/meta_data.json, network_data.json, user_data, vendor_data*.json for latest
// and every dated version) and the EC2 one (ec2/<version>/meta-data.json), the layout cloud-init
// and our first-boot unit read. The files come from src/common/instance-metadata.ts, the same
// function the metadata service answers from. Built straight into its partition with
// mkfs.vfat --offset and mtools, so nothing is mounted and no partition device node is needed
// (the kernel may not know the new table yet).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../common/child-process.js';
import { configDriveFiles, type InstanceContent } from '../../common/instance-metadata.js';

export type ConfigDriveContent = InstanceContent;

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
  const tree = configDriveFiles(content);
  try {
    // The tree is laid out in a temporary directory and copied in with one recursive mcopy: one
    // process instead of one per file (there are ~50 files across the versions).
    for (const [path, data] of tree) {
      const local = join(tmp, path);
      await mkdir(dirname(local), { recursive: true });
      await writeFile(local, data);
    }
    await run('mcopy', ['-s', '-i', target, join(tmp, 'openstack'), join(tmp, 'ec2'), '::/'], { env, timeoutMs: 60_000 });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const files = [...tree.keys()];
  return { files };
}
