// The image repository and filesystem store on both engines: SQLite and a real PostgreSQL,
// including sizes above 2 GiB (bigint) and the start-up recovery of interrupted uploads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, migrate, now } from '../common/db.js';
import { startPostgres } from '../../test/support/postgres.js';
import { ImageStore, type Image } from './store.js';
import { FilesystemStore } from './file-store.js';
import { imagesMigrations } from './migrations.js';

const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];

function image(id: string, extra: Partial<Image> = {}): Image {
  const ts = now();
  return {
    id, name: `img-${id.slice(0, 4)}`, status: 'queued', visibility: 'private', owner: 'p1', disk_format: 'raw', container_format: 'bare',
    size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null, min_disk: 0, min_ram: 0,
    protected: false, os_hidden: false, tags: ['t'], properties: { k: 'v' }, created_at: ts, updated_at: ts, ...extra,
  };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`image store on ${engine}`, async (t) => {
    const pg = engine === 'postgres' ? await startPostgres() : undefined;
    const database = openDatabase(pg?.url ?? 'sqlite::memory:');
    const dir = mkdtempSync(join(tmpdir(), 'bootstack-imgstore-'));
    try {
      await migrate(database.db, { images: imagesMigrations });
      const store = new ImageStore(database.db);

      await t.test('insert, get, filter, save round-trip typed values (sizes past 2 GiB)', async () => {
        await store.insert(image(ids[0]!));
        await store.insert(image(ids[1]!, { owner: 'p2', disk_format: 'qcow2', visibility: 'public' }));
        const got = (await store.get(ids[0]!))!;
        assert.deepEqual(got.tags, ['t']);
        assert.deepEqual(got.properties, { k: 'v' });
        assert.equal(got.protected, false);
        assert.deepEqual((await store.list({ owner: 'p2' })).map((i) => i.id), [ids[1]]);
        assert.deepEqual((await store.list({ disk_format: 'raw', visibility: 'private' })).map((i) => i.id), [ids[0]]);
        assert.equal(await store.save({ ...got, name: 'renamed', protected: true }), true);
        const saved = (await store.get(ids[0]!))!;
        assert.equal(saved.name, 'renamed');
        assert.equal(saved.protected, true);
        const big = '44444444-4444-4444-8444-444444444444';
        await store.insert(image(big, { status: 'active', size: 5 * 1024 ** 3, virtual_size: 6 * 1024 ** 3 }));
        const b = (await store.get(big))!;
        assert.equal(b.size, 5 * 1024 ** 3);
        assert.equal(typeof b.size, 'number');
        assert.equal(b.virtual_size, 6 * 1024 ** 3);
        assert.equal(await store.delete(big), true);
      });

      await t.test('save never writes server-owned columns; onlyIfStatus is compare-and-set', async () => {
        const got = (await store.get(ids[0]!))!;
        assert.equal(await store.save({ ...got, status: 'active', size: 9, virtual_size: 9, checksum: 'x', os_hash_algo: 'a', os_hash_value: 'v' }), true);
        const after = (await store.get(ids[0]!))!;
        assert.deepEqual(
          [after.status, after.size, after.virtual_size, after.checksum, after.os_hash_algo, after.os_hash_value],
          ['queued', null, null, null, null, null],
        );
        assert.equal(await store.save({ ...got, name: 'cas' }, 'saving'), false);
        assert.equal((await store.get(ids[0]!))!.name, 'renamed');
        assert.equal(await store.save({ ...got, name: 'cas' }, 'queued'), true);
        assert.equal((await store.get(ids[0]!))!.name, 'cas');
      });

      await t.test('transition is compare-and-set', async () => {
        assert.equal(await store.transition(ids[1]!, 'queued', 'saving'), true);
        assert.equal(await store.transition(ids[1]!, 'queued', 'saving'), false);
        assert.equal(await store.transition(ids[1]!, 'saving', 'active', { size: 3 * 1024 ** 3, checksum: 'c', os_hash_algo: 'sha512', os_hash_value: 'h' }), true);
        const a = (await store.get(ids[1]!))!;
        assert.equal(a.status, 'active');
        assert.equal(a.size, 3 * 1024 ** 3);
        assert.deepEqual([...(await store.activeIds())], [ids[1]]);
      });

      await t.test('start-up recovery: saving goes back to queued; stray temp files and orphans are removed', async () => {
        await store.insert(image(ids[2]!));
        await store.transition(ids[2]!, 'queued', 'saving');
        const files = new FilesystemStore(join(dir, 'images'));
        await files.prepare();
        writeFileSync(join(files.dir, '.tmp', `${ids[2]}.abc.part`), 'partial');
        writeFileSync(files.path(ids[1]!), 'active bytes');
        writeFileSync(files.path(ids[2]!), 'renamed but never committed');
        mkdirSync(join(files.dir, '.tmp', 'junk'));
        assert.deepEqual(await store.resetSaving('queued'), [ids[2]]);
        assert.equal((await store.get(ids[2]!))!.status, 'queued');
        const removed = await files.sweep(await store.activeIds());
        assert.equal(removed.length, 3);
        assert.deepEqual(readdirSync(files.dir).sort(), ['.tmp', ids[1]]);
        assert.deepEqual(readdirSync(join(files.dir, '.tmp')), []);
      });

      await t.test('delete', async () => {
        assert.equal(await store.delete(ids[0]!), true);
        assert.equal(await store.delete(ids[0]!), false);
        assert.equal(await store.get(ids[0]!), undefined);
      });
    } finally {
      await database.close();
      pg?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
