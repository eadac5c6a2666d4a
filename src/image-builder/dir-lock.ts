// A lock between concurrent builds on one machine (they share the apt cache, whose own locks make a
// second apt fail rather than wait): a directory created atomically, holding the owner's pid; a
// lock whose owner is dead is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../common/sleep.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireDirLock(
  path: string,
  opts: { signal?: AbortSignal; onWait?: () => void } = {},
): Promise<() => void> {
  let waited = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(path, 'pid'), 'utf8'));
    } catch {
      // being created or removed right now
    }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!waited) opts.onWait?.();
    waited = true;
    await sleep(500);
  }
}
