// Start-up of `bootstack serve` from the sources through tsx against the production build
// (scripts/build-server.mjs → dist/server/bootstack.mjs):
//   npm run bench -- startup [--runs 5] [--warmup 200] [--load-seconds 3]
// For each run and each way of starting it, `bootstack --version` (the cost of any CLI command),
// then one new `serve` process:
// - ms from spawn to the first answered HTTP request (GET /identity/v3 polled every 5 ms on a port
//   chosen beforehand, so no stdout parsing is in the figure), and the CPU time used by then;
// - idle RSS 2 s after that first answer, and 2 s after a warm-up of --warmup authenticated GETs
//   across the services;
// - the request rate of 16 concurrent clients listing nodes for --load-seconds (so a memory
//   setting that slows the server shows), with RSS and the peak (VmHWM) after it.
// The ways are taken in turn within each run, so a busy neighbour hits all alike. Each way has its
// own state directory: its first run starts empty (migrations, admin bootstrap), the others
// restart on it. The build is brought up to date first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { adminToken } from '../test/support/serve-process.js';
import { arg } from './support/args.js';

const REPO = resolve(import.meta.dirname, '..');
const BUNDLE = join(REPO, 'dist', 'server', 'bootstack.mjs');

interface Way {
  name: string;
  argv: string[];
  env: Record<string, string>;
}

const WAYS: Way[] = [
  { name: 'tsx', argv: [join(REPO, 'bin', 'bootstack.js')], env: { BOOTSTACK_FROM_SOURCE: '1' } },
  { name: 'bundle', argv: [BUNDLE], env: {} },
  // As bootstack.service runs it (elements/bootstack-server): V8's young generation at 2 MiB
  // semi-spaces instead of 16.
  { name: 'bundleAsService', argv: [BUNDLE], env: { NODE_OPTIONS: '--max-semi-space-size=2' } },
];

interface Run {
  fresh: boolean;
  /** ms of `bootstack --version`, spawn to exit. */
  versionMs: number;
  firstAnswerMs: number;
  /** CPU time (user + system, all threads) the server had used at its first answer: less swayed by neighbours than wall time. */
  cpuMsAtFirstAnswer: number;
  servingLineMs: number;
  idleRssMiB: number;
  afterWarmupRssMiB: number;
  peakRssMiB: number;
  warmupStatuses: Record<string, number>;
  requestsPerSecond: number;
  afterLoadRssMiB: number;
}

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** utime + stime of a process in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Authenticated GETs spread over the services, as a client's first minutes would be. */
async function warmup(url: string, token: string, count: number): Promise<Record<string, number>> {
  const paths = ['/identity/v3/auth/tokens', '/identity/v3/projects', '/baremetal/v1/nodes', '/image/v2/images', '/networking/v2.0/networks', '/compute/v2.1/flavors'];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const path = paths[i % paths.length]!;
    const res = await fetch(`${url}${path}`, { headers: { 'x-auth-token': token, 'x-subject-token': token, 'x-openstack-ironic-api-version': 'latest' } });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }
  return statuses;
}

/** Requests per second of 16 concurrent clients listing bare-metal nodes. */
async function load(url: string, token: string, seconds: number): Promise<number> {
  const pool = new Pool(url, { connections: 16 });
  let n = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        const res = await pool.request({ path: '/baremetal/v1/nodes', method: 'GET', headers: { 'x-auth-token': token } });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) throw new Error(`GET /baremetal/v1/nodes: ${res.statusCode}`);
        n++;
      }
    }),
  );
  await pool.close();
  return Math.round(n / ((performance.now() - started) / 1000));
}

async function once_(way: Way, stateDir: string, fresh: boolean, warmupCount: number, loadSeconds: number): Promise<Run> {
  const v0 = performance.now();
  const version = spawnSync(process.execPath, [...way.argv, '--version'], { cwd: REPO, env: { ...process.env, ...way.env }, encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`${way.name}: --version failed:\n${version.stderr}`);
  const versionMs = Math.round(performance.now() - v0);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, [...way.argv, 'serve', '--state-dir', stateDir, '--port', String(port)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...way.env },
  });
  let servingLineMs = NaN;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (Number.isNaN(servingLineMs) && out.includes('serving on')) servingLineMs = performance.now() - started;
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d).slice(-4000)));
  try {
    let firstAnswerMs = NaN;
    let cpuMsAtFirstAnswer = NaN;
    while (Number.isNaN(firstAnswerMs)) {
      if (child.exitCode !== null) throw new Error(`${way.name}: serve exited (${child.exitCode}):\n${err}`);
      try {
        const res = await fetch(`${url}/identity/v3`);
        await res.arrayBuffer();
        if (res.status === 200) {
          firstAnswerMs = performance.now() - started;
          cpuMsAtFirstAnswer = cpuMs(child.pid!);
        }
      } catch {
        await sleep(5);
      }
    }
    await sleep(2000);
    const idleRssMiB = procStatus(child.pid!, 'VmRSS');
    const token = await adminToken(url, stateDir);
    const warmupStatuses = await warmup(url, token, warmupCount);
    await sleep(2000);
    const afterWarmupRssMiB = procStatus(child.pid!, 'VmRSS');
    const requestsPerSecond = await load(url, token, loadSeconds);
    return {
      fresh,
      versionMs,
      firstAnswerMs: Math.round(firstAnswerMs),
      cpuMsAtFirstAnswer,
      servingLineMs: Math.round(servingLineMs),
      idleRssMiB,
      afterWarmupRssMiB,
      warmupStatuses,
      requestsPerSecond,
      afterLoadRssMiB: procStatus(child.pid!, 'VmRSS'),
      peakRssMiB: procStatus(child.pid!, 'VmHWM'),
    };
  } finally {
    await stop(child);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export default async function startup(args: string[]) {
  const runs = arg(args, 'runs', 5);
  const warmupCount = arg(args, 'warmup', 200);
  const loadSeconds = arg(args, 'load-seconds', 3);
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-server.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed:\n${build.stderr}`);
  const dirs = new Map(WAYS.map((w) => [w.name, mkdtempSync(join(tmpdir(), `bootstack-bench-startup-${w.name}-`))]));
  const results = new Map<string, Run[]>(WAYS.map((w) => [w.name, []]));
  const load = [loadavg()[0]!];
  try {
    for (let i = 0; i < runs; i++) {
      for (const way of WAYS) results.get(way.name)!.push(await once_(way, dirs.get(way.name)!, i === 0, warmupCount, loadSeconds));
      load.push(loadavg()[0]!);
    }
  } finally {
    for (const d of dirs.values()) rmSync(d, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    [...results].map(([name, rs]) => {
      const restarts = rs.filter((r) => !r.fresh);
      return [
        name,
        {
          versionMsMedian: median(rs.map((r) => r.versionMs)),
          freshFirstAnswerMs: rs[0]?.firstAnswerMs,
          restartFirstAnswerMsMedian: median(restarts.map((r) => r.firstAnswerMs)),
          restartFirstAnswerMsMin: Math.min(...restarts.map((r) => r.firstAnswerMs)),
          restartCpuMsAtFirstAnswerMedian: median(restarts.map((r) => r.cpuMsAtFirstAnswer)),
          idleRssMiBMedian: median(rs.map((r) => r.idleRssMiB)),
          afterWarmupRssMiBMedian: median(rs.map((r) => r.afterWarmupRssMiB)),
          peakRssMiBMedian: median(rs.map((r) => r.peakRssMiB)),
          requestsPerSecondMedian: median(rs.map((r) => r.requestsPerSecond)),
          afterLoadRssMiBMedian: median(rs.map((r) => r.afterLoadRssMiB)),
          runs: rs,
        },
      ];
    }),
  );
  return {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAverage1m: load.map((l) => Math.round(l * 100) / 100) },
    goals: { firstAnswerMs: 500, idleRssMiB: 100 },
    build: JSON.parse(readFileSync(join(REPO, 'dist', 'server', 'build.json'), 'utf8')) as unknown,
    bundleBytes: readFileSync(BUNDLE).length,
    ...summary,
    note: 'spawn → first 200 from GET /identity/v3; tsx = bin/bootstack.js with BOOTSTACK_FROM_SOURCE=1, bundle = node dist/server/bootstack.mjs, bundleAsService = the same with NODE_OPTIONS=--max-semi-space-size=2 as bootstack.service sets it',
  };
}
