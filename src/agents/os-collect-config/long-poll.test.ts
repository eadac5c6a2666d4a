// The request collector's long-poll against a real HTTP server on 127.0.0.1: with polling
// intervals of a minute, a change still reaches the command because the server releases the held
// request; against a server that does not long-poll, it falls back to polling; while the server
// is down it backs off (doubling sleeps) and converges once the server is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { main } from './cli.js';
import { LongPollDocument, serveLongPoll } from '../../../test/support/agents/long-poll-server.js';

interface Harness {
  server: Server;
  url: string;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function start(doc: LongPollDocument, longPoll: boolean, port = 0): Promise<Harness> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    serveLongPoll(doc, req, res, { longPoll });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    server,
    seen,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/md`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

function agent(dir: string, url: string, interval: { min: number; max: number }, wait = 20) {
  mkdirSync(dir, { recursive: true });
  const seenFile = join(dir, 'applied.log');
  writeFileSync(join(dir, 'empty.conf'), '');
  writeFileSync(join(dir, 'hook'), `#!/bin/sh\ncat "${join(dir, 'cache', 'request.json')}" | tr -d '\\n ' >> "${seenFile}"\necho >> "${seenFile}"\n`, { mode: 0o755 });
  const controller = new AbortController();
  let applied = 0;
  let stderr = '';
  const done = main(
    [
      '--config-file',
      join(dir, 'empty.conf'),
      '--cachedir',
      join(dir, 'cache'),
      '--backup-cachedir',
      join(dir, 'backup'),
      '--request-metadata-url',
      url,
      '--request-long-poll-wait',
      String(wait),
      '--min-polling-interval',
      String(interval.min),
      '--polling-interval',
      String(interval.max),
      '--command',
      join(dir, 'hook'),
      'request',
    ],
    { env: process.env, stdout: () => undefined, stderr: (s) => (stderr += s) },
    { signal: controller.signal, onApplied: () => applied++ },
  );
  return {
    applied: () => applied,
    stderr: () => stderr,
    lines: () => readFileSync(seenFile, 'utf8').trim().split('\n'),
    stop: () => controller.abort(),
    done,
  };
}

test('long-poll: a change reaches the command without waiting for the polling interval', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occ-lp-'));
  const doc = new LongPollDocument(JSON.stringify({ v: 1 }));
  const h = await start(doc, true);
  const a = agent(dir, h.url, { min: 60, max: 60 });
  try {
    await until(() => a.applied() === 1, 'first apply');
    // The agent is now parked in a held request.
    await until(() => h.seen.some((s) => s['if-none-match'] === doc.etag), 'a held request');
    doc.set(JSON.stringify({ v: 2 }));
    await until(() => a.applied() === 2, 'the change to be applied (polling alone would take 60 s)');
    doc.set(JSON.stringify({ v: 3 }));
    await until(() => a.applied() === 3, 'the second change');
    assert.deepEqual(a.lines(), ['{"v":1}', '{"v":2}', '{"v":3}']);
    assert.ok(h.seen.every((s) => s.prefer === 'wait=20'));
  } finally {
    a.stop();
    await h.close();
    await a.done;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server that does not long-poll: falls back to polling', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occ-poll-'));
  const doc = new LongPollDocument(JSON.stringify({ v: 1 }));
  const h = await start(doc, false);
  const a = agent(dir, h.url, { min: 0.05, max: 0.2 });
  try {
    await until(() => a.applied() === 1, 'first apply');
    doc.set(JSON.stringify({ v: 2 }));
    await until(() => a.applied() === 2, 'the change, by polling');
    assert.ok(h.seen.every((s) => s['if-none-match'] === undefined), 'never asked to be held');
    assert.match(a.stderr(), /Sleeping 0\.05 seconds/);
  } finally {
    a.stop();
    await h.close();
    await a.done;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('server down: backs off with doubling sleeps, keeps the last config, converges when back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occ-down-'));
  const doc = new LongPollDocument(JSON.stringify({ v: 1 }));
  let h = await start(doc, true);
  const port = (h.server.address() as AddressInfo).port;
  const a = agent(dir, h.url, { min: 0.05, max: 0.4 }, 2);
  try {
    await until(() => a.applied() === 1, 'first apply');
    await h.close();
    await until(() => /Sleeping 0\.40 seconds/.test(a.stderr()), 'backoff to the polling interval');
    assert.match(a.stderr(), /Source \[request\] Unavailable[\s\S]*Sleeping 0\.05[\s\S]*Sleeping 0\.10[\s\S]*Sleeping 0\.20/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'cache', 'request.json'), 'utf8')).v, 1, 'last good config kept');
    doc.set(JSON.stringify({ v: 2 }));
    h = await start(doc, true, port);
    await until(() => a.applied() === 2, 'convergence after the server is back');
    assert.deepEqual(a.lines(), ['{"v":1}', '{"v":2}']);
  } finally {
    a.stop();
    await h.close();
    await a.done;
    rmSync(dir, { recursive: true, force: true });
  }
});
