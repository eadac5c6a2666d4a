// The storage layer on both engines: migrations run once and in order, JSON/boolean/timestamp
// columns round-trip identically, and a failed transaction leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openDatabase, migrate, toJson, fromJson, now, withStatementCache, type Database, type ServiceMigration } from './db.js';
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

test('SQLite statements are prepared once per SQL text, bounded, fresh while one is iterating, and follow schema changes', async () => {
  const sqlite = new SQLite(':memory:');
  let prepared = 0;
  const counting = new Proxy(sqlite, {
    get(target, key) {
      if (key === 'prepare') return (text: string) => (prepared++, target.prepare(text));
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const cached = withStatementCache(counting, 3);
  cached.prepare('create table t (a integer)').run();
  const insert = cached.prepare('insert into t (a) values (?)');
  for (let i = 0; i < 5; i++) cached.prepare('insert into t (a) values (?)').run(i);
  assert.equal(prepared, 2, 'the insert was prepared once');
  assert.equal(cached.prepare('insert into t (a) values (?)'), insert);

  // A select still being iterated is busy: the same text gets a fresh statement meanwhile.
  const select = 'select a from t order by a';
  const outer = cached.prepare(select).iterate() as IterableIterator<{ a: number }>;
  assert.equal(outer.next().value?.a, 0);
  assert.deepEqual((cached.prepare(select).all() as Array<{ a: number }>).map((r) => r.a), [0, 1, 2, 3, 4]);
  assert.deepEqual([...outer].map((r) => r.a), [1, 2, 3, 4]);

  // Bounded: the least recently used text goes; its next use prepares again.
  for (const n of [1, 2, 3]) cached.prepare(`select ${n}`).get();
  assert.equal(cached.cached, 3);
  const before = prepared;
  cached.prepare('insert into t (a) values (?)').run(9);
  assert.equal(prepared, before + 1, 'evicted statement prepared again');

  // A schema change under a cached statement: SQLite re-prepares it itself.
  const count = 'select * from t where a = ?';
  assert.deepEqual(cached.prepare(count).get(9), { a: 9 });
  cached.prepare('alter table t add column b text').run();
  assert.deepEqual(cached.prepare(count).get(9), { a: 9, b: null });
  cached.close();
});

test('Kysely runs its migrations, writes and reads through the statement cache openDatabase sets up', async () => {
  const database = openDatabase('sqlite::memory:');
  try {
    await migrate(database.db, { demo: migrations });
    for (let i = 0; i < 3; i++) {
      await database.db.insertInto('demo_things').values({ id: `t${i}`, name: `n${i}`, enabled: 1, created_at: now() }).execute();
    }
    const rows = await database.db.selectFrom('demo_things').select('name').orderBy('name').execute();
    assert.deepEqual(rows.map((r) => r.name), ['n0', 'n1', 'n2']);
  } finally {
    await database.close();
  }
});
