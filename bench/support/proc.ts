// Memory and CPU of a server process and its descendants, read from /proc (Linux only). An anchor
// may fork workers, so figures are summed over the process tree, sampled while the workload runs.
import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function stat(pid: number): { ppid: number; cpuMs: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS };
  } catch {
    return undefined; // exited between listing and reading
  }
}

/** The pid and every live descendant. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(name)]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** RSS of the tree in MiB. */
export const treeRssMiB = (root: number) => processTree(root).reduce((a, p) => a + rssKiB(p), 0) / 1024;
/** User + system CPU of the live tree in ms (children that already exited are not counted). */
export const treeCpuMs = (root: number) => processTree(root).reduce((a, p) => a + (stat(p)?.cpuMs ?? 0), 0);

/** Samples the tree's RSS every `everyMs` and keeps the peak; the sum of RSS over processes is what the machine pays. */
export class RssSampler {
  peakMiB = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly root: number, everyMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): number {
    const now = treeRssMiB(this.root);
    this.peakMiB = Math.max(this.peakMiB, now);
    return now;
  }
  /** Peak since the last reset, then starts a new window. */
  reset(): number {
    const p = Math.max(this.peakMiB, this.sample());
    this.peakMiB = 0;
    return p;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}
