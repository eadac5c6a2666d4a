// The sparse image transfer end to end on loopback: the seed's extent scan and sparse answer
// (src/boot/extent-map.ts) served to the agent's writeImage, which writes the data extents,
// zeroes the runs between them on a disk file full of garbage, and verifies the logical checksum.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { scanExtents, sparseResponse, ExtentMapCache } from '../src/boot/extent-map.js';
import { run } from '../src/common/child-process.js';
import { SPARSE, TRANSFER_HEADER, type ExtentMap } from '../src/common/sparse-image.js';
import { writeImage, ImageWriteError } from '../src/agents/deploy-agent/write-image.js';

const MiB = 1024 * 1024;
let dir = '';
let server: Server;
let base = '';
let image = '';
let corrupt = '';
let sha = '';
let map: ExtentMap;
const SIZE = 40 * MiB + 12_345; // not a multiple of the scan's grain

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-sparse-'));
  image = join(dir, 'image.raw');
  await writeFile(image, '');
  await truncate(image, SIZE);
  const fh = await open(image, 'r+');
  await fh.write(randomBytes(MiB), 0, MiB, 0);
  await fh.write(randomBytes(100), 0, 100, MiB + 256 * 1024); // a 256 KiB zero run before it stays data
  await fh.write(randomBytes(3 * MiB), 0, 3 * MiB, 20 * MiB);
  await fh.write(randomBytes(10), 0, 10, SIZE - 10);
  await fh.close();
  sha = createHash('sha256').update(await readFile(image)).digest('hex');
  map = await scanExtents(image);
  // The same map, but one byte of a data extent differs: what a corrupted transfer would carry.
  corrupt = join(dir, 'corrupt.raw');
  await writeFile(corrupt, await readFile(image));
  const c = await open(corrupt, 'r+');
  await c.write(Buffer.from([0x55]), 0, 1, 21 * MiB + 3);
  await c.close();

  server = createServer((req, res) => {
    const path = req.url === '/corrupt' ? corrupt : image;
    if (req.headers[TRANSFER_HEADER] === SPARSE) {
      const r = sparseResponse(path, map);
      res.writeHead(200, r.headers);
      r.stream.pipe(res);
    } else {
      res.writeHead(200, { 'content-length': SIZE });
      void readFile(path).then((b) => res.end(b));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A disk file full of random bytes: every zero of the image must be written, not assumed. */
async function garbageDisk(name: string, bytes: number): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, randomBytes(bytes));
  return p;
}

test('the seed maps data and zero runs (runs under 1 MiB stay data; the odd tail is data)', () => {
  assert.equal(map.size, SIZE);
  assert.deepEqual(map.extents, [
    [0, MiB + 320 * 1024], // 1 MiB random, 256 KiB zeros, the 64 KiB block holding 100 bytes
    [20 * MiB, 3 * MiB],
    [SIZE - 12_345, 12_345], // the last, partial block
  ]);
});

test('a raw made by qemu-img (sparse, holes on disk, as in the conversion cache) maps the same; maps are cached per file version', async () => {
  const qcow2 = join(dir, 'image.qcow2');
  const back = join(dir, 'back.raw');
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', image, qcow2]);
  await run('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', qcow2, back]);
  const maps = new ExtentMapCache();
  const first = await maps.get(back);
  // qemu-img rounds the size up to whole 512-byte sectors (zeros): the last extent grows with it.
  const rounded = Math.ceil(SIZE / 512) * 512;
  assert.deepEqual({ size: first.size, extents: first.extents }, { size: rounded, extents: [...map.extents.slice(0, -1), [SIZE - 12_345, rounded - SIZE + 12_345]] });
  assert.equal(await maps.get(back), first, 'the same file version is not scanned again');
  const fh = await open(back, 'r+');
  await fh.write(Buffer.from('x'), 0, 1, 10 * MiB); // a changed file (new mtime) is scanned again
  await fh.close();
  const changed = await maps.get(back);
  assert.notEqual(changed, first);
  assert.deepEqual(changed.extents[1], [10 * MiB, 64 * 1024]);
});

test('sparse transfer: only the data is downloaded, the zero runs are zeroed over garbage, checksum verified', async () => {
  const disk = await garbageDisk('disk1.raw', SIZE + 2 * MiB);
  const tail = (await readFile(disk)).subarray(SIZE);
  const r = await writeImage({ url: `${base}/image`, device: disk, checksum: sha, algo: 'sha256' });
  assert.equal(r.transfer, 'sparse');
  assert.equal(r.bytes, SIZE);
  assert.equal(r.checksum, sha);
  assert.equal(r.zero_bytes, SIZE - (MiB + 320 * 1024) - 3 * MiB - 12_345);
  assert.ok(r.downloaded_bytes < 5 * MiB, `downloaded ${r.downloaded_bytes} bytes`);
  assert.deepEqual(r.zeroed_with, ['write']); // a regular file: written zeros
  const written = await readFile(disk);
  assert.ok(written.subarray(0, SIZE).equals(await readFile(image)), 'the disk holds the logical image');
  assert.ok(written.subarray(SIZE).equals(tail), 'nothing past the image is touched');
});

test('a corrupted data range fails with the checksum error and wipes the start', async () => {
  const disk = await garbageDisk('disk2.raw', SIZE + MiB);
  await assert.rejects(
    writeImage({ url: `${base}/corrupt`, device: disk, checksum: sha, algo: 'sha256' }),
    (e: unknown) => e instanceof ImageWriteError && e.code === 'checksum_mismatch' && /sha256 checksum mismatch: expected/.test(e.message),
  );
  assert.ok((await readFile(disk)).subarray(0, MiB).equals(Buffer.alloc(MiB)));
});

test('without the sparse answer (an older seed) the full image is streamed as before', async () => {
  const disk = await garbageDisk('disk3.raw', SIZE);
  const r = await writeImage({ url: `${base}/image`, device: disk, checksum: sha, algo: 'sha256', sparse: false });
  assert.equal(r.transfer, 'full');
  assert.equal(r.downloaded_bytes, SIZE);
  assert.ok((await readFile(disk)).equals(await readFile(image)));
});

test('an image larger than the disk is refused from its map', async () => {
  const disk = await garbageDisk('small.raw', 10 * MiB);
  await assert.rejects(writeImage({ url: `${base}/image`, device: disk, checksum: sha, algo: 'sha256' }), (e: unknown) => e instanceof ImageWriteError && e.code === 'image_too_large');
});
