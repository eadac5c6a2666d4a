// The qcow2 → raw conversion cache against the real qemu-img: a raw file made here is turned into
// qcow2 by qemu-img, and the cache must give back exactly the original bytes with their sha256.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { RawCache, ConversionError } from './raw-cache.js';
import { deployFormat, ImageFormatError } from './image-format.js';

const MiB = 1024 * 1024;
let dir = '';

/** A sparse raw of `mib` MiB with random data at a few places, and its qcow2. */
async function makeImage(name: string, mib: number): Promise<{ raw: string; qcow2: string; sha256: string }> {
  const raw = join(dir, `${name}.raw`);
  await writeFile(raw, '');
  await truncate(raw, mib * MiB);
  const fh = await open(raw, 'r+');
  for (const at of [0, MiB * 3, (mib - 1) * MiB]) await fh.write(randomBytes(64 * 1024), 0, 64 * 1024, at);
  await fh.close();
  const qcow2 = join(dir, `${name}.qcow2`);
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  return { raw, qcow2, sha256: createHash('sha256').update(await readFile(raw)).digest('hex') };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-raw-cache-'));
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('converts a qcow2 once: the raw has the original bytes and sha256, is sparse, and is served from the cache next time', async () => {
  const img = await makeImage('a', 16);
  const cache = new RawCache({ dir: join(dir, 'cache1'), maxBytes: 1024 * MiB });
  await cache.init();
  const first = await cache.ensure('img-a', 'c0ffee', img.qcow2);
  assert.equal(first.cached, false);
  assert.equal(first.sha256, img.sha256);
  assert.equal(first.size, 16 * MiB);
  assert.ok((await readFile(first.path)).equals(await readFile(img.raw)));
  assert.ok((await stat(first.path)).blocks * 512 < 4 * MiB, 'the raw is sparse');
  const second = await cache.ensure('img-a', 'c0ffee', img.qcow2);
  assert.equal(second.cached, true);
  assert.equal(second.sha256, img.sha256);
  assert.equal(second.path, first.path);
  // Nothing but the entry: no partials left.
  assert.deepEqual((await readdir(join(dir, 'cache1'))).sort(), ['img-a.c0ffee.json', 'img-a.c0ffee.raw']);
  // A restarted seed (new cache object) finds it without converting.
  const again = new RawCache({ dir: join(dir, 'cache1'), maxBytes: 1024 * MiB });
  await again.init();
  assert.equal((await again.ensure('img-a', 'c0ffee', img.qcow2)).cached, true);
});

test('concurrent requests for one image wait for a single conversion', async () => {
  const img = await makeImage('b', 32);
  const shim = join(dir, 'qemu-img-counting');
  const log = join(dir, 'calls.log');
  await writeFile(shim, `#!/bin/sh\necho "$1" >> ${log}\nexec qemu-img "$@"\n`, { mode: 0o755 });
  const cache = new RawCache({ dir: join(dir, 'cache2'), maxBytes: 1024 * MiB, qemuImg: shim });
  await cache.init();
  const all = await Promise.all(Array.from({ length: 5 }, () => cache.ensure('img-b', 'beef', img.qcow2)));
  assert.ok(all.every((r) => r.sha256 === img.sha256 && r.path === all[0]!.path));
  assert.equal(all.filter((r) => !r.cached).length, 5, 'all five share the one conversion result');
  assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n'), ['info', 'convert']);
});

test('LRU eviction keeps the cache under its cap; a new source checksum and a deleted image invalidate', async () => {
  const a = await makeImage('ea', 8);
  const b = await makeImage('eb', 8);
  const c = await makeImage('ec', 8);
  // The cap: room for two raws as this filesystem allocates them (measured on the first one).
  const probe = new RawCache({ dir: join(dir, 'cache3'), maxBytes: 1024 * MiB });
  await probe.init();
  await probe.ensure('ea', 'x1', a.qcow2);
  const one = (await probe.entries())[0]!.allocated;
  const cache = new RawCache({ dir: join(dir, 'cache3'), maxBytes: Math.floor(2.5 * one) });
  await new Promise((r) => setTimeout(r, 20));
  await cache.ensure('eb', 'x1', b.qcow2);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await cache.ensure('ea', 'x1', a.qcow2)).cached, true); // ea used more recently than eb
  await new Promise((r) => setTimeout(r, 20));
  await cache.ensure('ec', 'x1', c.qcow2);
  const keys = (await cache.entries()).map((e) => e.key).sort();
  assert.deepEqual(keys, ['ea.x1', 'ec.x1'], 'eb, the least recently used, was evicted');
  // A different checksum for ea (the image changed): converted again, the old raw removed.
  const fresh = await cache.ensure('ea', 'x2', b.qcow2);
  assert.equal(fresh.cached, false);
  assert.equal(fresh.sha256, b.sha256);
  assert.deepEqual((await cache.entries()).map((e) => e.key).sort(), ['ea.x2', 'ec.x1']);
  // ec deleted from the image service: prune drops it.
  assert.deepEqual(await cache.prune(async (id) => id !== 'ec'), ['ec']);
  assert.deepEqual((await cache.entries()).map((e) => e.key), ['ea.x2']);
});

test('a corrupt qcow2 fails with the image and qemu-img\'s message, leaves nothing behind; a backing file is refused', async () => {
  const img = await makeImage('bad', 8);
  const corrupt = join(dir, 'corrupt.qcow2');
  const bytes = await readFile(img.qcow2);
  bytes.fill(0xff, 8, 4096); // keep the magic, break the header (version, cluster bits, L1 table...)
  await writeFile(corrupt, bytes);
  const cache = new RawCache({ dir: join(dir, 'cache4'), maxBytes: 1024 * MiB });
  await cache.init();
  await assert.rejects(cache.ensure('bad-img', 'd00d', corrupt), (err: unknown) => {
    assert.ok(err instanceof ConversionError);
    assert.match(err.message, /^image bad-img: qemu-img (info|convert) failed: qemu-img: Could not open '<image bad-img>': \S/);
    return true;
  });
  assert.deepEqual(await readdir(join(dir, 'cache4')), []);

  const overlay = join(dir, 'overlay.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', img.raw, '-F', 'raw', overlay]);
  await assert.rejects(cache.ensure('overlay-img', 'd00d', overlay), /image overlay-img: the qcow2 has a backing file/);
  assert.deepEqual(await readdir(join(dir, 'cache4')), []);

  // 200 KiB on disk, 100 GiB once converted: refused before anything is written.
  const huge = join(dir, 'huge.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', huge, '100G']);
  const capped = new RawCache({ dir: join(dir, 'cache4'), maxBytes: 1024 * MiB, maxVirtualBytes: 50 * 1024 * MiB });
  await assert.rejects(capped.ensure('huge-img', 'd00d', huge), /image huge-img: its virtual size \(100\.0 GiB\) is over boot\.image_max_virtual_gib \(50\.0 GiB\)/);
  assert.deepEqual(await readdir(join(dir, 'cache4')), []);
});

test('deployFormat: disk_format and the file\'s magic must agree', async () => {
  const img = await makeImage('fmt', 4);
  assert.equal(await deployFormat({ id: 'i', disk_format: 'qcow2', path: img.qcow2 }), 'qcow2');
  assert.equal(await deployFormat({ id: 'i', disk_format: 'raw', path: img.raw }), 'raw');
  assert.equal(await deployFormat({ id: 'i', disk_format: null, path: img.raw }), 'raw');
  await assert.rejects(deployFormat({ id: 'i1', disk_format: 'raw', path: img.qcow2 }), (e: unknown) => e instanceof ImageFormatError && /image i1: disk_format is raw but its file is qcow2/.test(e.message));
  await assert.rejects(deployFormat({ id: 'i2', disk_format: 'qcow2', path: img.raw }), /image i2: disk_format is qcow2 but its file has no qcow2 header/);
  await assert.rejects(deployFormat({ id: 'i3', disk_format: 'vmdk', path: img.raw }), /image i3: disk_format vmdk cannot be deployed/);
});
