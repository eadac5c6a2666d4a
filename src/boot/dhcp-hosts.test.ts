// The hosts directory's queue: concurrent add/remove/sync end in the state of the last call
// (a deleted MAC's file is never resurrected), sync rewrites only files that differ, and a
// removal asks dnsmasq to reload only when something was removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DhcpHostsDir } from './dhcp-hosts.js';

async function withDir(fn: (h: DhcpHostsDir, dir: string, reloads: () => number) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-hosts-'));
  let reloads = 0;
  const h = new DhcpHostsDir(join(dir, 'hosts'), () => reloads++);
  await h.init();
  try {
    await fn(h, h.dir, () => reloads);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const files = async (dir: string) => (await readdir(dir)).sort();
const mac = (i: number) => `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

test('add then remove fired together: the file is gone, whatever the interleaving', async () => {
  await withDir(async (h, dir) => {
    for (let round = 0; round < 50; round++) {
      const m = mac(round);
      // Not awaited in between: both in flight at once, as two concurrent API requests.
      const ops = [h.add({ mac: m }), h.remove(m), h.add({ mac: mac(1000 + round) }), h.sync([{ mac: mac(1000 + round) }, { mac: m }]), h.remove(m)];
      await Promise.all(ops);
      assert.ok(!(await files(dir)).includes(m.replace(/:/g, '-')), `round ${round}: ${m} resurrected`);
    }
    assert.ok(!(await files(dir)).some((f) => f.startsWith('.')), 'no temporary files left');
  });
});

test('sync leaves identical files alone, removes strays (one reload), adds the missing', async () => {
  await withDir(async (h, dir, reloads) => {
    const entries = Array.from({ length: 20 }, (_, i) => ({ mac: mac(i) }));
    await h.sync(entries);
    assert.equal(h.stats.writes, 20);
    const inode = (await stat(join(dir, '52-54-00-00-00-05'))).ino;
    await h.sync(entries);
    assert.equal(h.stats.writes, 20, 'a second sync with the same entries writes nothing');
    assert.equal((await stat(join(dir, '52-54-00-00-00-05'))).ino, inode);
    assert.equal(reloads(), 0);
    await h.sync([...entries.slice(2), { mac: mac(99) }]);
    assert.equal(h.stats.writes, 21);
    assert.equal(h.stats.unlinks, 2);
    assert.equal(reloads(), 1);
    assert.deepEqual(await h.list(), [...entries.slice(2).map((e) => e.mac), mac(99)].sort());
  });
});

test('remove of an absent MAC does not reload; an invalid MAC is refused before anything is queued', async () => {
  await withDir(async (h, _dir, reloads) => {
    await h.remove(mac(7));
    assert.equal(reloads(), 0);
    await h.add({ mac: mac(7) });
    await h.remove(mac(7));
    assert.equal(reloads(), 1);
    assert.throws(() => h.add({ mac: 'nope' }), /"nope" is not a MAC address/);
  });
});
