// The deployment hook against a real HTTP endpoint on 127.0.0.1: a script deployment signals
// success with its outputs, a failing one signals its status code, stderr and outputs; a rerun
// with unchanged metadata runs and signals nothing; changing one deployment's inputs reruns only
// that one; a signal endpoint that is down leaves the deployment pending for the next run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { main } from './cli.js';

interface Signal {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

function deployment(id: string, script: string, inputs: Record<string, unknown>, signalUrl: string, transport = 'TEMP_URL_SIGNAL') {
  return {
    id,
    name: `dep-${id}`,
    group: 'script',
    config: script,
    inputs: [
      ...Object.entries(inputs).map(([name, value]) => ({ name, value, type: 'String' })),
      { name: 'deploy_server_id', value: 'server-1' },
      { name: 'deploy_action', value: 'CREATE' },
      { name: 'deploy_signal_transport', value: transport },
      { name: 'deploy_signal_id', value: signalUrl },
    ],
    outputs: [{ name: 'result' }, { name: 'never_written' }],
    options: {},
  };
}

test('script deployments signal success and failure with outputs; reruns only on change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heat-config-'));
  const signals: Signal[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      signals.push({ method: req.method ?? '', path: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ok = '#!/bin/sh\necho "hello $greeting"\necho -n "computed-$greeting" > "$heat_outputs_path.result"\n';
  const bad = '#!/bin/sh\necho partial > "$heat_outputs_path.result"\necho "it broke" >&2\nexit 3\n';
  const meta = join(dir, 'meta.json');
  const write = (greeting: string) =>
    writeFileSync(
      meta,
      JSON.stringify({
        other: 'ignored',
        deployments: [
          deployment('aaa', ok, { greeting }, `${base}/signal/aaa?temp_url_sig=x`),
          deployment('bbb', bad, {}, `${base}/signal/bbb`, 'CFN_SIGNAL'),
          { id: 'ccc', name: 'oac', group: 'os-apply-config', config: { x: 1 }, inputs: [{ name: 'deploy_signal_transport', value: 'NO_SIGNAL' }] },
        ],
      }),
    );
  const args = ['--work-dir', join(dir, 'work'), '--signal-backoff', '0.05'];
  const quiet = { env: { ...process.env, OS_CONFIG_FILES: meta }, stdout: () => undefined, stderr: () => undefined };
  try {
    write('world');
    assert.equal(await main(args, quiet), 0);
    assert.equal(signals.length, 2);
    const [a, b] = signals as [Signal, Signal];
    assert.equal(a.method, 'PUT');
    assert.equal(a.path, '/signal/aaa?temp_url_sig=x');
    assert.deepEqual(a.body, { result: 'computed-world', deploy_stdout: 'hello world\n', deploy_stderr: '', deploy_status_code: 0 });
    assert.equal(b.method, 'POST');
    assert.deepEqual(b.body, { result: 'partial\n', deploy_stdout: '', deploy_stderr: 'it broke\n', deploy_status_code: 3 });

    // Unchanged metadata: nothing runs, nothing is signalled.
    assert.equal(await main(args, quiet), 0);
    assert.equal(signals.length, 2);

    // One input changed: only that deployment runs again.
    write('again');
    assert.equal(await main(args, quiet), 0);
    assert.equal(signals.length, 3);
    assert.equal(signals[2]?.path, '/signal/aaa?temp_url_sig=x');
    assert.equal(signals[2]?.body.result, 'computed-again');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a signal that cannot be delivered is retried and the deployment stays pending', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heat-config-down-'));
  let attempts = 0;
  let up = false;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      attempts++;
      res.statusCode = up ? 200 : 503;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/s`;
  mkdirSync(join(dir, 'work'), { recursive: true });
  const list = join(dir, 'deployments.json');
  writeFileSync(list, JSON.stringify([deployment('ddd', '#!/bin/sh\necho ran >> "$marker"\n', { marker: join(dir, 'ran') }, url)]));
  const args = ['--deployments-file', list, '--work-dir', join(dir, 'work'), '--signal-attempts', '3', '--signal-backoff', '0.02'];
  let stderr = '';
  const io = { env: process.env, stdout: () => undefined, stderr: (s: string) => (stderr += s) };
  try {
    assert.equal(await main(args, io), 1);
    assert.equal(attempts, 3);
    assert.match(stderr, /Could not signal dep-ddd: .*503/);
    up = true;
    assert.equal(await main(args, io), 0);
    assert.equal(readFileSync(join(dir, 'ran'), 'utf8'), 'ran\nran\n', 'pending deployment ran again');
    assert.equal(await main(args, io), 0);
    assert.equal(readFileSync(join(dir, 'ran'), 'utf8'), 'ran\nran\n');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('other groups run <hooks-dir>/<group> with the heat-config hook protocol (how ansible/puppet plug in)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heat-config-hook-'));
  const signals: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      signals.push(JSON.parse(body) as Record<string, unknown>);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/s`;
  try {
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    // A stand-in ansible hook: reads the deployment JSON, answers the response JSON.
    writeFileSync(
      join(hooks, 'ansible'),
      `#!/usr/bin/python3\nimport json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({"deploy_stdout": "played " + d["config"], "deploy_stderr": "", "deploy_status_code": 0, "result": d["id"]}))\n`,
      { mode: 0o755 },
    );
    const list = join(dir, 'd.json');
    const dep = { ...deployment('eee', 'site.yml', {}, url), group: 'ansible' };
    const nohook = { ...deployment('fff', 'x', {}, url), group: 'puppet' };
    writeFileSync(list, JSON.stringify([dep, nohook]));
    let stderr = '';
    const code = await main(['--deployments-file', list, '--work-dir', join(dir, 'work'), '--hooks-dir', hooks], {
      env: process.env,
      stdout: () => undefined,
      stderr: (s) => (stderr += s),
    });
    assert.equal(code, 0);
    assert.deepEqual(signals, [{ deploy_stdout: 'played site.yml', deploy_stderr: '', deploy_status_code: 0, result: 'eee' }]);
    assert.match(stderr, /Skipping group puppet of deployment dep-fff: no hook/);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed signal to a pre-signed URL does not log its signature', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heat-config-secret-'));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 403;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // A closed port, for the connection-error path.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  mkdirSync(join(dir, 'work'), { recursive: true });
  const list = join(dir, 'deployments.json');
  writeFileSync(
    list,
    JSON.stringify([
      deployment('sss', '#!/bin/sh\ntrue\n', {}, `http://127.0.0.1:${port}/v1/AUTH_x/c/o?temp_url_sig=SECRET&temp_url_expires=1`),
      deployment('ttt', '#!/bin/sh\ntrue\n', {}, `http://127.0.0.1:${closedPort}/v1/signal?Signature=SECRET`, 'CFN_SIGNAL'),
    ]),
  );
  const args = ['--deployments-file', list, '--work-dir', join(dir, 'work'), '--signal-attempts', '1', '--signal-backoff', '0.01'];
  let stderr = '';
  const io = { env: process.env, stdout: () => undefined, stderr: (s: string) => (stderr += s) };
  try {
    assert.equal(await main(args, io), 1);
    assert.match(stderr, new RegExp(`Could not signal dep-sss: PUT http://127\\.0\\.0\\.1:${port}/v1/AUTH_x/c/o answered 403`));
    assert.match(stderr, new RegExp(`Could not signal dep-ttt: POST http://127\\.0\\.0\\.1:${closedPort}/v1/signal: `));
    assert.doesNotMatch(stderr, /SECRET/);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
