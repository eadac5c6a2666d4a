// `bootstack serve` as a separate process (for kill -9/restart tests, and for benchmarks so the
// load generator does not share its event loop), with its memory read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SeedProcess {
  child: ChildProcess;
  url: string;
  /** ms from spawn to the "serving on" line. */
  listeningMs: number;
  startedAt: number;
  /** Resident set size now, and its peak since start (VmHWM), in MiB. */
  rssMiB(): number;
  peakRssMiB(): number;
  stop(): Promise<void>;
}

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** `args` go after `serve` (e.g. -c FILE); a receiver of a pivot counts as started when it says it is receiving. */
export async function spawnSeed(stateDir: string, env: Record<string, string> = {}, args: string[] = []): Promise<SeedProcess> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [join(repo, 'bin/bootstack.js'), 'serve', ...args, '--state-dir', stateDir, ...(args.includes('--port') ? [] : ['--port', '0'])], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Default configuration, access log included (info level), as an operator runs it.
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /(?:serving|receiving a pivot) on (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`bootstack serve exited (${code}):\n${err}`)));
  });
  const listeningMs = performance.now() - startedAt;
  return {
    child,
    url,
    listeningMs,
    startedAt,
    rssMiB: () => procStatus(child.pid!, 'VmRSS'),
    peakRssMiB: () => procStatus(child.pid!, 'VmHWM'),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export async function adminToken(url: string, stateDir: string): Promise<string> {
  const password = readFileSync(join(stateDir, 'admin-password'), 'utf8').trim();
  const res = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token')!;
}
