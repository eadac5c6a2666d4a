// The lockout's counting statement (an upsert with CASE) on PostgreSQL: a burst of concurrent
// guesses gets at most lockout_failure_attempts checks, then even the right password is refused;
// a success before that resets the count. The user option ignore_lockout_failure_attempts (its
// column and the upgrade that gives it to an existing bootstrap admin) on PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pgLib from 'pg';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startSeed, type TestSeed } from './support/seed.js';

let pg: TestPostgres;
let seed: TestSeed;
before(async () => {
  pg = await startPostgres();
  seed = await startSeed({ services: ['identity'], database: { url: pg.url } });
});
after(async () => {
  await seed?.stop();
  pg?.stop();
});

const login = (name: string, password: string) =>
  seed.call('POST', '/identity/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } } } } });

test('lockout on PostgreSQL: reset by success, at most six checks in a burst, then locked', async () => {
  const admin = await seed.token();
  const created = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'pg-user', password: 'pg-pw' } } });
  assert.equal(created.status, 201);
  for (let i = 0; i < 5; i++) assert.equal((await login('pg-user', 'guess')).status, 401);
  assert.equal((await login('pg-user', 'pg-pw')).status, 201);
  const answers = await Promise.all(Array.from({ length: 12 }, () => login('pg-user', 'guess')));
  const checked = answers.filter((a) => a.body.error.message === 'The request you have made requires authentication.').length;
  assert.ok(checked <= 6, `${checked} of 12 concurrent guesses had their password checked`);
  const locked = await login('pg-user', 'pg-pw');
  assert.equal(locked.status, 401);
  assert.equal(locked.body.error.message, 'The account is locked for user: pg-user.');
});

test('ignore_lockout_failure_attempts on PostgreSQL: the bootstrap admin has it, and gets it on upgrade', async () => {
  const admin = await seed.token();
  const adminUser = (await seed.call('GET', '/identity/v3/users?name=admin', { token: admin })).body.users[0];
  assert.deepEqual(adminUser.options, { ignore_lockout_failure_attempts: true });
  for (let i = 0; i < 10; i++) assert.equal((await login('admin', 'guess')).body.error.message, 'The request you have made requires authentication.');
  assert.ok(await seed.token());
  const patched = await seed.call('PATCH', `/identity/v3/users/${adminUser.id}`, { token: admin, body: { user: { options: { ignore_lockout_failure_attempts: false } } } });
  assert.deepEqual(patched.body.user.options, { ignore_lockout_failure_attempts: false });
  await seed.call('PATCH', `/identity/v3/users/${adminUser.id}`, { token: admin, body: { user: { options: { ignore_lockout_failure_attempts: true } } } });

  // An upgrade, in a database of its own: the schema of a version without the option, then a start.
  const setup = new pgLib.Client({ connectionString: pg.url });
  await setup.connect();
  await setup.query('CREATE DATABASE upgrade_test');
  await setup.end();
  const url = pg.url.replace(/\/bootstack$/, '/upgrade_test');
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-pg-upgrade-'));
  try {
    let s = await startSeed({ services: ['identity'], database: { url } }, { stateDir });
    await s.stop();
    const db = new pgLib.Client({ connectionString: url });
    await db.connect();
    await db.query('ALTER TABLE identity_users DROP COLUMN ignore_lockout_failure_attempts');
    await db.query('DELETE FROM kysely_migration WHERE name = $1', ['identity/0003_user_ignore_lockout']);
    await db.end();
    s = await startSeed({ services: ['identity'], database: { url } }, { stateDir });
    try {
      const token = await s.token();
      assert.deepEqual((await s.call('GET', '/identity/v3/users?name=admin', { token })).body.users[0].options, { ignore_lockout_failure_attempts: true });
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('user extra attributes (migration 0004_user_extra) on PostgreSQL: stored, merged, shown', async () => {
  const admin = await seed.token();
  const made = await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'pg-extra', project_id: 'p1', tier: { level: 1 } } } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const id = made.body.user.id as string;
  const patched = await seed.call('PATCH', `/identity/v3/users/${id}`, { token: admin, body: { user: { tier: 'gold' } } });
  assert.equal(patched.status, 200);
  const shown = (await seed.call('GET', `/identity/v3/users/${id}`, { token: admin })).body.user;
  assert.equal(shown.project_id, 'p1');
  assert.equal(shown.tier, 'gold');
});
