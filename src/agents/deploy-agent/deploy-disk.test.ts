// The agent's disk commands against a disk FILE standing in for the block device, with images
// served by a local HTTP server on 127.0.0.1; results checked with sfdisk, sgdisk, blkid, mtools
// and fsck.vfat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile, open, truncate, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { run } from '../../common/child-process.js';
import { writeImage, ImageWriteError } from './write-image.js';
import { eraseDevice } from './erase.js';
import { readPartitionTable, MiB } from './disk.js';
import { COMMANDS, type AgentContext } from './commands.js';
import { checkCommandResult } from '../../common/agent-protocol-check.js';

let dir = '';
let server: Server;
let base = '';
let wholeDisk = '';
let wholeSha = '';
let partImage = '';
let partSha = '';

async function sha256File(path: string, length?: number): Promise<string> {
  const h = createHash('sha256');
  const size = length ?? (await stat(path)).size;
  if (size === 0) return h.digest('hex');
  for await (const c of createReadStream(path, { start: 0, end: size - 1 })) h.update(c as Buffer);
  return h.digest('hex');
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, offset);
    return b;
  } finally {
    await fh.close();
  }
}

async function newDisk(name: string, size: number): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, '');
  await truncate(p, size);
  return p;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deploy-agent-disk-'));
  // A whole-disk image: 24 MiB, GPT with one partition full of random data.
  wholeDisk = join(dir, 'whole.raw');
  await writeFile(wholeDisk, '');
  await truncate(wholeDisk, 24 * MiB);
  await run('sfdisk', ['--quiet', wholeDisk], { input: 'label: gpt\nsize=20MiB, name=root\n' });
  const fh = await open(wholeDisk, 'r+');
  for (let i = 0; i < 20; i += 3) await fh.write(randomBytes(MiB), 0, MiB, MiB + i * MiB);
  await fh.close();
  wholeSha = await sha256File(wholeDisk);
  // A partition image: 10 MiB + 123 bytes of random data (not a multiple of anything).
  partImage = join(dir, 'part.img');
  await writeFile(partImage, randomBytes(10 * MiB + 123));
  partSha = await sha256File(partImage);
  await writeFile(join(dir, 'fake.qcow2'), Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(1000)]));

  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    const path = join(dir, name);
    stat(path).then(
      (st) => {
        res.writeHead(200, { 'content-length': st.size });
        createReadStream(path).pipe(res);
      },
      () => {
        res.writeHead(404).end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('whole-disk image: bytes written as they are, checksum verified, config drive appended and readable', async () => {
  const disk = await newDisk('disk1.raw', 128 * MiB);
  const ctx: AgentContext = { root: dir };
  const r = (await COMMANDS.write_image!({ image_url: `${base}/whole.raw`, checksum: wholeSha, checksum_algo: 'sha256', device: disk }, ctx)) as { bytes: number; mb_per_s: number; checksum: string };
  checkCommandResult('write_image', r); // what the agent reports is what the protocol declares
  assert.equal(r.bytes, 24 * MiB);
  assert.equal(r.checksum, wholeSha);
  assert.ok(r.mb_per_s > 0);
  assert.equal(await sha256File(disk, 24 * MiB), wholeSha);

  const meta = { uuid: 'b6f2a1c0-0000-4000-8000-000000000001', hostname: 'node-1', public_keys: { default: 'ssh-ed25519 AAAAC3Nza test@bootstack' } };
  const cd = (await COMMANDS.write_config_drive!({ meta_data: meta, user_data: '#!/bin/sh\necho hi\n', network_data: { links: [], networks: [], services: [] } }, ctx)) as {
    partition: { start: number; size: number };
  };
  checkCommandResult('write_config_drive', cd);
  // The appended partition is in the last 64 MiB, the GPT is valid and partition 1 untouched.
  assert.equal(cd.partition.size, 64 * MiB);
  assert.ok(cd.partition.start >= 24 * MiB && cd.partition.start + cd.partition.size <= 128 * MiB);
  const v = await run('sgdisk', ['-v', disk]);
  assert.match(v.stdout, /No problems found/);
  const table = await readPartitionTable(disk);
  assert.equal(table?.partitions.length, 2);
  assert.equal(table?.partitions[1]?.name, 'config-2');
  // Moving the backup GPT rewrote the headers, not the data: partition 1 is byte for byte the image's.
  assert.ok((await readAt(disk, MiB, 20 * MiB)).equals(await readAt(wholeDisk, MiB, 20 * MiB)));

  const blkid = await run('blkid', ['-p', '-O', String(cd.partition.start), '-o', 'export', disk]);
  assert.match(blkid.stdout, /^LABEL=config-2$/m);
  assert.match(blkid.stdout, /^TYPE=vfat$/m);
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  const img = `${disk}@@${cd.partition.start}`;
  const listing = await run('mdir', ['-b', '-i', img, '::openstack/latest'], { env });
  for (const f of ['meta_data.json', 'network_data.json', 'user_data']) assert.ok(listing.stdout.includes(`/openstack/latest/${f}`), listing.stdout);
  const got = await run('mtype', ['-i', img, '::openstack/latest/meta_data.json'], { env });
  assert.deepEqual(JSON.parse(got.stdout), meta);
  // fsck.vfat has no offset option: check a copy of the partition.
  const part = join(dir, 'cd-copy.img');
  await writeFile(part, await readAt(disk, cd.partition.start, cd.partition.size));
  const fsck = await run('fsck.vfat', ['-n', part], { allowFailure: true });
  assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
});

test('partition image: GPT with root and config-2, image bytes at the root partition', async () => {
  const disk = await newDisk('disk2.raw', 128 * MiB);
  const ctx: AgentContext = { root: dir };
  const md5 = createHash('md5').update(await readFile(partImage)).digest('hex');
  const r = (await COMMANDS.write_image!(
    { image_url: `${base}/part.img`, checksum: md5, checksum_algo: 'md5', device: disk, image_type: 'partition', image_size: 10 * MiB + 123, root_mb: 16 },
    ctx,
  )) as { root_partition: { start: number; size: number }; config_drive_partition: { start: number } };
  assert.equal(r.root_partition.size, 16 * MiB);
  const table = await readPartitionTable(disk);
  assert.equal(table?.label, 'gpt');
  assert.deepEqual(table?.partitions.map((p) => p.name), ['root', 'config-2']);
  const written = await readAt(disk, r.root_partition.start, 10 * MiB + 123);
  assert.equal(createHash('sha256').update(written).digest('hex'), partSha);
  await COMMANDS.write_config_drive!({ meta_data: { hostname: 'p' } }, ctx);
  const blkid = await run('blkid', ['-p', '-O', String(r.config_drive_partition.start), '-o', 'export', disk]);
  assert.match(blkid.stdout, /^LABEL=config-2$/m);
});

test('a checksum mismatch fails and leaves nothing bootable; qcow2, 404 and too-large images are refused', async () => {
  const disk = await newDisk('disk3.raw', 64 * MiB);
  await assert.rejects(
    writeImage({ url: `${base}/whole.raw`, device: disk, checksum: '0'.repeat(64), algo: 'sha256' }),
    (e: unknown) => e instanceof ImageWriteError && e.code === 'checksum_mismatch' && /expected 0{64}, image has [0-9a-f]{64}/.test(e.message),
  );
  assert.ok((await readAt(disk, 0, MiB)).equals(Buffer.alloc(MiB)));
  const ctx: AgentContext = { root: dir };
  await assert.rejects(
    COMMANDS.write_image!({ image_url: `${base}/fake.qcow2`, checksum: 'x', device: disk }, ctx),
    (e: unknown) => e instanceof ImageWriteError && e.code === 'unsupported_format',
  );
  await assert.rejects(writeImage({ url: `${base}/missing`, device: disk, checksum: 'x', algo: 'md5' }), /HTTP 404/);
  const small = await newDisk('small.raw', 8 * MiB);
  await assert.rejects(
    writeImage({ url: `${base}/whole.raw`, device: small, checksum: wholeSha, algo: 'sha256' }),
    (e: unknown) => e instanceof ImageWriteError && e.code === 'image_too_large',
  );
});

test('erase removes signatures and both GPT copies', async () => {
  const disk = await newDisk('disk4.raw', 128 * MiB);
  await writeImage({ url: `${base}/whole.raw`, device: disk, checksum: wholeSha, algo: 'sha256' });
  await COMMANDS.write_config_drive!({ meta_data: { hostname: 'e' } }, { root: dir, device: disk });
  assert.ok(await readPartitionTable(disk));
  const r = await eraseDevice(disk);
  assert.equal(r.wipefs, true);
  assert.equal(await readPartitionTable(disk), null);
  const probe = await run('wipefs', ['--no-act', disk]);
  assert.equal(probe.stdout.trim(), '');
  assert.ok((await readAt(disk, 0, MiB)).equals(Buffer.alloc(MiB)));
  assert.ok((await readAt(disk, 127 * MiB, MiB)).equals(Buffer.alloc(MiB)));
  assert.equal((await run('blkid', ['-p', disk], { allowFailure: true })).code, 2);
});
