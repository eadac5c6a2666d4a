// kill -9 the server during a stack create and during an update; after a restart the engine
// resumes from what it persisted: the stack finishes, and nothing is left IN_PROGRESS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_') && !k.startsWith('BOOTSTACK_')) env[k] = v;
  return { ...env, ...extra };
}

async function spawnServer(stateDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/bootstack.js', 'serve', '--state-dir', stateDir, '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({ BOOTSTACK_LOG_LEVEL: 'warn' }),
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /serving on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${err}`)));
  });
  return { child, url };
}

async function token(url: string, stateDir: string): Promise<string> {
  const password = readFileSync(join(stateDir, 'admin-password'), 'utf8').trim();
  const res = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } }),
  });
  assert.equal(res.status, 201);
  return res.headers.get('x-subject-token')!;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(url: string, tok: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/orchestration${path}`, {
    method,
    headers: { 'x-auth-token': tok, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    redirect: 'follow',
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const TEMPLATE = {
  heat_template_version: '2015-04-30',
  parameters: { count: { type: 'number', default: 4 }, secs: { type: 'number', default: 2 }, value: { type: 'string', default: 'v1' } },
  resources: {
    first: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'value' }, action_wait_secs: { create: { get_param: 'secs' }, update: { get_param: 'secs' } } } },
    group: {
      type: 'OS::Heat::ResourceGroup',
      depends_on: ['first'],
      properties: {
        count: { get_param: 'count' },
        resource_def: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'value' }, action_wait_secs: { create: { get_param: 'secs' }, update: { get_param: 'secs' } } } },
      },
    },
  },
  outputs: { values: { value: { get_attr: ['group', 'output'] } } },
};

async function waitFor(url: string, tok: string, name: string, done: (status: string) => boolean, ms = 60_000): Promise<{ stack_status: string; stack_status_reason: string; outputs: { output_key: string; output_value: unknown }[] }> {
  const end = Date.now() + ms;
  for (;;) {
    const s = (await call(url, tok, 'GET', `/stacks/${name}`)).body.stack;
    if (done(s.stack_status) || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function nothingInProgress(url: string, tok: string, name: string): Promise<void> {
  const res = (await call(url, tok, 'GET', `/stacks/${name}/resources?nested_depth=3`)).body.resources as { resource_name: string; resource_status: string }[];
  assert.ok(res.length >= 5, JSON.stringify(res));
  const busy = res.filter((r) => r.resource_status.endsWith('IN_PROGRESS'));
  assert.deepEqual(busy, [], 'no resource is left IN_PROGRESS');
  const stacks = (await call(url, tok, 'GET', `/stacks?show_nested=true`)).body.stacks as { stack_status: string }[];
  assert.ok(stacks.every((s) => !s.stack_status.endsWith('IN_PROGRESS')), JSON.stringify(stacks.map((s) => s.stack_status)));
}

test('kill -9 during create and during update; after restart the stack finishes and nothing stays IN_PROGRESS', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'orch-kill9-'));
  let server = await spawnServer(stateDir);
  try {
    let tok = await token(server.url, stateDir);
    const created = await call(server.url, tok, 'POST', '/stacks', { stack_name: 'survivor', template: TEMPLATE, parameters: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Kill while the group's members are being created (first takes 2 s, members 2 s more).
    const mid = await waitFor(server.url, tok, 'survivor', () => false, 2_800);
    assert.equal(mid.stack_status, 'CREATE_IN_PROGRESS');
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');

    server = await spawnServer(stateDir);
    tok = await token(server.url, stateDir);
    const done = await waitFor(server.url, tok, 'survivor', (s) => !s.endsWith('IN_PROGRESS'));
    assert.equal(done.stack_status, 'CREATE_COMPLETE', done.stack_status_reason);
    assert.deepEqual(done.outputs.find((o) => o.output_key === 'values')?.output_value, ['v1', 'v1', 'v1', 'v1']);
    await nothingInProgress(server.url, tok, 'survivor');
    const events = (await call(server.url, tok, 'GET', '/stacks/survivor/events')).body.events as { resource_status_reason: string }[];
    assert.ok(events.some((e) => /Resuming CREATE after a server restart/.test(e.resource_status_reason)));

    // Now an update (new value and one more member), killed half way.
    const upd = await call(server.url, tok, 'PATCH', `/stacks/survivor/${created.body.stack.id}`, { parameters: { value: 'v2', count: 5 } });
    assert.equal(upd.status, 202, JSON.stringify(upd.body));
    const mid2 = await waitFor(server.url, tok, 'survivor', () => false, 2_800);
    assert.equal(mid2.stack_status, 'UPDATE_IN_PROGRESS');
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');

    server = await spawnServer(stateDir);
    tok = await token(server.url, stateDir);
    const done2 = await waitFor(server.url, tok, 'survivor', (s) => !s.endsWith('IN_PROGRESS'));
    assert.equal(done2.stack_status, 'UPDATE_COMPLETE', done2.stack_status_reason);
    assert.deepEqual(done2.outputs.find((o) => o.output_key === 'values')?.output_value, ['v2', 'v2', 'v2', 'v2', 'v2']);
    await nothingInProgress(server.url, tok, 'survivor');
  } finally {
    server.child.kill('SIGKILL');
    await once(server.child, 'exit').catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
