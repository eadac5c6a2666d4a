// Bootstrap's crash safety: the admin password file is written before the admin user, and a
// start that finds the file but no admin (a crash in between) creates the admin with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import pino from 'pino';
import { openDatabase, migrate } from '../common/db.js';
import { IdentityStore } from './store.js';
import { identityMigrations } from './migrations.js';
import { verifyPassword } from './passwords.js';
import { bootstrap } from './bootstrap.js';

const log = pino({ level: 'silent' });

test('bootstrap: admin-password present but no admin user → admin is created with that password, clouds.yaml written', async () => {
  const database = openDatabase('sqlite::memory:');
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-bootstrap-'));
  try {
    await migrate(database.db, { identity: identityMigrations });
    const store = new IdentityStore(database.db);
    writeFileSync(join(dir, 'admin-password'), 'left-by-a-crash\n', { mode: 0o600 });
    const res = await bootstrap(store, dir, 'http://127.0.0.1:1234', log);
    assert.equal(res.created, true);
    const admin = (await store.getUserByName('admin', 'default'))!;
    assert.ok(admin);
    assert.equal(await verifyPassword('left-by-a-crash', admin.password_hash), true);
    assert.equal(readFileSync(join(dir, 'admin-password'), 'utf8'), 'left-by-a-crash\n');
    const clouds = parse(readFileSync(join(dir, 'clouds.yaml'), 'utf8'));
    assert.equal(clouds.clouds.bootstack.auth.password, 'left-by-a-crash');
    assert.equal(statSync(join(dir, 'clouds.yaml')).mode & 0o777, 0o600);

    // A second start keeps the same admin and password.
    const again = await bootstrap(store, dir, 'http://127.0.0.1:5678', log);
    assert.equal(again.created, false);
    assert.equal(parse(readFileSync(join(dir, 'clouds.yaml'), 'utf8')).clouds.bootstack.auth.password, 'left-by-a-crash');
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bootstrap: a fresh state dir gets the password file before the admin user exists', async () => {
  const database = openDatabase('sqlite::memory:');
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-bootstrap-'));
  try {
    await migrate(database.db, { identity: identityMigrations });
    const store = new IdentityStore(database.db);
    let fileWhenUserCreated: string | undefined;
    const createUser = store.createUser.bind(store);
    store.createUser = async (input) => {
      fileWhenUserCreated = readFileSync(join(dir, 'admin-password'), 'utf8').trim();
      return createUser(input);
    };
    const res = await bootstrap(store, dir, 'http://127.0.0.1:1234', log);
    assert.equal(res.created, true);
    assert.ok(fileWhenUserCreated && fileWhenUserCreated.length >= 16);
    assert.equal(statSync(join(dir, 'admin-password')).mode & 0o777, 0o600);
    const admin = (await store.getUserByName('admin', 'default'))!;
    assert.equal(await verifyPassword(fileWhenUserCreated, admin.password_hash), true);
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
