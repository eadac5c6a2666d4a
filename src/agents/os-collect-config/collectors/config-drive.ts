// The OpenStack config drive (a vfat or iso9660 filesystem labelled config-2): found with
// `blkid -o export`, used where it is already mounted or mounted read-only for the read, and
// ec2/latest/meta-data.json read from it. The system calls are injectable for tests.
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../common/child-process.js';
import { parse, type PyValue } from '../../common/py-json.js';
import type { CollectorLog } from './types.js';

export interface BlockDevice {
  devname?: string;
  type?: string;
  label?: string;
}

export interface DriveSystem {
  blkidExport(): Promise<string>;
  procMounts(): string;
  mount(dev: string, dir: string): Promise<void>;
  umount(dir: string): Promise<void>;
}

export const realDriveSystem: DriveSystem = {
  blkidExport: async () => (await run('blkid', ['-o', 'export'], { timeoutMs: 30_000 })).stdout,
  procMounts: () => readFileSync('/proc/mounts', 'utf8'),
  mount: async (dev, dir) => void (await run('mount', [dev, dir, '-o', 'ro'], { timeoutMs: 30_000 })),
  umount: async (dir) => void (await run('umount', ['-l', dir], { timeoutMs: 30_000 })),
};

export function parseBlkidExport(text: string): BlockDevice[] {
  return text.split('\n\n').map((block) => {
    const dev: BlockDevice = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const value = line.slice(eq + 1).replace(/\\ /g, ' ');
      const key = line.slice(0, eq);
      if (key === 'DEVNAME') dev.devname = value;
      else if (key === 'TYPE') dev.type = value;
      else if (key === 'LABEL') dev.label = value;
    }
    return dev;
  });
}

/** The config drive's EC2 metadata, or {} when there is none (as the original). */
export async function configDriveMetadata(log: CollectorLog, sys: DriveSystem = realDriveSystem): Promise<PyValue> {
  let devices: BlockDevice[];
  try {
    devices = parseBlkidExport(await sys.blkidExport());
  } catch (err) {
    log.error(`Problem running "blkid -o export": ${(err as Error).message}`);
    return {};
  }
  const drive = devices.find((d) => d.label === 'config-2' && (d.type === 'vfat' || d.type === 'iso9660'));
  if (!drive?.devname) return {};
  let mountpoint = sys
    .procMounts()
    .split('\n')
    .map((l) => l.split(/\s+/))
    .find((f) => f[0] === drive.devname)?.[1];
  let mounted = false;
  try {
    if (!mountpoint) {
      mountpoint = mkdtempSync(join(tmpdir(), 'config-2-'));
      try {
        await sys.mount(drive.devname, mountpoint);
        mounted = true;
      } catch (err) {
        log.error(`Problem mounting ${drive.devname}: ${(err as Error).message}`);
        rmdirSync(mountpoint);
        return {};
      }
    }
    const path = join(mountpoint, 'ec2', 'latest', 'meta-data.json');
    try {
      return parse(readFileSync(path, 'utf8'), path);
    } catch (err) {
      log.warn(`No usable metadata at ${path}: ${(err as Error).message}`);
      return {};
    }
  } finally {
    if (mounted && mountpoint) {
      await sys.umount(mountpoint).then(
        () => rmdirSync(mountpoint as string),
        (err: Error) => log.error(`Problem unmounting ${mountpoint as string}: ${err.message}`),
      );
    }
  }
}
