// Malformed and hostile templates thrown at template validate and stack create: the server never
// crashes or hangs, and every refusal is a 400 whose message names the location (file:line and/or
// path). Mutations come from a seeded generator so a failure can be replayed; the run is bounded
// in count and time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSeed, type TestSeed } from './support/seed.js';
import type { OrchestrationService } from '../src/orchestration/index.js';

const examples = resolve(fileURLToPath(new URL('../templates/examples', import.meta.url)));
let seed: TestSeed;
let token: string;
const CASES = Number(process.env.ORCH_FUZZ_CASES ?? 250);
const BUDGET_MS = 60_000;

before(async () => {
  seed = await startSeed({ log: { level: 'error' }, orchestration: { compute_provider: 'fake' } });
  token = await seed.token();
});
after(async () => seed?.stop());

/** Mulberry32: small, seeded, reproducible. */
function rng(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  '{get_param: [a, {get_attr: [x]}]}',
  '[[[[[',
  '*undefined_alias',
  '{str_replace: {template: 1, params: 2}}',
  '{repeat: {for_each: {x: 5}, template: 1}}',
  '{get_resource: [1]}',
  '!!binary xx',
  '!!python/object/apply:os.system ["true"]',
  'null',
  '- - - -',
  '{if: [nothing, 1]}',
  '{yaql: {expression: $.data, data: 1}}',
  '{list_join: 5}',
  '{digest: [md4, x]}',
  '{map_merge: 5}',
  '{make_url: {scheme: 1, nope: 2}}',
  '{filter: [1, 2]}',
  "{'Fn::Select': [x, y]}",
  '{get_file: /etc/passwd}',
  '{get_attr: [inplace, nope]}',
  '{str_split: [",", 5, 99]}',
  '{map_replace: [1, 2]}',
  '{equals: [1]}',
  '{list_concat: [1, [2]]}',
  '"\\0\\x01\\uFFFF"',
  '{__proto__: {polluted: 1}}',
  '{type: OS::Heat::ResourceGroup, properties: {count: 1000000000}}',
  '{repeat: {for_each: {a: [1,2,3,4,5,6,7,8,9,10], b: [1,2,3,4,5,6,7,8,9,10], c: [1,2,3,4,5,6,7,8,9,10], d: [1,2,3,4,5,6,7,8,9,10], e: [1,2,3,4,5,6,7,8,9,10]}, template: x}}',
  'OS::No::Such::Type',
  '2099-01-01',
  '{depends_on: [self]}',
  '%',
  '{? [a, b] : c}',
];

function mutate(text: string, r: () => number): string {
  const lines = text.split('\n');
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * lines.length);
    const kind = Math.floor(r() * 6);
    if (kind === 0) lines.splice(at, 1);
    else if (kind === 1) lines.splice(at, 0, lines[Math.floor(r() * lines.length)] ?? '');
    else if (kind === 2) {
      const line = lines[at] ?? '';
      const colon = line.indexOf(': ');
      const h = HOSTILE[Math.floor(r() * HOSTILE.length)]!;
      lines[at] = colon > 0 ? `${line.slice(0, colon + 2)}${h}` : `${line}${h}`;
    } else if (kind === 3) lines[at] = ' '.repeat(Math.floor(r() * 5)) + (lines[at] ?? '').trimStart();
    else if (kind === 4) lines[at] = (lines[at] ?? '').replace(/[a-z_]+/, (w) => w.split('').reverse().join(''));
    else lines[at] = (lines[at] ?? '') + String.fromCharCode(Math.floor(r() * 128));
  }
  return lines.join('\n');
}

/** A refusal must be a 400 naming where: "template:<line>:" or a dotted path. */
function assertLocated(status: number, body: { error?: { message?: string } }, what: string): void {
  assert.equal(status, 400, `${what}: expected 400, got ${status}: ${JSON.stringify(body).slice(0, 400)}`);
  const msg = body.error?.message ?? '';
  assert.match(msg, /^(template|environment|file:\/\/\S+?)(:\d+(:\d+)?)?: |^body[.:]/, `${what}: no location in "${msg.slice(0, 300)}"`);
}

async function validate(template: string | object) {
  return seed.call('POST', '/orchestration/validate', { token, body: { template } });
}

test('explicitly hostile templates are refused with a located 400', async () => {
  const cases: [string, string | object][] = [
    ['billion laughs', 'heat_template_version: 2015-04-30\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n'],
    ['deep YAML nesting', `heat_template_version: 2015-04-30\nresources: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
    ['deep JSON nesting', { heat_template_version: '2015-04-30', outputs: { o: { value: JSON.parse('['.repeat(3000) + ']'.repeat(3000)) } } }],
    ['repeat explosion', readFileSync(join(examples, 'all-functions.yaml'), 'utf8').replace("repeat: {for_each: {'%z%': {get_param: zones}}, template: 'zone-%z%'}", 'repeat: {for_each: {a: [1,2,3,4,5,6,7,8,9,10], b: [1,2,3,4,5,6,7,8,9,10], c: [1,2,3,4,5,6,7,8,9,10], d: [1,2,3,4,5,6,7,8,9,10], e: [1,2,3,4,5,6,7,8,9,10]}, template: x}')],
    ['huge group', 'heat_template_version: 2015-04-30\nresources:\n  g:\n    type: OS::Heat::ResourceGroup\n    properties:\n      count: 1000000000\n      resource_def: {type: OS::Heat::None}\n'],
    ['catastrophic regex', "heat_template_version: 2015-04-30\nparameters:\n  p:\n    type: string\n    default: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n    constraints:\n      - allowed_pattern: '(a+)+$'\n"],
    ['cycle', 'heat_template_version: 2015-04-30\nresources:\n  a: {type: OS::Heat::None, depends_on: b}\n  b: {type: OS::Heat::None, properties: {x: {get_resource: a}}}\n'],
    ['self-including template', { heat_template_version: '2015-04-30', resources: { me: { type: 'file:///loop.yaml' } } }],
    ['not a mapping', '- just\n- a list\n'],
    ['unknown version', 'heat_template_version: 1999-01-01\n'],
    ['yaql refused', 'heat_template_version: 2016-10-14\noutputs:\n  o:\n    value: {yaql: {expression: "$.data", data: 1}}\n'],
  ];
  for (const [what, template] of cases) {
    const started = Date.now();
    const res = await validate(template);
    assertLocated(res.status, res.body, what);
    assert.ok(Date.now() - started < 10_000, `${what} took ${Date.now() - started} ms`);
  }
  // A template resource that includes itself, with the file provided: refused with the chain.
  const loop = await seed.call('POST', '/orchestration/validate', {
    token,
    body: { template: { heat_template_version: '2015-04-30', resources: { me: { type: 'file:///loop.yaml' } } }, files: { 'file:///loop.yaml': '{"heat_template_version": "2015-04-30", "resources": {"again": {"type": "file:///loop.yaml"}}}' } },
  });
  assertLocated(loop.status, loop.body, 'loop');
  assert.match(loop.body.error.message, /includes itself|Recursion depth/);
});

test(`fuzz: ${CASES} mutated templates at validate and create never crash or hang; refusals are located 400s`, async () => {
  const seeds = ['all-functions.yaml', 'update.yaml', 'nested-parent.yaml', 'legacy-functions.yaml', 'wait.yaml'].map((f) => readFileSync(join(examples, f), 'utf8'));
  const files = { 'script.sh': readFileSync(join(examples, 'script.sh'), 'utf8') };
  const r = rng(20261121);
  const started = Date.now();
  let accepted = 0;
  let refused = 0;
  let i = 0;
  for (; i < CASES && Date.now() - started < BUDGET_MS; i++) {
    const text = mutate(seeds[i % seeds.length]!, r);
    const what = `case ${i}:\n${text}`;
    const v = await seed.call('POST', '/orchestration/validate', { token, body: { template: text, files } });
    if (v.status === 200) accepted++;
    else {
      refused++;
      assertLocated(v.status, v.body, what);
    }
    if (i % 5 !== 0) continue;
    const c = await seed.call('POST', '/orchestration/stacks', { token, body: { stack_name: `fuzz${i}`, template: text, files, parameters: {} } });
    if (c.status === 201) {
      // Accepted: it must end (complete or failed with a reason), then be deletable.
      const engine = (seed.server.services.find((s) => s.name === 'orchestration') as OrchestrationService).engine;
      await engine.idle();
      const row = await engine.getStack(c.body.stack.id);
      assert.ok(row && row.status !== 'IN_PROGRESS', what);
      if (row.status === 'FAILED') assert.ok(row.status_reason.length > 0);
      const d = await seed.call('DELETE', `/orchestration/stacks/fuzz${i}/${c.body.stack.id}`, { token });
      assert.equal(d.status, 204);
      await engine.idle();
    } else {
      assertLocated(c.status, c.body, `create ${what}`);
    }
  }
  assert.ok(refused > i / 4, `the mutations should mostly break templates (${refused} refused, ${accepted} accepted)`);
  // The server still answers normally afterwards.
  const ok = await validate(readFileSync(join(examples, 'update.yaml'), 'utf8'));
  assert.equal(ok.status, 200);
});

test('environments as YAML text are parsed; a bad one is a located 400', async () => {
  const tpl = 'heat_template_version: 2015-04-30\nparameters:\n  p: {type: string}\noutputs:\n  o: {value: {get_param: p}}\n';
  const good = await seed.call('POST', '/orchestration/validate', { token, body: { template: tpl, environment: 'parameters:\n  p: hello\n' } });
  assert.equal(good.status, 200, JSON.stringify(good.body));
  const bad = await seed.call('POST', '/orchestration/validate', { token, body: { template: tpl, environment: 'parameters:\n  p: [unclosed\n' } });
  assertLocated(bad.status, bad.body, 'bad environment');
  const wrong = await seed.call('POST', '/orchestration/validate', { token, body: { template: tpl, environment: 'paramters: {}\n' } });
  assertLocated(wrong.status, wrong.body, 'wrong section');
  assert.match(wrong.body.error.message, /environment:1: paramters: environment has wrong section "paramters"/);
});
