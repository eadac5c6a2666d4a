// Configuration latency: from a metadata change on the server to os-refresh-config having
// finished on the machine (its configure.d script has run with the new metadata).
//   npm run bench -- config-latency [ours=40] [pythonDefault=4] [pythonFast=10]
// Bootstack: the bundled os-collect-config long-polling the reference long-poll server, running
// the bundled os-refresh-config. Python: Debian's os-collect-config polling the same server and
// running Debian's os-refresh-config, with its defaults (min 1 s doubling to 30 s) and with
// --polling-interval 1. Changes are made at random moments so they fall anywhere in a poll cycle.
import { createServer } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { run } from '../src/common/child-process.js';
import { LongPollDocument, serveLongPoll } from '../test/support/agents/long-poll-server.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;

async function waitForVersion(mark: string, v: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(mark, 'utf8')) as { v?: number }).v === v) return;
    } catch {
      // Not there yet.
    }
    if (Date.now() > deadline) throw new Error(`version ${v} not applied within ${timeoutMs} ms`);
    await sleep(2);
  }
}

interface Mode {
  name: string;
  samples: number;
  /** Spread of the random pause before each change (ms). */
  jitterMs: number;
  warmupMs: number;
  start(dir: string, url: string, env: NodeJS.ProcessEnv): ChildProcess;
}

async function measure(mode: Mode, doc: LongPollDocument, url: string, root: string, counter: { v: number }) {
  const dir = join(root, mode.name);
  const base = join(dir, 'refresh');
  mkdirSync(join(base, 'configure.d'), { recursive: true });
  const mark = join(dir, 'applied.json');
  writeFileSync(
    join(base, 'configure.d', '10-mark'),
    `#!/bin/sh\ncp "${join(dir, 'cache', 'request.json')}" "${mark}.tmp" && mv "${mark}.tmp" "${mark}"\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(dir, 'empty.conf'), '');
  const env = { ...process.env, OS_REFRESH_CONFIG_BASE_DIR: base };
  doc.set(JSON.stringify({ v: ++counter.v }));
  const child = mode.start(dir, url, env);
  const latencies: number[] = [];
  try {
    await waitForVersion(mark, counter.v, 120_000);
    await sleep(mode.warmupMs);
    for (let i = 0; i < mode.samples; i++) {
      await sleep(Math.random() * mode.jitterMs);
      const v = ++counter.v;
      const t0 = performance.now();
      doc.set(JSON.stringify({ v }));
      await waitForVersion(mark, v, 120_000);
      latencies.push(performance.now() - t0);
    }
  } finally {
    child.kill('SIGTERM');
  }
  return {
    samples: latencies.length,
    p50_ms: Math.round(pct(latencies, 50)),
    p99_ms: Math.round(pct(latencies, 99)),
    max_ms: Math.round(Math.max(...latencies)),
  };
}

export default async function bench(args: string[]) {
  const [ours = 40, pyDefault = 4, pyFast = 10] = args.map(Number);
  const root = mkdtempSync(join(tmpdir(), 'bench-latency-'));
  const doc = new LongPollDocument('{}');
  const server = createServer((req, res) => serveLongPoll(doc, req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
  const bin = join(root, 'bin');
  await run(process.execPath, [join(repo, 'scripts/bundle-agents.mjs'), '--outdir', bin]);
  const common = (dir: string) => ['--config-file', join(dir, 'empty.conf'), '--cachedir', join(dir, 'cache'), '--backup-cachedir', join(dir, 'backup')];
  const counter = { v: 0 };
  const quiet = { stdio: 'ignore' as const };
  try {
    const results: Record<string, unknown> = {};
    results.bootstack_long_poll = await measure(
      {
        name: 'bootstack',
        samples: ours,
        jitterMs: 300,
        warmupMs: 500,
        start: (dir, u, env) =>
          spawn(join(bin, 'os-collect-config'), [...common(dir), '--request-metadata-url', u, '--command', `${join(bin, 'os-refresh-config')} --lockfile ${join(dir, 'lock')}`, 'request'], { env, ...quiet }),
      },
      doc,
      url,
      root,
      counter,
    );
    const python = (name: string, samples: number, interval: number | undefined) => ({
      name,
      samples,
      jitterMs: (interval ?? 30) * 1000,
      // Let the doubling sleeps reach their steady state first.
      warmupMs: interval === undefined ? 32_000 : 2_000,
      start: (dir: string, u: string, env: NodeJS.ProcessEnv) =>
        spawn(
          '/usr/bin/os-collect-config',
          [...common(dir), '--request-metadata-url', u, ...(interval ? ['--polling-interval', String(interval)] : []), '--command', `/usr/bin/os-refresh-config --lockfile ${join(dir, 'lock')}`, 'request'],
          { env, ...quiet },
        ),
    });
    if (pyFast > 0) results.python_polling_1s = await measure(python('python-1s', pyFast, 1), doc, url, root, counter);
    if (pyDefault > 0) results.python_polling_default_30s = await measure(python('python-30s', pyDefault, undefined), doc, url, root, counter);
    return { ...results, loadavg: loadavg(), node: process.version };
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
