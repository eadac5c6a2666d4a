// The boot service's durable deploy state on both databases (SQLite file and a throwaway
// PostgreSQL): secrets as digests with a compare-and-set use, and a second process's restore of
// sessions and commands (the agent token still authenticates; a running command is marked
// interrupted and its failure names the restart; a queued one fails; a succeeded one is claimable).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, migrate, type Database } from '../src/common/db.js';
import { migrations, typed } from '../src/boot/db.js';
import { BootSecrets, DbBootSecretStore, hashSecret } from '../src/boot/boot-secrets.js';
import { MemoryDeployCommands } from '../src/boot/deploy-commands.js';
import { DbBootStore, DbDeployStateStore } from '../src/boot/deploy-store.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'bootstack-boot-db-'));
let pg: TestPostgres | undefined;
after(() => {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function exercise(url: string): Promise<void> {
  const open = async (): Promise<Database> => {
    const d = openDatabase(url);
    await migrate(d.db, { boot: migrations });
    return d;
  };
  const first = await open();
  const db = typed(first.db);
  const secrets = new BootSecrets(new DbBootSecretStore(db), 60_000);
  const { secret } = await secrets.issue('n1');
  const another = await secrets.issueAnother('n1', Date.now() + 60_000);
  const rows = await db.selectFrom('boot_secrets').selectAll().execute();
  assert.deepEqual(rows.map((r) => r.hash).sort(), [hashSecret(secret), hashSecret(another)].sort(), 'only digests stored');
  // Two lookups at once with the same secret: exactly one wins; the other secret is then revoked.
  const outcomes = await Promise.allSettled([secrets.consume(secret), secrets.consume(secret)]);
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  await assert.rejects(secrets.consume(another), /Unknown boot secret/);

  const boot = new DbBootStore(db);
  await boot.putPending({ nodeId: 'n1', macs: ['52:54:00:00:00:01'], firmware: 'uefi', expiresAt: new Date(Date.now() + 60_000) });
  await boot.putGrant(hashSecret('grant-token'), 'n1', 'img-1');

  const c1 = new MemoryDeployCommands({}, new DbDeployStateStore(db));
  const token = c1.openSession('n1');
  const done = c1.enqueue('n1', 'write_image', { image_url: 'http://seed/boot/images/SECRETTOKEN0123456789', checksum: 'abc' });
  assert.equal(c1.next('n1')?.id, done.id);
  c1.report('n1', done.id, { status: 'succeeded', result: { bytes: 42 } });
  const running = c1.enqueue('n1', 'write_config_drive', { meta_data: { uuid: 'n1' } });
  c1.next('n1');
  const queued = c1.enqueue('n1', 'sync');
  c1.heartbeat('n1', { command: 'write_config_drive' });
  await c1.flush();
  const stored = await db.selectFrom('boot_commands').select('params').execute();
  assert.ok(!stored.some((r) => r.params.includes('SECRETTOKEN')), 'no download token in stored params');
  await first.close();

  // A new process on the same database.
  const second = await open();
  const db2 = typed(second.db);
  const c2 = new MemoryDeployCommands({}, new DbDeployStateStore(db2));
  assert.deepEqual(await c2.restore(), { sessions: 1, commands: 3 });
  c2.authenticate('n1', token);
  assert.throws(() => c2.authenticate('n1', 'not-the-token'), /Invalid agent token/);
  assert.ok(c2.session('n1')?.lastActivity instanceof Date);
  assert.equal(c2.get(queued.id)?.status, 'failed');
  assert.match(c2.get(queued.id)?.error ?? '', /the seed restarted before the agent took sync/);
  assert.equal(c2.get(running.id)?.interrupted, true);
  const claimed = c2.claimRestored('n1', 'write_image');
  assert.equal(claimed?.status, 'succeeded');
  assert.deepEqual(claimed?.result, { bytes: 42 });
  assert.equal(c2.claimRestored('n1', 'write_image'), undefined, 'claimed once');
  const r = c2.report('n1', running.id, { status: 'failed', error: 'writing http://seed/boot/images/AAAAAAAAAAAAAAAAAAAAAA failed' });
  assert.equal(r.error, 'the seed restarted during write_config_drive: writing http://seed/boot/images/*** failed');
  const store2 = new DbBootStore(db2);
  assert.deepEqual((await store2.loadPending()).map((p) => [p.nodeId, p.macs, p.firmware]), [['n1', ['52:54:00:00:00:01'], 'uefi']]);
  assert.deepEqual(await store2.getGrant(hashSecret('grant-token')), { nodeId: 'n1', imageId: 'img-1' });
  // The deploy ends: nothing of it stays.
  c2.end('n1');
  await c2.flush();
  await store2.deleteNode('n1');
  for (const t of ['boot_sessions', 'boot_commands', 'boot_pending', 'boot_image_grants'] as const) {
    assert.equal((await db2.selectFrom(t).selectAll().execute()).length, 0, `${t} emptied`);
  }
  await second.close();
}

test('SQLite: digests only, one winner per secret, sessions and commands restored by the next process', async () => {
  await exercise(`sqlite:${join(dir, 'boot.sqlite')}`);
});

test('PostgreSQL: the same', { timeout: 120_000 }, async () => {
  pg = await startPostgres();
  await exercise(pg.url);
});
