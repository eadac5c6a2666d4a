// Password login as an attacker would try it, over HTTP: guessing (lockout after
// lockout_failure_attempts wrong passwords, counted in the database, reset by success or an
// admin, over after lockout_duration; never for a user with the option
// ignore_lockout_failure_attempts, which the bootstrap admin has), telling users apart (same
// answer and about the same time for unknown, disabled and real users), and oversized names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
let admin: string;

before(async () => {
  // Default identity configuration: lockout after 6 wrong passwords, for 1800 s.
  seed = await startSeed({ services: ['identity'] });
  admin = await seed.token();
});
after(async () => seed?.stop());

type User = { id?: string; name?: string; domain?: { id?: string; name?: string } };
const login = (s: TestSeed, user: User, password: string) =>
  s.call('POST', '/identity/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { ...user, password } } } } } });
const byName = (name: string): User => ({ name, domain: { id: 'default' } });

async function createUser(s: TestSeed, token: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await s.call('POST', '/identity/v3/users', { token, body: { user: { name, password: `${name}-pw`, ...extra } } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.user.id as string;
}

const GENERIC = 'The request you have made requires authentication.';

test('six wrong passwords lock the account: even the right one is refused, in Keystone\'s words', async () => {
  const id = await createUser(seed, admin, 'locky');
  for (let i = 0; i < 6; i++) {
    const res = await login(seed, byName('locky'), 'guess');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.message, GENERIC);
  }
  const right = await login(seed, byName('locky'), 'locky-pw');
  assert.equal(right.status, 401, 'the right password after six wrong ones must not get a token');
  assert.equal(right.body.error.message, 'The account is locked for user: locky.');
  // Named by id, the user is named by id, as Keystone does.
  const viaId = await login(seed, { id }, 'locky-pw');
  assert.equal(viaId.status, 401);
  assert.equal(viaId.body.error.message, `The account is locked for user: ${id}.`);
});

test('a burst of concurrent guesses gets at most six password checks', async () => {
  await createUser(seed, admin, 'bursty');
  const answers = await Promise.all(Array.from({ length: 20 }, () => login(seed, byName('bursty'), 'guess')));
  assert.ok(answers.every((a) => a.status === 401));
  const checked = answers.filter((a) => a.body.error.message === GENERIC).length;
  assert.ok(checked <= 6, `${checked} of 20 concurrent guesses had their password checked`);
  assert.equal((await login(seed, byName('bursty'), 'bursty-pw')).status, 401);
});

test('a successful login resets the count; an admin enabling the user unlocks it', async () => {
  const id = await createUser(seed, admin, 'steady');
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 5; i++) assert.equal((await login(seed, byName('steady'), 'guess')).status, 401);
    assert.equal((await login(seed, byName('steady'), 'steady-pw')).status, 201, `round ${round}`);
  }
  for (let i = 0; i < 6; i++) await login(seed, byName('steady'), 'guess');
  assert.equal((await login(seed, byName('steady'), 'steady-pw')).status, 401);
  const enable = await seed.call('PATCH', `/identity/v3/users/${id}`, { token: admin, body: { user: { enabled: true } } });
  assert.equal(enable.status, 200);
  assert.equal((await login(seed, byName('steady'), 'steady-pw')).status, 201);
});

test('a name that matches no user locks the same way (a lockout does not tell who exists)', async () => {
  for (let i = 0; i < 6; i++) assert.equal((await login(seed, byName('ghost'), 'guess')).body.error.message, GENERIC);
  const seventh = await login(seed, byName('ghost'), 'guess');
  assert.equal(seventh.status, 401);
  assert.equal(seventh.body.error.message, 'The account is locked for user: ghost.');
  // Naming the domain by name instead of id counts against the same subject, as for real users.
  assert.equal((await login(seed, { name: 'ghost', domain: { name: 'Default' } }, 'guess')).body.error.message, 'The account is locked for user: ghost.');
});

test('failures are counted in the database: a restart does not unlock; the lock ends after lockout_duration', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-lockout-'));
  const start = (identity: Record<string, unknown> = {}) => startSeed({ services: ['identity'], identity }, { stateDir });
  try {
    let s = await start();
    await createUser(s, await s.token(), 'durable');
    for (let i = 0; i < 6; i++) await login(s, byName('durable'), 'guess');
    await s.stop();
    s = await start();
    const after = await login(s, byName('durable'), 'durable-pw');
    await s.stop();
    assert.equal(after.status, 401);
    assert.equal(after.body.error.message, 'The account is locked for user: durable.');
    // With a 1 s lockout_duration, failures older than that no longer lock.
    s = await start({ lockout_duration: 1 });
    try {
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await login(s, byName('durable'), 'durable-pw')).status, 201);
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('unknown, disabled and real users with a wrong password take about the same time', async () => {
  // Lockout would make repeated wrong passwords fast (refused before hashing): raise the limit.
  const s = await startSeed({ services: ['identity'], identity: { lockout_failure_attempts: 1000 } });
  try {
    const token = await s.token();
    await createUser(s, token, 'timed');
    await createUser(s, token, 'sleeper', { enabled: false });
    const ms = async (user: User) => {
      const t = process.hrtime.bigint();
      const res = await login(s, user, 'wrong-password');
      assert.equal(res.status, 401);
      assert.equal(res.body.error.message, GENERIC);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const times: Record<'unknown' | 'disabled' | 'known', number[]> = { unknown: [], disabled: [], known: [] };
    // Interleaved, so that load on the machine weighs on all three alike.
    for (let i = 0; i < 11; i++) {
      times.unknown.push(await ms(byName(`nobody-${i}`)));
      times.disabled.push(await ms(byName('sleeper')));
      times.known.push(await ms(byName('timed')));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const known = median(times.known);
    // Without the dummy hash an unknown user answered in ~1/15 of the time; 0.5 leaves room for noise.
    assert.ok(median(times.unknown) >= 0.5 * known, `unknown ${median(times.unknown).toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
    assert.ok(median(times.disabled) >= 0.5 * known, `disabled ${median(times.disabled).toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
  } finally {
    await s.stop();
  }
});

test('names have Keystone\'s limits: projects and domains 64, users and roles 255, never blank', async () => {
  const bad = async (path: string, body: unknown, field: RegExp, token: string | null = admin) => {
    const res = await seed.call('POST', path, { token, body });
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}: ${res.status}`);
    assert.match(res.body.error.message, field);
  };
  await bad('/identity/v3/projects', { project: { name: 'p'.repeat(65) } }, /body\.project\.name/);
  await bad('/identity/v3/projects', { project: { name: '   ' } }, /body\.project\.name/);
  await bad('/identity/v3/domains', { domain: { name: 'd'.repeat(65) } }, /body\.domain\.name/);
  await bad('/identity/v3/users', { user: { name: '\t' } }, /body\.user\.name/);
  await bad('/identity/v3/users', { user: { name: 'u', default_project_id: 'x'.repeat(65) } }, /body\.user\.default_project_id/);
  await bad('/identity/v3/roles', { role: { name: ' ' } }, /body\.role\.name/);
  // At the login: a megabyte name never reaches a query or an error message.
  await bad('/identity/v3/auth/tokens', { auth: { identity: { methods: ['password'], password: { user: { name: 'n'.repeat(300), domain: { id: 'default' }, password: 'x' } } } } }, /name/, null);
  const ok = await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'p'.repeat(64) } } });
  assert.equal(ok.status, 201);
});

// --- ignore_lockout_failure_attempts (Keystone's user option)

const IGNORE = { ignore_lockout_failure_attempts: true };

async function userByName(s: TestSeed, token: string, name: string) {
  const res = await s.call('GET', `/identity/v3/users?name=${name}`, { token });
  assert.equal(res.status, 200);
  assert.equal(res.body.users.length, 1);
  return res.body.users[0];
}

test('the bootstrap admin ignores lockout: ten wrong passwords, then it logs in; a normal user is still locked', async () => {
  const adminUser = await userByName(seed, admin, 'admin');
  assert.deepEqual(adminUser.options, IGNORE);
  assert.deepEqual((await seed.call('GET', `/identity/v3/users/${adminUser.id}`, { token: admin })).body.user.options, IGNORE);
  await createUser(seed, admin, 'plain');
  for (let i = 0; i < 10; i++) {
    const res = await login(seed, byName('admin'), 'guess');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.message, GENERIC, `admin, wrong password ${i + 1}`);
    await login(seed, byName('plain'), 'guess');
  }
  assert.ok(await seed.token(), 'the admin logs in after ten wrong passwords');
  assert.equal((await login(seed, { id: adminUser.id }, 'guess')).body.error.message, GENERIC);
  const plain = await login(seed, byName('plain'), 'plain-pw');
  assert.equal(plain.status, 401);
  assert.equal(plain.body.error.message, 'The account is locked for user: plain.');
});

test('ignore_lockout_failure_attempts: set at creation or by PATCH, shown, null removes it; other options are refused', async () => {
  const created = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'robot', password: 'robot-pw', options: IGNORE } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.user.options, IGNORE);
  const id = created.body.user.id as string;
  for (let i = 0; i < 8; i++) assert.equal((await login(seed, byName('robot'), 'guess')).body.error.message, GENERIC);
  assert.equal((await login(seed, byName('robot'), 'robot-pw')).status, 201);

  const patch = (user: unknown, token = admin) => seed.call('PATCH', `/identity/v3/users/${id}`, { token, body: { user } });
  const shown = async () => (await seed.call('GET', `/identity/v3/users/${id}`, { token: admin })).body.user.options;
  // Options not named in a PATCH are kept, as in Keystone.
  assert.deepEqual((await patch({ description: 'kept' })).body.user.options, IGNORE);
  assert.deepEqual((await patch({ options: {} })).body.user.options, IGNORE);
  // false is kept and shown; null removes the option.
  assert.deepEqual((await patch({ options: { ignore_lockout_failure_attempts: false } })).body.user.options, { ignore_lockout_failure_attempts: false });
  assert.deepEqual(await shown(), { ignore_lockout_failure_attempts: false });
  assert.deepEqual((await patch({ options: { ignore_lockout_failure_attempts: null } })).body.user.options, {});
  assert.deepEqual(await shown(), {});
  assert.deepEqual((await userByName(seed, admin, 'robot')).options, {});
  // Without the option the user locks like anybody (failures counted while it was set do not count).
  for (let i = 0; i < 6; i++) assert.equal((await login(seed, byName('robot'), 'guess')).body.error.message, GENERIC);
  assert.equal((await login(seed, byName('robot'), 'robot-pw')).body.error.message, 'The account is locked for user: robot.');

  // Unknown options (Keystone's that are not implemented here too) and non-booleans are 400, naming the field.
  const refused = async (res: { status: number; body: { error: { message: string } } }, field: RegExp) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.error.message, field);
  };
  await refused(await patch({ options: { lock_password: true } }), /body\.user\.options\.lock_password: is not an allowed field/);
  await refused(await patch({ options: { ignore_lockout_failure_attempts: 'yes' } }), /body\.user\.options\.ignore_lockout_failure_attempts/);
  await refused(await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'opt', options: { no_such_option: true } } } }), /body\.user\.options\.no_such_option/);
  assert.equal((await seed.call('GET', '/identity/v3/users?name=opt', { token: admin })).body.users.length, 0);
  assert.deepEqual(await shown(), {});
});

test('only an admin sets user options: a member can set them neither on itself nor on others', async () => {
  const { token: member, userId } = await userWithRole(seed, admin, 'opt-project', 'opt-member', 'member');
  const robot = await userByName(seed, admin, 'robot');
  for (const target of [userId, robot.id as string]) {
    const res = await seed.call('PATCH', `/identity/v3/users/${target}`, { token: member, body: { user: { options: IGNORE } } });
    assert.equal(res.status, 403, `PATCH ${target === userId ? 'own user' : 'other user'}: ${res.status}`);
  }
  const create = await seed.call('POST', '/identity/v3/users', { token: member, body: { user: { name: 'sneaky', options: IGNORE } } });
  assert.equal(create.status, 403);
  // The member may read its own user: the option is not there.
  assert.deepEqual((await seed.call('GET', `/identity/v3/users/${userId}`, { token: member })).body.user.options, {});
  assert.deepEqual((await userByName(seed, admin, 'robot')).options, {});
});

test('upgrade: an admin made before the option existed gets it once; an operator who removes it keeps it removed', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-ignore-lockout-'));
  const start = () => startSeed({ services: ['identity'] }, { stateDir });
  try {
    let s = await start();
    await s.stop();
    // Back to the schema of a version without the option: the column and its migration gone.
    const db = new SQLite(join(stateDir, 'bootstack.sqlite'));
    db.exec('ALTER TABLE identity_users DROP COLUMN ignore_lockout_failure_attempts');
    db.prepare('DELETE FROM kysely_migration WHERE name = ?').run('identity/0003_user_ignore_lockout');
    db.close();
    s = await start();
    let token = await s.token();
    const adminUser = await userByName(s, token, 'admin');
    assert.deepEqual(adminUser.options, IGNORE, 'the upgraded admin has the option');
    for (let i = 0; i < 10; i++) await login(s, byName('admin'), 'guess');
    token = await s.token();
    const removed = await s.call('PATCH', `/identity/v3/users/${adminUser.id}`, { token, body: { user: { options: { ignore_lockout_failure_attempts: null } } } });
    assert.deepEqual(removed.body.user.options, {});
    await s.stop();
    s = await start();
    try {
      token = await s.token();
      assert.deepEqual((await userByName(s, token, 'admin')).options, {}, 'a restart does not set it again');
      for (let i = 0; i < 6; i++) await login(s, byName('admin'), 'guess');
      assert.equal((await login(s, byName('admin'), 'whatever')).body.error.message, 'The account is locked for user: admin.');
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
