// os-collect-config --one-time with the local and request collectors, against Debian's
// (/usr/bin/os-collect-config) talking to the same HTTP server on 127.0.0.1: the same cache files
// (names, bytes, modes) after each step of a sequence (first run, unchanged, changed, failing
// command), the same exit codes, the command run at the same times with the same
// OS_CONFIG_FILES, and the same --print output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { run } from '../../common/child-process.js';
import { snapshotTree, readable } from '../../../test/support/agents/oracle.js';
import { main } from './cli.js';

interface Doc {
  body: string;
}

async function serve(doc: Doc): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.method === 'HEAD' ? undefined : doc.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata` };
}

const METADATA = {
  'os-collect-config': { command: 'os-refresh-config' },
  nova: { host: '192.0.2.5', flag: true, ratio: 1.5, none: null, list: [1, 'two', { three: 3 }] },
  unicode: 'café ☃',
  deployments: [
    { name: 'dep-oac', group: 'os-apply-config', config: { a: 1 } },
    { name: 'dep-default', config: { b: [true] } },
    { name: 'dep-script', group: 'script', config: 'echo hi' },
    { group: 'os-apply-config', config: { nameless: true } },
  ],
};

function setup(root: string, side: string) {
  const d = join(root, side);
  const local = join(d, 'local-data');
  mkdirSync(local, { recursive: true });
  writeFileSync(join(local, 'b.json'), JSON.stringify({ b: 1 }));
  writeFileSync(join(local, 'a-first'), '{"local": {"x": "y"}, "n": 1e3}');
  writeFileSync(join(local, '.hidden'), '{"hidden": true}');
  mkdirSync(join(local, 'subdir'));
  writeFileSync(join(d, 'empty.conf'), '');
  return { d, local, cache: join(d, 'cache'), backup: join(d, 'backup'), runs: join(d, 'runs.log') };
}

function args(s: ReturnType<typeof setup>, url: string, command: string | undefined, extra: string[] = []): string[] {
  return [
    '--config-file',
    join(s.d, 'empty.conf'),
    '--cachedir',
    s.cache,
    '--backup-cachedir',
    s.backup,
    '--local-path',
    s.local,
    '--request-metadata-url',
    url,
    ...(command ? ['--command', command] : []),
    ...extra,
    'local',
    'request',
  ];
}

// oslo.config interpolates $names in option values; $$ is how a command says "$".
const recordCommand = (runs: string, code: number) => `echo "$$OS_CONFIG_FILES" >> ${runs}; exit ${code}`;

test('os-collect-config --one-time: same cache files as the original, step by step', async () => {
  const root = mkdtempSync(join(tmpdir(), 'occ-diff-'));
  const doc: Doc = { body: JSON.stringify(METADATA) };
  const { server, url } = await serve(doc);
  try {
    const py = setup(root, 'py');
    const ts = setup(root, 'ts');
    const norm = (s: string) => s.split(py.d).join('<d>').split(ts.d).join('<d>');
    const step = async (label: string, code: number, extra: string[] = []) => {
      const p = await run('/usr/bin/os-collect-config', args(py, url, recordCommand(py.runs, code), ['--one-time', ...extra]), {
        allowFailure: true,
        timeoutMs: 60_000,
      });
      const t = await main(args(ts, url, recordCommand(ts.runs, code), ['--one-time', ...extra]), {
        env: process.env,
        stdout: () => undefined,
        stderr: () => undefined,
      });
      assert.equal(t, p.code, `${label}: exit code (python: ${p.stderr.slice(-400)})`);
      for (const [a, b] of [
        [ts.cache, py.cache],
        [ts.backup, py.backup],
      ] as const) {
        const snap = (dir: string) => readable(snapshotTree(dir)).map((e) => ({ ...e, content: norm(e.content) }));
        assert.deepEqual(snap(a), snap(b), `${label}: ${a}`);
      }
      const runs = (f: string) => (existsSync(f) ? norm(readFileSync(f, 'utf8')) : '');
      assert.equal(runs(ts.runs), runs(py.runs), `${label}: command runs`);
    };
    await step('first run', 0);
    assert.ok(existsSync(join(ts.cache, 'dep-oac.json')) && existsSync(join(ts.cache, 'a-first.json')));
    await step('unchanged', 0);
    await step('forced', 0, ['--force']);
    doc.body = JSON.stringify({ ...METADATA, nova: { host: '192.0.2.6' } });
    await step('changed, command fails', 3);
    await step('changed, command succeeds', 0);
    writeFileSync(join(py.local, 'b.json'), '{"b": 2}');
    writeFileSync(join(ts.local, 'b.json'), '{"b": 2}');
    await step('local change', 0);
    assert.equal(readFileSync(ts.runs, 'utf8').trim().split('\n').length, 5);
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('os-collect-config without --command prints the same JSON as the original', async () => {
  const root = mkdtempSync(join(tmpdir(), 'occ-print-'));
  const { server, url } = await serve({ body: JSON.stringify(METADATA) });
  try {
    const py = setup(root, 'py');
    const ts = setup(root, 'ts');
    const p = await run('/usr/bin/os-collect-config', args(py, url, undefined), { allowFailure: true, timeoutMs: 60_000 });
    let out = '';
    const code = await main(args(ts, url, undefined), { env: process.env, stdout: (s) => (out += s), stderr: () => undefined });
    assert.equal(code, p.code);
    assert.equal(out, p.stdout);
    assert.ok(out.includes('"dep-default"'));
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('an unreachable metadata URL: the source is skipped, the cache keeps the last good data', async () => {
  const root = mkdtempSync(join(tmpdir(), 'occ-down-'));
  const { server, url } = await serve({ body: JSON.stringify(METADATA) });
  try {
    const ts = setup(root, 'ts');
    const quiet = { env: process.env, stdout: () => undefined, stderr: () => undefined };
    assert.equal(await main(args(ts, url, recordCommand(ts.runs, 0), ['--one-time']), quiet), 0);
    const before = readFileSync(join(ts.cache, 'request.json'), 'utf8');
    await new Promise<void>((r) => server.close(() => r()));
    let stderr = '';
    const code = await main(args(ts, url, recordCommand(ts.runs, 0), ['--one-time']), { ...quiet, stderr: (s) => (stderr += s) });
    assert.equal(code, 0);
    assert.match(stderr, /Source \[request\] Unavailable/);
    assert.equal(readFileSync(join(ts.cache, 'request.json'), 'utf8'), before);
    assert.equal(readFileSync(ts.runs, 'utf8').trim().split('\n').length, 1, 'nothing changed, nothing ran');
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
