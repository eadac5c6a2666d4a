// The smoke test against the overcloud demo's real programs on loopback (test/support/devtest/test-support.ts):
// the good path, and each failure naming the URL that failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { smokeTest, SmokeError } from './smoke.js';
import { startDemoServices } from '../../test/support/devtest/test-support.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'devtest-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quick = { attempts: 3, delayMs: 20, requestTimeoutMs: 2000 };

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = server.address() as { port: number };
  return `http://127.0.0.1:${a.port}/`;
}

test('distinct hostnames, a value written through web 1 and read through web 2', async (t) => {
  const s = await startDemoServices(join(tempDir(t), 'kv.json'));
  t.after(() => s.stop());
  const lines: string[] = [];
  const r = await smokeTest(s.webUrls, { ...quick, log: (l) => lines.push(l) });
  assert.deepEqual(r.webs, [
    { url: s.webUrls[0], hostname: 'web-0' },
    { url: s.webUrls[1], hostname: 'web-1' },
  ]);
  assert.equal(r.wroteThrough, s.webUrls[0]);
  assert.equal(r.readThrough, s.webUrls[1]);
  assert.match(r.key, /^smoke-[0-9a-f]{12}$/);
  // The value is in the database itself.
  assert.equal(await (await fetch(`${s.db.url}/kv/${r.key}`)).text(), r.value);
  assert.ok(lines.some((l) => l.includes('is web-1')), lines.join('\n'));
  // Random each time.
  const again = await smokeTest(s.webUrls, quick);
  assert.notEqual(again.key, r.key);
  assert.notEqual(again.value, r.value);
});

test('one URL twice: both answer the same hostname, and the error names the URL', async (t) => {
  const s = await startDemoServices(join(tempDir(t), 'kv.json'), 1);
  t.after(() => s.stop());
  const url = s.webUrls[0]!;
  await assert.rejects(smokeTest([url, url], quick), (err: unknown) => {
    assert.ok(err instanceof SmokeError);
    assert.match(err.message, /both answered hostname "web-0"/);
    assert.equal(err.fields.url, url);
    return true;
  });
  // One URL alone is tested against itself.
  const r = await smokeTest([url], quick);
  assert.equal(r.readThrough, url);
});

test('a web URL that does not answer fails after the bounded tries, naming it', async () => {
  const server = createServer();
  const url = await listen(server);
  server.close();
  await once(server, 'close');
  const lines: string[] = [];
  const started = Date.now();
  await assert.rejects(smokeTest([url], { ...quick, log: (l) => lines.push(l) }), (err: unknown) => {
    assert.ok(err instanceof SmokeError);
    assert.ok(err.message.startsWith(`GET / failed at ${url} after 3 tries: `), err.message);
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
  assert.equal(lines.filter((l) => l.includes('failed')).length, 2, 'two retries announced, then the error');
  assert.ok(Date.now() - started < 5000);
});

test('the database down: the write fails with the web URL and its 502', async (t) => {
  const s = await startDemoServices(join(tempDir(t), 'kv.json'));
  t.after(() => s.stop());
  await s.db.stop();
  await assert.rejects(smokeTest(s.webUrls, quick), (err: unknown) => {
    assert.ok(err instanceof SmokeError);
    assert.match(err.message, new RegExp(`^PUT /kv/smoke-[0-9a-f]+ failed at ${s.webUrls[0]!.replace(/[.]/g, '\\.')} after 3 tries: HTTP 502: the database at`));
    return true;
  });
});

test('a service still starting is retried until it answers', async (t) => {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    if (calls < 3) {
      res.writeHead(503).end('starting');
      return;
    }
    if (req.method === 'GET' && req.url === '/') res.end('late\n');
    else if (req.method === 'PUT') res.writeHead(204).end();
    else res.end('fixed');
  });
  const url = await listen(server);
  t.after(() => server.close());
  const r = await smokeTest([url], { ...quick, attempts: 5, key: 'k', value: 'fixed' });
  assert.equal(r.webs[0]!.hostname, 'late');
  assert.equal(calls, 5, 'two refusals, then GET /, PUT and GET');
});

test('a wrong value read back is a failure naming the reading URL', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/') res.end(`${req.socket.localPort}\n`);
    else if (req.method === 'PUT') res.writeHead(204).end();
    else res.end('stale');
  });
  const a = await listen(server);
  const other = createServer((req, res) => server.emit('request', req, res));
  const b = await listen(other);
  t.after(() => {
    server.close();
    other.close();
  });
  await assert.rejects(smokeTest([a, b], { ...quick, key: 'k', value: 'fresh' }), (err: unknown) => {
    assert.ok(err instanceof SmokeError);
    assert.equal(err.fields.url, b);
    assert.match(err.message, /read "stale", wrote "fresh"/);
    return true;
  });
  await assert.rejects(smokeTest([], quick), /no web URLs/);
  await assert.rejects(smokeTest(['ftp://x/'], quick), /not an http\(s\) URL/);
});
