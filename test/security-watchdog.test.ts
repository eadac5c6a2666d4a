// Acceptance for findings 4-6: while the heaviest requests a tenant may send run, requests of
// other users are still answered at once. Heaviest here: a group of 5,000 (refused, and fast)
// and the largest group allowed (created, then deleted), the most expensive allowed_pattern
// check allowed, and the longest RandomString allowed. Meanwhile an unauthenticated /boot script
// and a token validation are sent every 20 ms; each must answer within 200 ms.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';
import { MAX_GROUP_COUNT, MAX_PATTERN_PROGRAM, MAX_RANDOM_STRING_LENGTH } from '../src/orchestration/limits.js';

let seed: TestSeed;
let tenant: { token: string; projectId: string };
before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  tenant = await userWithRole(seed, await seed.token(), 'watchdog-p', 'watchdog-member', 'member');
});
after(async () => {
  await seed?.stop();
});

const base = () => `/orchestration/v1/${tenant.projectId}`;
const group = (count: number, type = 'OS::Heat::None') => ({
  heat_template_version: '2015-04-30',
  resources: { g: { type: 'OS::Heat::ResourceGroup', properties: { count, resource_def: { type } } } },
});

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const out = await fn();
  return [out, performance.now() - t];
}

async function settle(name: string, id: string, want: RegExp): Promise<string> {
  for (;;) {
    const s = await seed.call('GET', `${base()}/stacks/${name}/${id}`, { token: tenant.token });
    const status = String(s.body.stack.stack_status);
    if (!status.endsWith('IN_PROGRESS')) {
      assert.match(status, want, s.body.stack.stack_status_reason);
      return status;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sends each probe every `everyMs` until stopped; returns the slowest answer of each. */
function probe(everyMs: number) {
  const worst = { boot: 0, token: 0 };
  const counts = { boot: 0, token: 0 };
  let running = true;
  const loop = async (kind: 'boot' | 'token', send: () => Promise<number>) => {
    while (running) {
      const [status, ms] = await timed(send);
      assert.equal(status, 200, `${kind} probe answered ${status}`);
      worst[kind] = Math.max(worst[kind], ms);
      counts[kind]++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };
  const done = Promise.all([
    loop('boot', async () => (await fetch(`${seed.url}/boot/boot.ipxe`)).status),
    loop('token', async () => (await seed.call('GET', '/identity/v3/auth/tokens', { token: tenant.token, headers: { 'x-subject-token': tenant.token } })).status),
  ]);
  return {
    async stop() {
      running = false;
      await done;
      return { worst, counts };
    },
  };
}

test('heavy tenant requests do not hold up /boot or token validation', { timeout: 300_000 }, async () => {
  // Warm up the code paths once, so that what is measured is the work and not module loading.
  const warm = await seed.call('POST', `${base()}/stacks`, { token: tenant.token, body: { stack_name: 'warm', template: group(20) } });
  assert.equal(warm.status, 201, JSON.stringify(warm.body));
  await settle('warm', warm.body.stack.id, /CREATE_COMPLETE/);

  const probes = probe(20);
  try {
    await heavy(probes);
  } finally {
    await probes.stop();
  }
});

async function heavy(probes: ReturnType<typeof probe>): Promise<void> {

  // 5,000 members is more than a stack may have: refused before anything is stored.
  const [refused, refusedMs] = await timed(() => seed.call('POST', `${base()}/stacks`, { token: tenant.token, body: { stack_name: 'g5000', template: group(5000) } }));
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.match(refused.body.error.message, /resources\.g\.properties\.count: .*max_resources_per_stack/);

  // The largest group allowed is created, and the longest random string.
  const started = performance.now();
  const big = await seed.call('POST', `${base()}/stacks`, { token: tenant.token, body: { stack_name: 'largest', template: group(MAX_GROUP_COUNT) } });
  assert.equal(big.status, 201, JSON.stringify(big.body));
  const random = await seed.call('POST', `${base()}/stacks`, {
    token: tenant.token,
    body: {
      stack_name: 'random',
      template: {
        heat_template_version: '2015-04-30',
        resources: { r: { type: 'OS::Heat::RandomString', properties: { length: MAX_RANDOM_STRING_LENGTH, character_classes: [{ class: 'digits', min: MAX_RANDOM_STRING_LENGTH / 2 }], character_sequences: [{ sequence: '!@#', min: MAX_RANDOM_STRING_LENGTH / 2 }] } } },
        outputs: { v: { value: { get_attr: ['r', 'value'] } } },
      },
    },
  });
  assert.equal(random.status, 201, JSON.stringify(random.body));

  // The most expensive pattern check allowed: a program near the size limit, run over a value as
  // long as the work budget allows (a longer one is refused), a few times while the group runs.
  const pattern = '((a|b)*a(a|b){63}){3}'; // about MAX_PATTERN_PROGRAM steps
  const regexTemplate = `heat_template_version: 2015-04-30\nparameters:\n  name:\n    type: string\n    constraints:\n      - allowed_pattern: '${pattern}'\nresources: {}\n`;
  const validate = (value: string) => seed.call('POST', `${base()}/validate`, { token: tenant.token, body: { template: regexTemplate, parameters: { name: value } } });
  let longest = 0;
  for (let len = 512; len < 1_000_000; len *= 2) {
    const r = await validate('a'.repeat(len));
    if (r.status === 400 && /more pattern matching than one request may do/.test(r.body.error.message)) break;
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    longest = len;
  }
  assert.ok(longest >= 512, `the budget allows only ${longest} characters`);
  for (let i = 0; i < 5; i++) assert.equal((await validate('a'.repeat(longest))).status, 200);

  await settle('random', random.body.stack.id, /CREATE_COMPLETE/);
  await settle('largest', big.body.stack.id, /CREATE_COMPLETE/);
  const createMs = performance.now() - started;
  const del = await seed.call('DELETE', `${base()}/stacks/largest/${big.body.stack.id}`, { token: tenant.token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const [, deleteMs] = await timed(() => settle('largest', big.body.stack.id, /DELETE_COMPLETE/));

  const { worst, counts } = await probes.stop();
  const report = `refused in ${refusedMs.toFixed(0)} ms; ${MAX_GROUP_COUNT}-member group created in ${(createMs / 1000).toFixed(1)} s, deleted in ${(deleteMs / 1000).toFixed(1)} s; pattern of about ${MAX_PATTERN_PROGRAM} steps over ${longest} characters; slowest /boot ${worst.boot.toFixed(0)} ms (${counts.boot} probes), slowest token validation ${worst.token.toFixed(0)} ms (${counts.token} probes)`;
  console.log(`# ${report}`);
  assert.ok(refusedMs < 2000, report);
  assert.ok(worst.boot < 200, report);
  assert.ok(worst.token < 200, report);
}
