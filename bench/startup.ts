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
// restart on it. The build is brought up to date first. `--ways bundle,bundleAsService` picks ways.
//
// Then, unless --fleet-nodes 0, a fleet phase for each bundle way, on a state directory of its
// own: one server enrols --fleet-nodes (1,000) fake-hardware nodes and creates --fleet-stacks (100)
// stacks of 5 OS::Heat::TestResource each through the API; RSS 2 s after the last stack is
// complete, then a restart on that state: first answer, idle RSS, RSS after listing the nodes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { adminToken } from '../test/support/serve-process.js';
import { arg, option, pool } from './support/args.js';
import { freePort } from './support/http.js';

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
  // semi-spaces instead of 16, and two glibc malloc arenas instead of one per thread.
  { name: 'bundleAsService', argv: [BUNDLE], env: { NODE_OPTIONS: '--max-semi-space-size=2', MALLOC_ARENA_MAX: '2' } },
  // The glibc setting alone: V8's default young generation starts faster (fewer scavenges while
  // the server starts); this way shows what the 2 MiB semi-spaces cost and save.
  { name: 'bundleArenas', argv: [BUNDLE], env: { MALLOC_ARENA_MAX: '2' } },
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

interface Served {
  child: ChildProcess;
  url: string;
  firstAnswerMs: number;
  cpuMsAtFirstAnswer: number;
  servingLineMs: () => number;
}

/** Spawns `serve` on a free port and waits for the first 200 of GET /identity/v3. */
async function serve(way: Way, stateDir: string): Promise<Served> {
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
  let firstAnswerMs = NaN;
  let cpuMsAtFirstAnswer = NaN;
  try {
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
  } catch (e) {
    await stop(child);
    throw e;
  }
  return { child, url, firstAnswerMs: Math.round(firstAnswerMs), cpuMsAtFirstAnswer, servingLineMs: () => Math.round(servingLineMs) };
}

async function once_(way: Way, stateDir: string, fresh: boolean, warmupCount: number, loadSeconds: number): Promise<Run> {
  const v0 = performance.now();
  const version = spawnSync(process.execPath, [...way.argv, '--version'], { cwd: REPO, env: { ...process.env, ...way.env }, encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`${way.name}: --version failed:\n${version.stderr}`);
  const versionMs = Math.round(performance.now() - v0);
  const { child, url, firstAnswerMs, cpuMsAtFirstAnswer, servingLineMs } = await serve(way, stateDir);
  try {
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
      firstAnswerMs,
      cpuMsAtFirstAnswer,
      servingLineMs: servingLineMs(),
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

/** A small stack: five test resources that complete at once. */
const STACK_TEMPLATE = {
  heat_template_version: '2015-04-30',
  resources: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`r${i}`, { type: 'OS::Heat::TestResource', properties: { value: `v${i}` } }])),
};

async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-auth-token': token, 'x-openstack-ironic-api-version': 'latest', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** On a fresh state the admin is bootstrapped just after the server starts answering: retry. */
async function freshAdminToken(url: string, stateDir: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await adminToken(url, stateDir);
    } catch (err) {
      if (i >= 100) throw err;
      await sleep(100);
    }
  }
}

interface Fleet {
  nodes: number;
  stacks: number;
  /** Seconds to enrol the nodes, and to create the stacks until all are CREATE_COMPLETE. */
  enrolSeconds: number;
  stacksSeconds: number;
  /** The server that made them: RSS 2 s after the last stack completed (anonymous, file), 15 s after, and its peak. */
  idleRssMiB: number;
  idleRssAnonFileMiB: number[];
  idle15sRssMiB: number;
  peakRssMiB: number;
  /** A restart on that state: first answer, idle RSS 2 s later, RSS 2 s after listing the nodes. */
  restartFirstAnswerMs: number;
  restartCpuMsAtFirstAnswer: number;
  restartIdleRssMiB: number;
  restartAfterListRssMiB: number;
}

/** 1,000 nodes and 100 stacks through the API, then RSS with them, and after a restart on them. */
async function fleet(way: Way, stateDir: string, nodes: number, stacks: number): Promise<Fleet> {
  let { child, url } = await serve(way, stateDir);
  try {
    const token = await freshAdminToken(url, stateDir);
    const auth = (await (await fetch(`${url}/identity/v3/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } })).json()) as { token: { project: { id: string } } };
    const project = auth.token.project.id;
    let t = performance.now();
    await pool([...Array(nodes).keys()], 8, async (i) => {
      await api(url, token, 'POST', '/baremetal/v1/nodes', { name: `fleet-${i}`, driver: 'fake-hardware' });
    });
    const enrolSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await pool([...Array(stacks).keys()], 4, async (i) => {
      await api(url, token, 'POST', `/orchestration/v1/${project}/stacks`, { stack_name: `fleet-${i}`, template: STACK_TEMPLATE });
    });
    for (;;) {
      const list = (await api(url, token, 'GET', `/orchestration/v1/${project}/stacks`)) as { stacks: Array<{ stack_status: string }> };
      const failed = list.stacks.filter((x) => x.stack_status.endsWith('FAILED'));
      if (failed.length) throw new Error(`${failed.length} stacks failed: ${failed[0]!.stack_status}`);
      if (list.stacks.length === stacks && list.stacks.every((x) => x.stack_status === 'CREATE_COMPLETE')) break;
      await sleep(200);
    }
    const stacksSeconds = (performance.now() - t) / 1000;
    await sleep(2000);
    const idleRssMiB = procStatus(child.pid!, 'VmRSS');
    const peakRssMiB = procStatus(child.pid!, 'VmHWM');
    // Anonymous memory (heaps) against file pages (code, mapped files); and again once idle longer.
    const idleRssAnonFileMiB = [procStatus(child.pid!, 'RssAnon'), procStatus(child.pid!, 'RssFile')];
    await sleep(13_000);
    const idle15sRssMiB = procStatus(child.pid!, 'VmRSS');
    await stop(child);
    const again = await serve(way, stateDir);
    ({ child, url } = again);
    await sleep(2000);
    const restartIdleRssMiB = procStatus(child.pid!, 'VmRSS');
    const listed = (await api(url, await adminToken(url, stateDir), 'GET', '/baremetal/v1/nodes?limit=0')) as { nodes: unknown[] };
    if (listed.nodes.length !== Math.min(nodes, 1000)) throw new Error(`listed ${listed.nodes.length} nodes, enrolled ${nodes}`);
    await sleep(2000);
    return {
      nodes,
      stacks,
      enrolSeconds: +enrolSeconds.toFixed(1),
      stacksSeconds: +stacksSeconds.toFixed(1),
      idleRssMiB,
      idleRssAnonFileMiB,
      idle15sRssMiB,
      peakRssMiB,
      restartFirstAnswerMs: again.firstAnswerMs,
      restartCpuMsAtFirstAnswer: again.cpuMsAtFirstAnswer,
      restartIdleRssMiB,
      restartAfterListRssMiB: procStatus(child.pid!, 'VmRSS'),
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
  const fleetNodes = arg(args, 'fleet-nodes', 1000);
  const fleetStacks = arg(args, 'fleet-stacks', 100);
  const names = option(args, '--ways', WAYS.map((w) => w.name).join(',')).split(',');
  const ways = WAYS.filter((w) => names.includes(w.name));
  if (ways.length !== names.length) throw new Error(`--ways: choose among ${WAYS.map((w) => w.name).join(', ')}`);
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-server.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed:\n${build.stderr}`);
  const dirs = new Map(ways.map((w) => [w.name, mkdtempSync(join(tmpdir(), `bootstack-bench-startup-${w.name}-`))]));
  const results = new Map<string, Run[]>(ways.map((w) => [w.name, []]));
  const fleets: Record<string, Fleet> = {};
  const load = [loadavg()[0]!];
  try {
    for (let i = 0; i < runs; i++) {
      for (const way of ways) results.get(way.name)!.push(await once_(way, dirs.get(way.name)!, i === 0, warmupCount, loadSeconds));
      load.push(loadavg()[0]!);
    }
    for (const way of fleetNodes > 0 ? ways.filter((w) => w.name !== 'tsx') : []) {
      const dir = mkdtempSync(join(tmpdir(), `bootstack-bench-fleet-${way.name}-`));
      dirs.set(`fleet-${way.name}`, dir);
      fleets[way.name] = await fleet(way, dir, fleetNodes, fleetStacks);
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
    goals: { firstAnswerMs: 500, idleRssMiB: 100, fleetIdleRssMiB: 130 },
    build: JSON.parse(readFileSync(join(REPO, 'dist', 'server', 'build.json'), 'utf8')) as unknown,
    bundleBytes: readFileSync(join(REPO, 'dist', 'server', 'bootstack.cjs')).length,
    ...summary,
    fleet: fleets,
    note: 'spawn → first 200 from GET /identity/v3; tsx = bin/bootstack.js with BOOTSTACK_FROM_SOURCE=1, bundle = node dist/server/bootstack.mjs, bundleAsService = the same with NODE_OPTIONS=--max-semi-space-size=2 and MALLOC_ARENA_MAX=2 as bootstack.service sets them, bundleArenas = MALLOC_ARENA_MAX=2 only',
  };
}
