// The overcloud demo's programs (templates/overcloud-demo/db.mjs and web.mjs) on this host's
// loopback: a value written through one web service is read through the other, the store keeps
// its data in its file across a restart, and the web service says which database it could not reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEMO_PROGRAMS_DIR, startDemoProgram, startDemoServices } from '../../test/support/devtest/test-support.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'overcloud-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('PUT through one web service, GET through the other; each answers / with its own name', async (t) => {
  const dir = tempDir(t);
  const s = await startDemoServices(join(dir, 'kv.json'));
  t.after(() => s.stop());
  const [w0, w1] = s.webs;
  assert.equal(await (await fetch(`${w0!.url}/`)).text(), 'web-0\n');
  assert.equal(await (await fetch(`${w1!.url}/`)).text(), 'web-1\n');

  const put = await fetch(`${w0!.url}/kv/greeting`, { method: 'PUT', body: 'hello, world' });
  assert.equal(put.status, 204);
  assert.equal(put.headers.get('x-served-by'), 'web-0');
  const got = await fetch(`${w1!.url}/kv/greeting`);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('x-served-by'), 'web-1');
  assert.equal(await got.text(), 'hello, world');

  // The database's own answers come back through the web service.
  assert.equal((await fetch(`${w1!.url}/kv/missing`)).status, 404);
  assert.equal((await fetch(`${w0!.url}/kv/${encodeURIComponent('a b')}`)).status, 400);
  assert.equal((await fetch(`${w0!.url}/kv/big`, { method: 'PUT', body: 'x'.repeat(64 * 1024 + 1) })).status, 413);
  assert.equal((await fetch(`${w0!.url}/kv/greeting`, { method: 'POST', body: 'x' })).status, 405);
  const del = await fetch(`${w1!.url}/kv/greeting`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal((await fetch(`${w0!.url}/kv/greeting`)).status, 404);
  assert.equal(await (await fetch(`${w0!.url}/health`)).text(), 'ok\n');
});

test('the store keeps what it answered in its file, across a restart', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state', 'kv.json');
  const db = await startDemoProgram('db.mjs', { DB_FILE: file });
  t.after(() => db.stop());
  assert.equal((await fetch(`${db.url}/kv/k1`, { method: 'PUT', body: 'v1' })).status, 204);
  assert.equal((await fetch(`${db.url}/kv/k2`, { method: 'PUT', body: 'välue 2' })).status, 204);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { k1: 'v1', k2: 'välue 2' });
  const info = (await (await fetch(`${db.url}/`)).json()) as { service: string; keys: number };
  assert.equal(info.service, 'overcloud-demo-db');
  assert.equal(info.keys, 2);
  await db.stop();

  const again = await startDemoProgram('db.mjs', { DB_FILE: file });
  t.after(() => again.stop());
  assert.equal(await (await fetch(`${again.url}/kv/k2`)).text(), 'välue 2');
});

test('a store whose file is not JSON refuses to start rather than overwrite it', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'kv.json');
  writeFileSync(file, '{"half": ');
  await assert.rejects(startDemoProgram('db.mjs', { DB_FILE: file }), /cannot read .*kv\.json/);
  assert.equal(readFileSync(file, 'utf8'), '{"half": ');
});

test('the web service names the database it cannot reach (502), and refuses to start without one', async (t) => {
  const dir = tempDir(t);
  const db = await startDemoProgram('db.mjs', { DB_FILE: join(dir, 'kv.json') });
  const dbUrl = db.url;
  await db.stop();
  const web = await startDemoProgram('web.mjs', { DB_URL: dbUrl, OVERCLOUD_DEMO_NAME: 'lonely' });
  t.after(() => web.stop());
  const r = await fetch(`${web.url}/kv/anything`);
  assert.equal(r.status, 502);
  assert.match(await r.text(), new RegExp(`the database at ${dbUrl.replace(/[.]/g, '\\.')} could not be reached`));
  assert.equal(await (await fetch(`${web.url}/`)).text(), 'lonely\n', 'GET / does not need the database');

  const none = spawnSync(process.execPath, [join(DEMO_PROGRAMS_DIR, 'web.mjs')], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 10_000 });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /DB_URL must be the database's http:\/\/ URL/);
});
