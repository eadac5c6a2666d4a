// An exclusive, non-blocking flock(2) on the lock file, the same lock the original takes (so the
// two never overlap either). Node has no flock, so util-linux's flock(1) holds it for us: it
// locks the file and runs `cat`, which lives until we close its stdin or die, whichever comes
// first, and the kernel drops the lock with it.
import { spawn } from 'node:child_process';
import { openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';

export const EWOULDBLOCK = 11;

export interface HeldLock {
  release(): Promise<void>;
}

export class LockBusyError extends Error {}

export async function acquireLock(path: string): Promise<HeldLock> {
  closeSync(openSync(path, 'a'));
  const child = spawn('flock', ['--nonblock', '--conflict-exit-code', '75', path, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const locked = await new Promise<boolean>((resolve, reject) => {
    child.on('error', (err) => reject(new Error(`flock (util-linux) is needed to lock ${path}: ${err.message}`)));
    child.stdout.once('data', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    const code = await exited;
    throw code === 75 ? new LockBusyError(`Could not lock ${path}. [Errno ${EWOULDBLOCK}] Resource temporarily unavailable`) : new Error(`flock failed on ${path} (exit ${code})`);
  }
  const fd = openSync(path, 'r+');
  ftruncateSync(fd, 0);
  writeSync(fd, `Locked by pid==${process.pid} at ${new Date().toISOString()}\n`);
  return {
    async release() {
      ftruncateSync(fd, 0);
      closeSync(fd);
      child.stdin.end();
      await exited;
    },
  };
}
