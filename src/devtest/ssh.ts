// A command on a lab machine over SSH with devtest's key, as an operator would look at it: no
// host-key prompts (the lab's machines are re-made with new keys), no password fallback.
import type { RunResult } from '../common/child-process.js';
import type { Clients } from './clients.js';

export function sshArgs(key: string, host: string, command: readonly string[]): string[] {
  return [
    '-i', key,
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=10',
    '-o', 'BatchMode=yes',
    `root@${host}`,
    ...command,
  ];
}

/** Runs `command` (one shell line) on `host`; never throws on the command's failure (see `code`). */
export function ssh(clients: Clients, key: string, host: string, command: string, signal: AbortSignal, timeoutMs = 30_000): Promise<RunResult> {
  return clients.command('ssh', sshArgs(key, host, [command]), { allowFailure: true, signal, timeoutMs });
}

/** Memory of a process as /proc/<pid>/status gives it, MiB. */
export interface ProcessMemory {
  pid: number;
  rss_mib: number;
  /** The peak resident set (VmHWM). */
  peak_rss_mib: number;
}

/** Parses the VmRSS and VmHWM lines of /proc/<pid>/status. */
export function parseProcStatus(pid: number, text: string): ProcessMemory | undefined {
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = kib('VmRSS');
  const hwm = kib('VmHWM');
  if (rss === undefined || hwm === undefined) return undefined;
  return { pid, rss_mib: Math.round(rss / 102.4) / 10, peak_rss_mib: Math.round(hwm / 102.4) / 10 };
}

/** The undercloud's server process (the `bootstack` unit's main pid) and its memory, over SSH. */
export async function undercloudServer(clients: Clients, key: string, host: string, signal: AbortSignal): Promise<ProcessMemory | undefined> {
  const r = await ssh(clients, key, host, 'p=$(systemctl show -p MainPID --value bootstack) && echo "pid $p" && cat /proc/$p/status', signal);
  const pid = /^pid (\d+)$/m.exec(r.stdout);
  if (r.code !== 0 || !pid || pid[1] === '0') return undefined;
  return parseProcStatus(Number(pid[1]), r.stdout);
}
