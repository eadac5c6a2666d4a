// Acceptance of orchestration with the REAL `openstack stack ...` / `openstack orchestration`
// commands (Debian's python3-heatclient) against a freshly started seed: validate, create,
// update (in place vs replace, ResourceGroup scale up and down), rollback after a failure,
// nested templates through an environment, outputs, resources, events, a wait condition
// signalled with a plain curl, and delete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { openstackCli } from './support/openstack-cli.js';
import type { OrchestrationService } from '../src/orchestration/index.js';

const examples = resolve(fileURLToPath(new URL('../templates/examples', import.meta.url)));
let seed: TestSeed;
let work: string;

const { openstack, ok, json } = openstackCli(() => seed.stateDir);
const ex = (f: string) => join(examples, f);

/**
 * Runs a stack command and waits for the engine to finish in-process (heatclient's --wait polls
 * every 5 s; one test keeps --wait to show it works).
 */
async function settled(args: string[], expectOk = true): Promise<{ code: number | null; stderr: string }> {
  const r = await openstack(args);
  if (expectOk) assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}`);
  await (seed.server.services.find((s) => s.name === 'orchestration') as OrchestrationService).engine.idle();
  return r;
}

/** Every output of a stack as key → value. */
async function outputs(stack: string): Promise<Record<string, unknown>> {
  const all = await json(['stack', 'output', 'show', stack, '--all']);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) out[k] = (JSON.parse(v as string) as { output_value: unknown }).output_value;
  return out;
}

async function ids(stack: string): Promise<Record<string, string>> {
  const list = await json(['stack', 'resource', 'list', stack]);
  return Object.fromEntries(list.map((r: { resource_name: string; physical_resource_id: string }) => [r.resource_name, r.physical_resource_id]));
}

before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  work = mkdtempSync(join(tmpdir(), 'orch-cli-'));
});
after(async () => {
  await seed?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('orchestration template validate: parameters, groups; a broken template is refused naming its path', async () => {
  const v = await json(['orchestration', 'template', 'validate', '-t', ex('all-functions.yaml')]);
  assert.equal(v.Description, 'Every intrinsic function of HOT 2021-04-16, each feeding an output.');
  assert.equal(v.Parameters.count.Type, 'Number');
  assert.equal(v.Parameters.zones.Type, 'CommaDelimitedList');
  assert.deepEqual(v.Parameters.env.AllowedValues, ['prod', 'dev']);
  assert.equal(v.ParameterGroups[0].label, 'basics');
  const bad = join(work, 'bad.yaml');
  writeFileSync(bad, 'heat_template_version: 2015-04-30\nresources:\n  web:\n    type: OS::Heat::TestResource\n    properties:\n      value: {get_param: missing}\n');
  const r = await openstack(['orchestration', 'template', 'validate', '-t', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /resources\.web\.properties\.value\.get_param: The Parameter \(missing\) was not defined in template/);
  const badParam = await openstack(['orchestration', 'template', 'validate', '-t', ex('all-functions.yaml'), '--parameter', 'count=3']);
  assert.notEqual(badParam.code, 0);
  assert.match(badParam.stderr, /parameters\.count: Parameter 'count' is invalid: 3 is not a multiple of 2/);
});

test('every HOT intrinsic function, through stack create and output show', async () => {
  await ok(['stack', 'create', '-t', ex('all-functions.yaml'), 'functions', '--wait']);
  const o = await outputs('functions');
  const expected: Record<string, unknown> = {
    get_param_path: 8080,
    get_attr_value: 'web-4',
    get_attr_all: { value: 'web-4' },
    get_resource_is_ref: true,
    get_file: '#!/bin/sh\necho configured\n',
    str_replace_strict: 'example.org:443',
    str_replace_vstrict: 'x-y',
    list_join: 'a,b,a,b,c',
    digest: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    repeat: ['zone-a', 'zone-b', 'zone-c'],
    repeat_pairs: ['1a', '2b'],
    str_split: 'y',
    map_merge: { a: 1, b: 2 },
    map_replace: { K1: 'v1', k2: 'V2' },
    if_prod: 'production',
    condition_big: 'big',
    condition_either: 'either',
    dev_only_output: null,
    filter: ['a', 'c'],
    make_url: 'https://example.org:8443/v1/x?a=b',
    list_concat: [1, 2, 2, 3],
    list_concat_unique: [1, 2, 3],
    contains: true,
    boolean_param: true,
    stack_name: 'functions',
  };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(o[k], v, k);
  assert.match(String(o.random), /^[a-z]{12}$/);
  // The conditional resource does not exist in prod.
  assert.deepEqual(Object.keys(await ids('functions')).sort(), ['base', 'config', 'rand', 'value']);
  // With env=dev the condition flips: the resource appears and the output has its value.
  await settled(['stack', 'update', '--existing', '--parameter', 'env=dev', 'functions']);
  const dev = await outputs('functions');
  assert.equal(dev.if_prod, 'development');
  assert.equal(dev.dev_only_output, 'test_string');
  assert.ok('dev_only' in (await ids('functions')));
});

test('HOT 2013-05-23 CloudFormation-style functions', async () => {
  await settled(['stack', 'create', '-t', ex('legacy-functions.yaml'), 'legacy']);
  const o = await outputs('legacy');
  assert.equal(o.select, 'z');
  assert.equal(o.join, 'a-b');
  assert.equal(o.getatt, 'y+x');
  assert.equal(o.replace, 'hello world');
  assert.deepEqual(o.split, ['p', 'q']);
  assert.equal(o.ref_resource, (await ids('legacy')).thing);
});

test('nested templates through an environment (-e), in a ResourceGroup, with resource_facade', async () => {
  await settled(['stack', 'create', '-t', ex('nested-parent.yaml'), '-e', ex('nested-env.yaml'), 'nested']);
  const o = await outputs('nested');
  assert.equal(o.single_label, 'envdefault/0', 'parameter_defaults reach the nested stack');
  assert.deepEqual(o.member_labels, ['member-0/0', 'member-1/1']);
  assert.deepEqual(o.facade, { role: 'single' });
  const all = await json(['stack', 'resource', 'list', 'nested', '--nested-depth', '2']);
  assert.equal(all.filter((r: { resource_name: string }) => r.resource_name === 'inner').length, 3);
  const show = await json(['stack', 'resource', 'show', 'nested', 'single']);
  assert.equal(show.resource_type, 'My::Member');
  assert.equal(show.resource_status, 'CREATE_COMPLETE');
  assert.equal(show.attributes.label, 'envdefault/0');
});

test('update in place vs replace, ResourceGroup scale up and down, rollback after a failure, delete with Retain', async () => {
  await settled(['stack', 'create', '-t', ex('update.yaml'), 'upd']);
  const before = await ids('upd');
  const refs0 = (await outputs('upd')).refs as string[];
  assert.equal(refs0.length, 3);
  await settled(['stack', 'update', '-t', ex('update.yaml'), 'upd', '--parameter', 'value=two', '--parameter', 'replace_marker=second', '--parameter', 'count=5']);
  const after1 = await ids('upd');
  assert.equal(after1.inplace, before.inplace, 'value is updatable: same resource');
  assert.notEqual(after1.replaced, before.replaced, 'update_replace_value is not: replaced');
  assert.equal(after1.kept, before.kept);
  const o1 = await outputs('upd');
  assert.equal(o1.inplace, 'two');
  const refs1 = o1.refs as string[];
  assert.equal(refs1.length, 5);
  assert.deepEqual(refs1.slice(0, 3), refs0, 'scaling up keeps the existing members');
  await settled(['stack', 'update', '--existing', '--parameter', 'count=2', 'upd']);
  const refs2 = (await outputs('upd')).refs as string[];
  assert.deepEqual(refs2, refs0.slice(0, 2), 'scaling down removes the highest members');
  const events = await json(['stack', 'event', 'list', 'upd']);
  assert.ok(events.some((e: { resource_name: string; resource_status_reason: string }) => e.resource_name === 'replaced' && /UpdateReplace: changed update_replace_value/.test(e.resource_status_reason)));
  // A failing update with rollback enabled goes back to the previous definition.
  await settled(['stack', 'update', '--existing', '--parameter', 'fail=true', '--parameter', 'value=three', '--rollback', 'enabled', 'upd']);
  const st = await json(['stack', 'show', 'upd']);
  assert.equal(st.stack_status, 'ROLLBACK_COMPLETE');
  assert.equal((await outputs('upd')).inplace, 'two');
  const ev = await json(['stack', 'event', 'list', 'upd']);
  const failed = ev.find((e: { resource_name: string; resource_status: string }) => e.resource_name === 'failing' && e.resource_status === 'UPDATE_FAILED');
  assert.match(failed.resource_status_reason, /Test Resource failed failing during update/);
  assert.ok(ev.some((e: { resource_name: string; resource_status: string; resource_status_reason: string }) => e.resource_name === 'upd' && e.resource_status === 'UPDATE_FAILED' && /Resource UPDATE failed/.test(e.resource_status_reason)));
  await settled(['stack', 'delete', 'upd', '--yes']);
  const list = await json(['stack', 'list']);
  assert.ok(!list.some((s: { 'Stack Name': string }) => s['Stack Name'] === 'upd'));
});

test('a failed create rolls back when rollback is enabled, and stays failed with the reason when not', async () => {
  await settled(['stack', 'create', '-t', ex('update.yaml'), '--parameter', 'fail=true', '--enable-rollback', 'rb']);
  const st = await json(['stack', 'show', 'rb']);
  assert.equal(st.stack_status, 'ROLLBACK_COMPLETE');
  assert.deepEqual(await json(['stack', 'resource', 'list', 'rb']), []);
  // --wait exits non-zero when the stack fails.
  const r2 = await openstack(['stack', 'create', '-t', ex('update.yaml'), '--parameter', 'fail=true', 'norb', '--wait']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr + r2.stdout, /CREATE_FAILED/);
  const st2 = await json(['stack', 'show', 'norb']);
  assert.equal(st2.stack_status, 'CREATE_FAILED');
  assert.match(st2.stack_status_reason, /Resource CREATE failed: Error: resources\.failing: Test Resource failed failing during create/);
});

test('a wait condition completes when signalled with a plain curl', async () => {
  await ok(['stack', 'create', '-t', ex('wait.yaml'), 'waiter']);
  const curl = String(JSON.parse(await ok(['stack', 'output', 'show', 'waiter', 'curl', '-f', 'json', '-c', 'output_value'])).output_value);
  assert.match(curl, /^curl -i -X POST -H 'Content-Type: application\/json' http:\/\/127\.0\.0\.1:\d+\/orchestration\/signal\/wait\/[0-9a-f-]+\/[0-9a-f]+$/);
  assert.equal((await json(['stack', 'show', 'waiter'])).stack_status, 'CREATE_IN_PROGRESS');
  // Exactly what a machine's boot script would run: the handle's curl_cli plus a body.
  const sent = await run('sh', ['-c', `${curl} -sS -f -d '{"status": "SUCCESS", "reason": "booted", "data": "hello", "id": "n1"}'`], { timeoutMs: 30_000 });
  assert.match(sent.stdout, /^HTTP\/1\.1 200/);
  for (let i = 0; i < 100; i++) {
    if ((await json(['stack', 'show', 'waiter'])).stack_status !== 'CREATE_IN_PROGRESS') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await json(['stack', 'show', 'waiter'])).stack_status, 'CREATE_COMPLETE');
  assert.deepEqual(JSON.parse(String((await outputs('waiter')).data)), { n1: 'hello' });
  // A wrong token is refused.
  const url = curl.split(' ').at(-1)!;
  const wrong = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'Content-Type: application/json', url.replace(/\/[0-9a-f]+$/, '/0000'), '-d', '{}'], { timeoutMs: 30_000 });
  assert.equal(wrong.stdout, '404');
});

test('template show, event show, resource types, dry run, resource signal, mark unhealthy + check, and the unhealthy resource is replaced on update', async () => {
  await settled(['stack', 'create', '-t', ex('update.yaml'), 'ops']);
  const tpl = await json(['stack', 'template', 'show', 'ops']);
  assert.equal(tpl.heat_template_version, '2015-04-30');
  assert.ok(tpl.resources.group);
  const events = await json(['stack', 'event', 'list', 'ops', '--resource', 'inplace']);
  const ev = await json(['stack', 'event', 'show', 'ops', 'inplace', events[0].id]);
  assert.equal(ev.resource_name, 'inplace');
  assert.equal(ev.resource_status, 'CREATE_IN_PROGRESS');
  const types = (await json(['orchestration', 'resource', 'type', 'list'])).map((t: { 'Resource Type': string }) => t['Resource Type']);
  for (const t of ['OS::Heat::ResourceGroup', 'OS::Nova::Server', 'OS::Heat::SoftwareDeployment', 'OS::Heat::WaitCondition']) assert.ok(types.includes(t), t);
  const tr = await json(['orchestration', 'resource', 'type', 'show', 'OS::Heat::TestResource']);
  assert.equal(tr.properties.value.update_allowed, true);
  assert.equal(tr.properties.update_replace_value.update_allowed, false);
  const dry = await json(['stack', 'create', '--dry-run', '-t', ex('update.yaml'), 'dry']);
  const dryParams = typeof dry.parameters === 'string' ? JSON.parse(dry.parameters) : dry.parameters;
  // Text, as Heat's preview and stack show write parameter values.
  assert.equal(dryParams.count, '3', JSON.stringify(dry));
  assert.ok(!(await json(['stack', 'list'])).some((s: { 'Stack Name': string }) => s['Stack Name'] === 'dry'));
  // Unhealthy, then check, then an update replaces it.
  const before = await ids('ops');
  await ok(['stack', 'resource', 'mark', 'unhealthy', 'ops', 'inplace', 'disk gone']);
  const res = await json(['stack', 'resource', 'show', 'ops', 'inplace']);
  assert.equal(res.resource_status, 'CHECK_FAILED');
  assert.equal(res.resource_status_reason, 'disk gone');
  await settled(['stack', 'check', 'ops']);
  const checked = await json(['stack', 'show', 'ops']);
  assert.equal(checked.stack_status, 'CHECK_FAILED');
  assert.equal(checked.stack_status_reason, 'Resource CHECK failed: inplace');
  await settled(['stack', 'update', '--existing', 'ops']);
  const after = await ids('ops');
  assert.notEqual(after.inplace, before.inplace);
  assert.equal(after.replaced, before.replaced);
  assert.equal((await json(['stack', 'show', 'ops'])).stack_status, 'UPDATE_COMPLETE');
  // A wait condition signalled through the API (HEAT_SIGNAL style) instead of curl.
  await ok(['stack', 'create', '-t', ex('wait.yaml'), 'apiwait']);
  for (let i = 0; i < 50 && (await json(['stack', 'resource', 'show', 'apiwait', 'handle'])).resource_status !== 'CREATE_COMPLETE'; i++) await new Promise((r) => setTimeout(r, 100));
  await ok(['stack', 'resource', 'signal', 'apiwait', 'handle', '--data', '{"status": "SUCCESS", "data": "via-api", "id": "a"}']);
  await (seed.server.services.find((s) => s.name === 'orchestration') as OrchestrationService).engine.idle();
  assert.deepEqual(JSON.parse(String((await outputs('apiwait')).data)), { a: 'via-api' });
});

test('the real TripleO overcloud template validates through the real CLI with the puppet registry', async () => {
  const corpus = resolve(process.env.BOOTSTACK_CORPUS ?? join(examples, '..', '..', '..', 'shared', 'corpus'), 'tripleo-heat-templates');
  assert.ok(existsSync(join(corpus, 'overcloud-without-mergepy.yaml')), `no corpus at ${corpus}`);
  // heatclient reads every file the registry names before sending; the puppet manifests that the
  // post-deployment templates get_file are not in the corpus, so those entries are pointed at
  // OS::Heat::None here (the in-process corpus test reports them as missing files instead).
  const registry = parse(readFileSync(join(corpus, 'overcloud-resource-registry-puppet.yaml'), 'utf8')) as { resource_registry: Record<string, string> };
  for (const [type, target] of Object.entries(registry.resource_registry)) {
    if (/PostDeployment$|^OS::TripleO::ControllerConfig$/.test(type)) registry.resource_registry[type] = 'OS::Heat::None';
    else if (!target.includes('::')) registry.resource_registry[type] = join(corpus, target);
  }
  const env = join(work, 'registry.yaml');
  writeFileSync(env, stringify(registry));
  const v = await json(['orchestration', 'template', 'validate', '-t', join(corpus, 'overcloud-without-mergepy.yaml'), '-e', env, '-e', join(corpus, 'environments', 'network-isolation.yaml')]);
  assert.ok(v.Parameters.ControllerCount && v.Parameters.NeutronPublicInterface, Object.keys(v.Parameters).join(', '));
  assert.equal(v.Parameters.ControllerCount.Type, 'Number');
});
