// The storage layer on both engines: migrations run once and in order, JSON/boolean/timestamp
// columns round-trip identically, and a failed transaction leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, migrate, toJson, fromJson, now, type Database, type ServiceMigration } from './db.js';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';

const migrations: ServiceMigration[] = [
  {
    name: '0001_things',
    async up(db) {
      await db.schema
        .createTable('demo_things')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('extra', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    name: '0002_size',
    async up(db) {
      await db.schema.alterTable('demo_things').addColumn('size', 'bigint').execute();
    },
  },
];

let pg: TestPostgres;
const tmp = mkdtempSync(join(tmpdir(), 'bootstack-db-'));
before(async () => {
  pg = await startPostgres();
});
after(() => {
  pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function engines(): Array<[string, () => string]> {
  return [
    ['sqlite', () => `sqlite:${join(tmp, 'test.sqlite')}`],
    ['postgres', () => pg.url],
  ];
}

for (const [engine, url] of engines()) {
  test(`${engine}: migrations run once, in order, per service`, async () => {
    const database: Database = openDatabase(url());
    try {
      assert.deepEqual(await migrate(database.db, { demo: migrations }), ['demo/0001_things', 'demo/0002_size']);
      assert.deepEqual(await migrate(database.db, { demo: migrations }), []);
    } finally {
      await database.close();
    }
  });

  test(`${engine}: values round-trip the same way`, async () => {
    const database = openDatabase(url());
    try {
      await migrate(database.db, { demo: migrations });
      const created = now();
      const big = 5 * 1024 ** 3;
      await database.db
        .insertInto('demo_things')
        .values({ id: 'a', name: 'alpha', extra: toJson({ nested: [1, 'two'] }), enabled: 1, created_at: created, size: big })
        .execute();
      const row = await database.db.selectFrom('demo_things').selectAll().where('id', '=', 'a').executeTakeFirstOrThrow();
      assert.deepEqual(fromJson(row.extra, null), { nested: [1, 'two'] });
      assert.equal(Number(row.enabled), 1);
      assert.equal(row.created_at, created);
      assert.equal(Number(row.size), big);
    } finally {
      await database.close();
    }
  });

  test(`${engine}: a failed transaction leaves nothing behind`, async () => {
    const database = openDatabase(url());
    try {
      await migrate(database.db, { demo: migrations });
      await assert.rejects(
        database.db.transaction().execute(async (trx) => {
          await trx.insertInto('demo_things').values({ id: 'b', name: 'beta', enabled: 0, created_at: now() }).execute();
          // Unique name violation: the whole transaction must roll back, including 'b'.
          await trx.insertInto('demo_things').values({ id: 'c', name: 'alpha', enabled: 0, created_at: now() }).execute();
        }),
      );
      const ids = (await database.db.selectFrom('demo_things').select('id').execute()).map((r) => r.id);
      assert.deepEqual(ids, ['a']);
    } finally {
      await database.close();
    }
  });
}

test('a failing migration is reported with its name', async () => {
  const database = openDatabase('sqlite::memory:');
  try {
    await assert.rejects(
      migrate(database.db, {
        broken: [{ name: '0001_bad', up: async (db) => void (await db.schema.alterTable('missing').addColumn('x', 'text').execute()) }],
      }),
      /broken\/0001_bad failed/,
    );
  } finally {
    await database.close();
  }
});
