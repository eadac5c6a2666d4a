// Writes a file so that readers see either the old content or the new, never a half-written one:
// write to a temporary file in the same directory, fsync, rename over the target.
import { open, rename, unlink, mkdir, chmod, chown } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AtomicWriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Create missing parent directories. Default true. */
  mkdirs?: boolean;
  /**
   * fsync the data before the rename. Default true; false for files rebuilt from the database at
   * every start (the rename still makes the swap atomic for readers, it just may not survive a crash).
   */
  fsync?: boolean;
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirs !== false) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (options.fsync !== false) await handle.sync();
    await handle.close();
    // open() applies the umask; set the mode explicitly so 0600 secrets stay 0600 and 0755 stays 0755.
    if (options.mode !== undefined) await chmod(tmp, options.mode);
    if (options.uid !== undefined || options.gid !== undefined) {
      await chown(tmp, options.uid ?? -1, options.gid ?? -1);
    }
    await rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
