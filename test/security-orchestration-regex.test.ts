// Finding 4: a tenant's allowed_pattern must not be able to stall the server. Patterns run on a
// linear-time engine (RE2): a pattern that backtracks exponentially in JavaScript's engine
// answers at once, and patterns that need backtracking (backreferences, lookaround) are refused
// with a 400 naming the parameter and the constraint.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
// A member of an ordinary project (validate is open to project members).
let tenant: { token: string; projectId: string };
before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  tenant = await userWithRole(seed, await seed.token(), 'regex-p', 'regex-member', 'member');
});
after(async () => {
  await seed?.stop();
});

const template = (pattern: string, value?: string) =>
  [
    'heat_template_version: 2015-04-30',
    'parameters:',
    '  name:',
    '    type: string',
    ...(value === undefined ? [] : [`    default: ${JSON.stringify(value)}`]),
    '    constraints:',
    `      - allowed_pattern: ${JSON.stringify(pattern)}`,
    'resources: {}',
    '',
  ].join('\n');

const validate = (tmpl: string, parameters: Record<string, string> = {}) =>
  seed.call('POST', `/orchestration/v1/${tenant.projectId}/validate`, { token: tenant.token, body: { template: tmpl, parameters } });

// Before the fix, 30 characters against (a|a)* blocked the event loop for about 40 s (each
// character doubles it); the timeout makes that a failure instead of a hang of the suite.
test('a catastrophic pattern answers at once (linear-time matching)', { timeout: 15_000 }, async () => {
  const hostile = `${'a'.repeat(30)}b`;
  for (const pattern of ['(a|a)*', '((a)|(a))*', '(a|aa)*(a|aa)*', '(?:a|a)*c?']) {
    const bad = await validate(template(pattern, 'a'), { name: hostile });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(bad.body.error.message, /does not match pattern/);
  }
  const good = await validate(template('(a|a)*', 'a'.repeat(30)));
  assert.equal(good.status, 200, JSON.stringify(good.body));
});

test('patterns RE2 cannot run are refused naming the parameter, the constraint and the line', async () => {
  for (const pattern of ['(a)\\1', '(?=a)a', '(?<!b)a', '(?!x)a']) {
    const r = await validate(template(pattern, 'aa'));
    assert.equal(r.status, 400, `${pattern}: ${JSON.stringify(r.body)}`);
    const msg = r.body.error.message as string;
    assert.match(msg, /^template:7: parameters\.name\.constraints\.0\.allowed_pattern: /, msg);
    assert.match(msg, /allowed_pattern/);
    assert.match(msg, /name/);
  }
});

test('allowed_pattern keeps Heat semantics: re.match from the start, and the match must end at the end of the value', async () => {
  // Python's re.match('a|ab', 'ab') ends after "a", so Heat refuses "ab".
  assert.equal((await validate(template('a|ab', 'ab'))).status, 400);
  assert.equal((await validate(template('ab|a', 'ab'))).status, 200);
  assert.equal((await validate(template('[a-z]+', 'abc'))).status, 200);
  assert.equal((await validate(template('[a-z]+', 'abc1'))).status, 400);
  assert.equal((await validate(template('^[0-9]{1,3}(\\.[0-9]{1,3}){3}$', '10.0.0.1'))).status, 200);
  assert.equal((await validate(template('(?P<word>[a-z]+)-(?P<n>\\d+)', 'node-12'))).status, 200);
});

test('a pattern too large to run within the work budget is refused, not run', async () => {
  // Small text, large program: {200} repeats expand to thousands of instructions.
  const r = await validate(template('((a|b)*a(a|b){200}){4}((a|b)*a(a|b){200}){4}((a|b)*a(a|b){200}){4}((a|b)*a(a|b){200}){4}', 'a'));
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.body.error.message, /parameters\.name\.constraints\.0\.allowed_pattern: .*too large/);
  // A checkable pattern with a value too long to check within the budget.
  const long = await validate(template('((a|b)*a(a|b){20}){5}'), { name: 'ab'.repeat(60_000) });
  assert.equal(long.status, 400, JSON.stringify(long.body));
  assert.match(long.body.error.message, /^template:\d+: parameters\.name: Parameter 'name' is invalid: allowed_pattern: .*more pattern matching than one request may do/);
});
