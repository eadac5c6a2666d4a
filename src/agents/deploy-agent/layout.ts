// Where the image and the config drive go on the disk.
// - Partition image: a new GPT with the root partition (the image, or root_mb if larger) and a
//   64 MiB config-2 partition after it.
// - Whole-disk image: written as it is; then its GPT backup header is moved to the real end of
//   the disk (sgdisk -e) and a 64 MiB config-2 partition is appended in the last 64 MiB.
import { run } from '../../common/child-process.js';
import { deviceSize, MiB, readPartitionTable, sfdisk, type PartitionInfo } from './disk.js';

export const CONFIG_DRIVE_SIZE = 64 * MiB;
const LINUX_FS = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const ALIGN = MiB;

export interface PartitionLayout {
  root: PartitionInfo;
  configDrive: PartitionInfo;
}

/** Creates the GPT for a partition image; `rootBytes` is rounded up to whole MiB. */
export async function partitionForImage(device: string, rootBytes: number): Promise<PartitionLayout> {
  const size = await deviceSize(device);
  const rootMiB = Math.ceil(rootBytes / MiB);
  // 1 MiB before the first partition, 1 MiB slack at the end for the backup GPT.
  const needed = (rootMiB + CONFIG_DRIVE_SIZE / MiB + 2) * MiB;
  if (needed > size) throw new Error(`${device} holds ${size} bytes; root ${rootMiB} MiB + config drive needs ${needed}`);
  await sfdisk(device, `label: gpt\nsize=${rootMiB}MiB, type=${LINUX_FS}, name=root\nsize=${CONFIG_DRIVE_SIZE / MiB}MiB, type=${LINUX_FS}, name=config-2\n`);
  const table = await readPartitionTable(device);
  const [root, configDrive] = table?.partitions ?? [];
  if (!root || !configDrive) throw new Error(`partitioning ${device} did not produce two partitions`);
  return { root, configDrive };
}

/** Appends the config-2 partition after a whole-disk image; returns it. */
export async function appendConfigDrivePartition(device: string): Promise<PartitionInfo> {
  const table = await readPartitionTable(device);
  if (!table) throw new Error(`the whole-disk image on ${device} has no partition table`);
  const size = await deviceSize(device);
  const existing = table.partitions.find((p) => p.name === 'config-2');
  if (existing) return existing;
  const sector = table.sectorSize;
  let end = size;
  if (table.label === 'gpt') {
    // The image's backup GPT sits where the image ended; move it to the disk's end first.
    await run('sgdisk', ['-e', device], { timeoutMs: 60_000 });
    end = size - 34 * sector;
  }
  const start = Math.floor((end - CONFIG_DRIVE_SIZE) / ALIGN) * ALIGN;
  const lastUsed = Math.max(0, ...table.partitions.map((p) => p.start + p.size));
  if (start < lastUsed) throw new Error(`no room for a ${CONFIG_DRIVE_SIZE / MiB} MiB config drive after the image on ${device}`);
  const line =
    table.label === 'gpt'
      ? `start=${start / sector}, size=${CONFIG_DRIVE_SIZE / sector}, type=${LINUX_FS}, name=config-2\n`
      : `start=${start / sector}, size=${CONFIG_DRIVE_SIZE / sector}, type=83\n`;
  await run('sfdisk', ['--no-reread', '--no-tell-kernel', '--quiet', '--append', device], { input: line, timeoutMs: 60_000 });
  const after = await readPartitionTable(device);
  const added = after?.partitions.find((p) => p.start === start);
  if (!added) throw new Error(`appending the config drive partition to ${device} failed`);
  return added;
}
