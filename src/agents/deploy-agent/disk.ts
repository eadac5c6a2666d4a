// Disk primitives shared by erase, write image and config drive: the size of a block device or of
// a disk image file, zeroing a byte range, and the partition table as sfdisk sees it.
import { open, stat } from 'node:fs/promises';
import { run } from '../../common/child-process.js';

export const MiB = 1024 * 1024;

export async function deviceSize(device: string): Promise<number> {
  const st = await stat(device);
  if (st.isFile()) return st.size;
  if (!st.isBlockDevice()) throw new Error(`${device} is neither a block device nor a disk image file`);
  const r = await run('blockdev', ['--getsize64', device], { timeoutMs: 30_000 });
  return Number(r.stdout.trim());
}

/** Writes zeros over [offset, offset+length) in 1 MiB pieces (never more in memory). */
export async function zeroRange(device: string, offset: number, length: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(MiB, length));
  const fh = await open(device, 'r+');
  try {
    let done = 0;
    while (done < length) {
      const n = Math.min(zeros.length, length - done);
      await fh.write(zeros, 0, n, offset + done);
      done += n;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Partitions appear in write_image's and write_config_drive's results: declared with the protocol.
import type { PartitionInfo } from '../../common/agent-protocol.js';
export type { PartitionInfo };

export interface PartitionTable {
  label: 'gpt' | 'dos';
  sectorSize: number;
  partitions: PartitionInfo[];
}

interface SfdiskJson {
  partitiontable: {
    label: string;
    sectorsize?: number;
    partitions?: Array<{ node: string; start: number; size: number; type: string; name?: string }>;
  };
}

/** The partition table, or null when there is none. */
export async function readPartitionTable(device: string): Promise<PartitionTable | null> {
  const r = await run('sfdisk', ['--json', device], { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0 || !r.stdout.trim()) return null;
  const t = (JSON.parse(r.stdout) as SfdiskJson).partitiontable;
  const sector = t.sectorsize ?? 512;
  return {
    label: t.label === 'gpt' ? 'gpt' : 'dos',
    sectorSize: sector,
    partitions: (t.partitions ?? []).map((p) => ({
      number: Number(/(\d+)$/.exec(p.node)?.[1] ?? 0),
      start: p.start * sector,
      size: p.size * sector,
      type: p.type,
      ...(p.name ? { name: p.name } : {}),
    })),
  };
}

/** Feeds an sfdisk script to the device (file or disk) without asking the kernel to re-read. */
export async function sfdisk(device: string, script: string, extra: string[] = []): Promise<void> {
  await run('sfdisk', ['--no-reread', '--no-tell-kernel', '--quiet', '--wipe', 'always', ...extra, device], { input: script, timeoutMs: 60_000 });
}

/** Asks the kernel to re-read a real disk's partitions (a no-op for image files). */
export async function rereadPartitions(device: string): Promise<void> {
  const st = await stat(device);
  if (st.isBlockDevice()) await run('blockdev', ['--rereadpt', device], { allowFailure: true, timeoutMs: 30_000 });
}
