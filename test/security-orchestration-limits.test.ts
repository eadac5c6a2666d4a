// Findings 5 and 6: what one tenant's template may make the engine do is bounded by the same
// limits at validation and at create (src/orchestration/limits.ts): resources per stack
// (counting nested stacks and group members), group counts, and OS::Heat::RandomString's length.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';
import { MAX_RESOURCES_PER_STACK, MAX_RANDOM_STRING_LENGTH } from '../src/orchestration/limits.js';

let seed: TestSeed;
let member: { token: string; projectId: string };
before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  const admin = await seed.token();
  member = await userWithRole(seed, admin, 'limits-p', 'limits-member', 'member');
});
after(async () => {
  await seed?.stop();
});

const validate = (template: string) => seed.call('POST', `/orchestration/v1/${member.projectId}/validate`, { token: member.token, body: { template } });
const create = (name: string, template: string | object, parameters: Record<string, unknown> = {}) =>
  seed.call('POST', `/orchestration/v1/${member.projectId}/stacks`, { token: member.token, body: { stack_name: name, template, parameters } });

async function settle(name: string, id: string): Promise<{ stack_status: string; stack_status_reason: string }> {
  for (;;) {
    const s = await seed.call('GET', `/orchestration/v1/${member.projectId}/stacks/${name}/${id}`, { token: member.token });
    if (!String(s.body.stack.stack_status).endsWith('IN_PROGRESS')) return s.body.stack;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const groups = (counts: number[]) =>
  ['heat_template_version: 2015-04-30', 'resources:', ...counts.flatMap((c, i) => [`  g${i}:`, '    type: OS::Heat::ResourceGroup', '    properties:', `      count: ${c}`, '      resource_def: {type: OS::Heat::None}']), ''].join('\n');

test('a group larger than a stack may be is refused at validation, naming the resource, the property, the limit and the line', async () => {
  const r = await validate(groups([5000]));
  assert.equal(r.status, 400, JSON.stringify(r.body));
  const msg = r.body.error.message as string;
  assert.match(msg, /^template:6: resources\.g0\.properties\.count: /, msg);
  assert.match(msg, new RegExp(`${MAX_RESOURCES_PER_STACK}`), msg);
  assert.match(msg, /max_resources_per_stack/, msg);
});

test('four groups of 4,000 (a 500-byte request) are refused by the per-stack total, at validate and at create, at once', { timeout: 20_000 }, async () => {
  const tmpl = groups([4000, 4000, 4000, 4000]);
  assert.ok(tmpl.length < 600);
  const v = await validate(tmpl);
  assert.equal(v.status, 400, JSON.stringify(v.body));
  assert.match(v.body.error.message, /^template:\d+: resources\.g1\.properties\.count: .*8002 resources.*more than 5000 \(max_resources_per_stack\)/);
  const c = await create('four-groups', tmpl);
  assert.equal(c.status, 400, JSON.stringify(c.body));
  assert.match(c.body.error.message, /max_resources_per_stack/);
});

test('counts only known at create time are held to the same total by the engine', { timeout: 120_000 }, async () => {
  // The second group's count comes from a resource attribute: validation cannot know it.
  const tmpl = {
    heat_template_version: '2015-04-30',
    resources: {
      n: { type: 'OS::Heat::Value', properties: { value: 3000 } },
      a: { type: 'OS::Heat::ResourceGroup', properties: { count: 3000, resource_def: { type: 'OS::Heat::None' } } },
      b: { type: 'OS::Heat::ResourceGroup', depends_on: 'a', properties: { count: { get_attr: ['n', 'value'] }, resource_def: { type: 'OS::Heat::None' } } },
    },
  };
  const c = await create('late-count', tmpl);
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const s = await settle('late-count', c.body.stack.id);
  assert.equal(s.stack_status, 'CREATE_FAILED', s.stack_status_reason);
  assert.match(s.stack_status_reason, /resources\.b: .*6003 resources .*more than 5000 \(max_resources_per_stack\)/);
});

const randomString = (props: string) => `heat_template_version: 2015-04-30\nparameters:\n  len: {type: number, default: 8}\nresources:\n  r:\n    type: OS::Heat::RandomString\n    properties: ${props}\n`;

test('RandomString length and character class minimums are capped at 512, as in Heat', async () => {
  for (const [props, where] of [
    ['{length: 30000000}', 'resources\\.r\\.properties\\.length'],
    ['{length: {get_param: len}}', null],
    ['{character_classes: [{class: digits, min: 100000000}]}', 'resources\\.r\\.properties\\.character_classes\\.0\\.min'],
    ['{length: 512, character_classes: [{class: digits, min: 300}], character_sequences: [{sequence: "!@", min: 300}]}', 'resources\\.r\\.properties\\.character_(classes|sequences)'],
    ['{length: 10, character_classes: [{class: digits, min: 11}]}', 'resources\\.r\\.properties\\.length'],
  ] as const) {
    const r = await validate(randomString(props));
    if (where === null) {
      assert.equal(r.status, 200, `${props}: ${JSON.stringify(r.body)}`);
      continue;
    }
    assert.equal(r.status, 400, `${props}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, new RegExp(`^template:7: ${where}: `), r.body.error.message);
    assert.match(r.body.error.message, new RegExp(`${MAX_RANDOM_STRING_LENGTH}|shorter`), r.body.error.message);
  }
  // A length given as a parameter is known at validation too.
  const p = await seed.call('POST', `/orchestration/v1/${member.projectId}/validate`, { token: member.token, body: { template: randomString('{length: {get_param: len}}'), parameters: { len: 100_000_000 } } });
  assert.equal(p.status, 400, JSON.stringify(p.body));
  assert.match(p.body.error.message, /resources\.r\.properties\.length: length must be an integer from 1 to 512/);
});

test('a RandomString length known only at create time is refused by the resource itself', { timeout: 60_000 }, async () => {
  const tmpl = {
    heat_template_version: '2015-04-30',
    resources: {
      n: { type: 'OS::Heat::Value', properties: { value: 5_000_000 } },
      r: { type: 'OS::Heat::RandomString', properties: { length: { get_attr: ['n', 'value'] } } },
    },
  };
  const c = await create('late-length', tmpl);
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const s = await settle('late-length', c.body.stack.id);
  assert.equal(s.stack_status, 'CREATE_FAILED', s.stack_status_reason);
  assert.match(s.stack_status_reason, /resources\.r: .*length must be an integer from 1 to 512/);
  const ok = await create('fine-length', randomString('{length: 512, character_classes: [{class: digits, min: 256}], character_sequences: [{sequence: "!@", min: 256}]}'));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal((await settle('fine-length', ok.body.stack.id)).stack_status, 'CREATE_COMPLETE');
});

test('a RandomString whose classes need more than the default length is refused at validation, as create would', async () => {
  const r = await validate('heat_template_version: 2015-04-30\nresources:\n  r:\n    type: OS::Heat::RandomString\n    properties:\n      character_classes: [{class: digits, min: 40}]\n');
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.body.error.message, /length 32 is shorter/);
});

test('a group is bounded in bytes too: count × a large member definition fails before any member is made', { timeout: 60_000 }, async () => {
  const big = 'x'.repeat(200_000);
  const tmpl = {
    heat_template_version: '2015-04-30',
    parameters: { blob: { type: 'string' } },
    resources: { g: { type: 'OS::Heat::ResourceGroup', properties: { count: 100, resource_def: { type: 'OS::Heat::Value', properties: { value: { get_param: 'blob' } } } } } },
  };
  const c = await create('bytes-group', tmpl, { blob: big });
  assert.equal(c.status, 201, JSON.stringify(c.body).slice(0, 300));
  const s = await settle('bytes-group', c.body.stack.id);
  assert.equal(s.stack_status, 'CREATE_FAILED');
  assert.match(s.stack_status_reason, /100 × \d+ bytes of member definitions, more than 8388608/);
});
