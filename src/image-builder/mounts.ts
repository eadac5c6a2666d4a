// Mounts a build makes under its root (proc, sys, dev, the shared apt cache) and the way they all go
// away again: processes still running inside the root are killed first, then every mount point at
// or under the root is unmounted, deepest first, falling back to a lazy unmount. Cleanup reads
// /proc/mounts rather than trusting its own list, so a mount made by a hook goes too.
import { readdirSync, readFileSync, readlinkSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../common/child-process.js';
import { sleep } from '../common/sleep.js';

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountsUnder(root: string): string[] {
  const base = resolve(root);
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m)
    .map(unescapeMount)
    .filter((m) => m === base || m.startsWith(base + '/'));
}

/** Process ids whose root directory or working directory is inside `root` (a chroot's processes). */
export function processesUnder(root: string): number[] {
  const base = resolve(root);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    for (const link of ['root', 'cwd']) {
      try {
        const target = readlinkSync(`/proc/${pid}/${link}`);
        if (target === base || target.startsWith(base + '/')) {
          pids.push(pid);
          break;
        }
      } catch {
        // gone, or a kernel thread
      }
    }
  }
  return pids;
}

export class ChrootMounts {
  constructor(readonly root: string) {}

  async bind(source: string, target: string, readOnly = false): Promise<void> {
    const dest = join(this.root, target);
    mkdirSync(dest, { recursive: true });
    await run('mount', ['--bind', source, dest]);
    if (readOnly) await run('mount', ['-o', 'remount,ro,bind', dest]);
  }

  async mountFs(type: string, target: string): Promise<void> {
    const dest = join(this.root, target);
    mkdirSync(dest, { recursive: true });
    await run('mount', ['-t', type, type, dest]);
  }

  /** proc, sys, dev and dev/pts: what package installs and kernel postinst scripts need. */
  async mountSystem(): Promise<void> {
    await this.mountFs('proc', 'proc');
    await this.mountFs('sysfs', 'sys');
    await this.bind('/dev', 'dev');
    await this.bind('/dev/pts', 'dev/pts');
  }

  /** Kills what runs inside the root and unmounts everything under it. Safe to call twice. */
  async cleanup(): Promise<void> {
    await killUnder(this.root);
    await unmountUnder(this.root);
  }
}

export async function killUnder(root: string): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = processesUnder(root);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 20 && processesUnder(root).length; i++) await sleep(100);
  }
}

export async function unmountUnder(root: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const mounts = mountsUnder(root).sort((a, b) => b.length - a.length);
    if (!mounts.length) return;
    for (const m of mounts) {
      const r = await run('umount', [m], { allowFailure: true });
      if (r.code !== 0) await run('umount', ['-l', m], { allowFailure: true });
    }
  }
  const left = mountsUnder(root);
  if (left.length) throw new Error(`could not unmount: ${left.join(', ')}`);
}
