// Hooks (breakpoints) through the HTTP API, as heatclient drives them: the environment sets
// pre-create / pre-update hooks, the engine pauses with Heat's event texts, and a signal with
// `unset_hook` lets the action go on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestSeed } from '../../test/support/seed.js';
import { startHeatSeed } from '../../test/support/orchestration/heat-seed.js';
import { rmSync } from 'node:fs';
import { testEngine, until as untilTrue, withEngine } from '../../test/support/orchestration/test-support.js';
import { badHooks, childRegistryResources, globMatches, hooksFor } from './hooks.js';
import type { Engine } from './engine.js';
import type { JsonMap } from './yaml-source.js';

let seed: TestSeed;
let token: string;
let base: string;
before(async () => {
  ({ seed, token, base } = await startHeatSeed());
});
after(async () => {
  await seed?.stop();
});

const chain = (props?: Record<string, unknown>) => ({
  heat_template_version: '2014-10-16',
  resources: {
    foo_step1: { type: 'OS::Heat::RandomString' },
    foo_step2: { type: 'OS::Heat::RandomString', depends_on: 'foo_step1', ...(props ? { properties: props } : {}) },
    foo_step3: { type: 'OS::Heat::RandomString', depends_on: 'foo_step2' },
  },
});

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

async function resource(path: string, name: string): Promise<Record<string, string>> {
  return (await seed.call('GET', `${path}/resources/${name}`, { token })).body.resource;
}

async function eventWith(path: string, name: string, reason: string): Promise<Record<string, string>> {
  return until(`event "${reason}" on ${name}`, async () => {
    const r = await seed.call('GET', `${path}/resources/${name}/events`, { token });
    return (r.body.events as Record<string, string>[]).find((e) => e.resource_status_reason === reason);
  });
}

async function stackStatus(path: string, status: string): Promise<void> {
  await until(`stack ${status}`, async () => ((await seed.call('GET', path, { token })).body.stack.stack_status === status ? true : undefined));
}

const signal = (path: string, name: string, body: unknown) => seed.call('POST', `${path}/resources/${name}/signal`, { token, body });

test('glob matching and the child registry follow fnmatch: *, ?, [..], [!..], case-sensitive', () => {
  assert.ok(globMatches('foo_*', 'foo_step1'));
  assert.ok(globMatches('foo_step?', 'foo_step1'));
  assert.ok(globMatches('foo_step[12]', 'foo_step2'));
  assert.ok(!globMatches('foo_step[!12]', 'foo_step2'));
  assert.ok(!globMatches('Foo_*', 'foo_step1'));
  assert.ok(!globMatches('foo.step1', 'fooxstep1'), 'a dot is literal');
  const rr = { resources: { 'foo_*': { hooks: ['pre-create', 'pre-update'] }, foo_step3: { hooks: 'pre-delete' }, nested: { foo_step2: { hooks: 'pre-create' } } } };
  assert.deepEqual([...hooksFor(rr, 'foo_step3')].sort(), ['pre-create', 'pre-delete', 'pre-update']);
  assert.deepEqual([...hooksFor(rr, 'bar')], []);
  assert.deepEqual(childRegistryResources(rr, 'nested'), { foo_step2: { hooks: 'pre-create' } });
  assert.equal(childRegistryResources(rr, 'other'), undefined);
  assert.deepEqual(badHooks({ nested: { x: { hooks: ['pre-create', 'post-create'] } } }), { path: 'resource_registry.resources.nested.x.hooks', message: 'invalid hook type "post-create"; valid hook types are pre-create, pre-update, pre-delete' });
});

test('an unknown hook type in the environment is a 400 naming it', async () => {
  const r = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'badhook', template: chain(), environment: { resource_registry: { resources: { foo_step2: { hooks: 'pre-check' } } } } } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.body.error.message, /resources\.foo_step2\.hooks.*pre-check/);
});

test('pre-create: the resource waits at INIT_COMPLETE with Heat\'s events until the hook is cleared', async () => {
  const env = { resource_registry: { resources: { foo_step2: { hooks: 'pre-create' } } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'hook-create', template: chain(), environment: env } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const path = `${base}/stacks/hook-create/${c.body.stack.id}`;
  const paused = await eventWith(path, 'foo_step2', 'CREATE paused until Hook pre-create is cleared');
  assert.equal(paused.resource_status, 'INIT_COMPLETE');
  assert.equal((await resource(path, 'foo_step1')).resource_status, 'CREATE_COMPLETE');
  // Still paused a while later: nothing but the signal lets it go.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await resource(path, 'foo_step2')).resource_status, 'INIT_COMPLETE');
  assert.equal((await seed.call('GET', path, { token })).body.stack.stack_status, 'CREATE_IN_PROGRESS');
  // A hook that is not pending (wrong type, or another resource) is a 400.
  assert.equal((await signal(path, 'foo_step2', { unset_hook: 'pre-update' })).status, 400);
  assert.equal((await signal(path, 'foo_step1', { unset_hook: 'pre-create' })).status, 400);
  const bad = await signal(path, 'foo_step2', { unset_hook: 'post-create' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /invalid hook type "post-create"/);
  const ok = await signal(path, 'foo_step2', { unset_hook: 'pre-create' });
  assert.ok(ok.status < 300, JSON.stringify(ok.body));
  assert.equal((await eventWith(path, 'foo_step2', 'Hook pre-create is cleared')).resource_status, 'INIT_COMPLETE');
  await stackStatus(path, 'CREATE_COMPLETE');
  // Cleared once: clearing again is a 400.
  assert.equal((await signal(path, 'foo_step2', { unset_hook: 'pre-create' })).status, 400);
});

test('pre-update pauses an unchanged resource too, and the resource keeps its id', async () => {
  const env = { resource_registry: { resources: { foo_step2: { hooks: 'pre-update' } } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'hook-update', template: chain(), environment: env } });
  const path = `${base}/stacks/hook-update/${c.body.stack.id}`;
  await stackStatus(path, 'CREATE_COMPLETE');
  const before = (await resource(path, 'foo_step2')).physical_resource_id;
  assert.equal((await seed.call('PUT', path, { token, body: { template: chain(), environment: env } })).status, 202);
  const paused = await eventWith(path, 'foo_step2', 'UPDATE paused until Hook pre-update is cleared');
  assert.equal(paused.resource_status, 'CREATE_COMPLETE');
  assert.equal((await seed.call('GET', path, { token })).body.stack.stack_status, 'UPDATE_IN_PROGRESS');
  assert.ok((await signal(path, 'foo_step2', { unset_hook: 'pre-update' })).status < 300);
  await stackStatus(path, 'UPDATE_COMPLETE');
  assert.equal((await resource(path, 'foo_step2')).physical_resource_id, before);
});

test('pre-update before a replacement: the replacement ends CREATE_COMPLETE with a new id, as Heat\'s', async () => {
  const env = { resource_registry: { resources: { foo_step2: { hooks: 'pre-update' } } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'hook-replace', template: chain(), environment: env } });
  const path = `${base}/stacks/hook-replace/${c.body.stack.id}`;
  await stackStatus(path, 'CREATE_COMPLETE');
  const before = (await resource(path, 'foo_step2')).physical_resource_id;
  assert.equal((await seed.call('PUT', path, { token, body: { template: chain({ length: 10 }), environment: env } })).status, 202);
  assert.equal((await eventWith(path, 'foo_step2', 'UPDATE paused until Hook pre-update is cleared')).resource_status, 'CREATE_COMPLETE');
  assert.ok((await signal(path, 'foo_step2', { unset_hook: 'pre-update' })).status < 300);
  await stackStatus(path, 'UPDATE_COMPLETE');
  const after = await resource(path, 'foo_step2');
  assert.equal(after.resource_status, 'CREATE_COMPLETE');
  assert.notEqual(after.physical_resource_id, before);
});

test('pre-create in a nested stack: the entry under the parent resource\'s name, cleared on the nested stack', async () => {
  const env = { resource_registry: { resources: { nested: { foo_step2: { hooks: 'pre-create' } } } } };
  const template = { heat_template_version: '2014-10-16', resources: { nested: { type: 'nested.yaml' } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'hook-nested', template, environment: env, files: { 'nested.yaml': JSON.stringify(chain()) } } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const path = `${base}/stacks/hook-nested/${c.body.stack.id}`;
  // As heat_tempest_plugin finds it: the resource's `nested` link is the nested stack's name/id.
  const links = await until('the nested stack', async () => {
    const l = (await resource(path, 'nested')).links as unknown as { rel: string; href: string }[];
    return l.some((x) => x.rel === 'nested') ? l : undefined;
  });
  const href = new URL(links.find((x) => x.rel === 'nested')!.href).pathname;
  const childId = href.split('/').pop()!;
  assert.equal((await resource(path, 'nested')).physical_resource_id, childId);
  const child = (await seed.call('GET', `${base}/stacks/${childId}`, { token })).body.stack;
  const childPath = `${base}/stacks/${child.stack_name}/${childId}`;
  assert.equal(href, childPath);
  assert.equal(child.parent, c.body.stack.id);
  assert.equal((await eventWith(childPath, 'foo_step2', 'CREATE paused until Hook pre-create is cleared')).resource_status, 'INIT_COMPLETE');
  assert.ok((await signal(childPath, 'foo_step2', { unset_hook: 'pre-create' })).status < 300);
  await stackStatus(path, 'CREATE_COMPLETE');
});

test('deleting a stack paused at a hook stops the wait and deletes it', async () => {
  const env = { resource_registry: { resources: { 'foo_*': { hooks: 'pre-create' } } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'hook-delete', template: chain(), environment: env } });
  const path = `${base}/stacks/hook-delete/${c.body.stack.id}`;
  await eventWith(path, 'foo_step1', 'CREATE paused until Hook pre-create is cleared');
  assert.equal((await seed.call('DELETE', path, { token })).status, 204);
  await until('the stack gone', async () => ((await seed.call('GET', path, { token })).status === 404 || (await seed.call('GET', path, { token })).body.stack?.stack_status === 'DELETE_COMPLETE' ? true : undefined));
});

test('a hook pending when the server stops is reached again after the restart (pending hooks are not stored)', async () => {
  const t = await testEngine();
  try {
    const env = { resource_registry: { resources: { foo_step2: { hooks: 'pre-create' } } } };
    const s = await t.engine.create('p', { stack_name: 'restart', template: chain() as JsonMap, environment: env });
    const paused = async (e: Engine) => (await e.events(s.id, 'foo_step2')).filter((x) => x.reason === 'CREATE paused until Hook pre-create is cleared').length;
    await untilTrue(async () => (await paused(t.engine)) === 1);
    await t.engine.stop();
    const t2 = await testEngine({ dir: t.dir });
    try {
      await t2.engine.resumeAll();
      await untilTrue(async () => (await paused(t2.engine)) === 2);
      assert.equal((await t2.engine.getStack(s.id))!.status, 'IN_PROGRESS');
      await t2.engine.signalResource((await t2.engine.getStack(s.id))!, 'foo_step2', { unset_hook: 'pre-create' });
      const row = await t2.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
    } finally {
      await t2.close();
    }
  } finally {
    await t.database.close().catch(() => undefined);
    rmSync(t.dir, { recursive: true, force: true });
  }
});

test('pre-delete pauses the stack delete before the resource goes; the rest waits for it', () =>
  withEngine(async (t) => {
    const env = { resource_registry: { resources: { foo_step1: { hooks: ['pre-delete'] } } } };
    const s = await t.engine.create('p', { stack_name: 'del', template: chain() as JsonMap, environment: env });
    await t.settle(s.id);
    await t.engine.delete((await t.engine.getStack(s.id))!);
    await untilTrue(async () => (await t.engine.events(s.id, 'foo_step1')).some((e) => e.reason === 'DELETE paused until Hook pre-delete is cleared' && e.action === 'CREATE' && e.status === 'COMPLETE'));
    // Its dependants are gone first (reverse order); it is still there.
    assert.equal((await t.engine.resources(s.id)).map((r) => r.name).join(), 'foo_step1');
    assert.equal((await t.engine.getStack(s.id))!.action + (await t.engine.getStack(s.id))!.status, 'DELETEIN_PROGRESS');
    await t.engine.signalResource((await t.engine.getStack(s.id))!, 'foo_step1', { unset_hook: 'pre-delete' });
    const row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'DELETE_COMPLETE', row.status_reason);
  }));
