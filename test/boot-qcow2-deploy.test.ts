// qcow2 deploys end to end on loopback: the REAL seed converts a qcow2 uploaded to the image
// service with the real qemu-img into its raw cache and serves the raw with its sha256; the REAL
// agent (in-process) writes it to a disk FILE. Then: the second deploy uses the cache, the
// operator's checksum of the qcow2 is accepted (a wrong one is refused), a corrupt qcow2 and a
// qcow2 labelled raw fail the deploy naming the image, and a deleted image leaves the cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeed, type TestSeed } from './support/seed.js';
import { assertInOrder } from './support/in-order.js';
import { LoopbackDeploy } from './support/loopback-deploy.js';
import { run } from '../src/common/child-process.js';

const MiB = 1024 * 1024;
let dir = '';
let seed: TestSeed;
let t: LoopbackDeploy;
let raw = Buffer.alloc(0);
let qcow2 = Buffer.alloc(0);
let imageId = '';

async function upload(name: string, diskFormat: string, bytes: Buffer): Promise<string> {
  const token = t.token;
  const created = await seed.call('POST', '/image/v2/images', { token, body: { name, disk_format: diskFormat, container_format: 'bare' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const up = await seed.call('PUT', `/image/v2/images/${created.body.id}/file`, { token, raw: bytes, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.status, 204, JSON.stringify(up.body));
  return created.body.id as string;
}

const cacheDir = () => join(dir, 'state', 'boot', 'raw-cache');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-qcow2-e2e-'));
  seed = await startSeed(
    { baremetal: { conductor: { host: 'qcow2', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } } },
    { stateDir: join(dir, 'state') },
  );
  t = new LoopbackDeploy(seed, await seed.token(), dir);
  // A 24 MiB whole-disk image, mostly holes: GPT, one partition with 4 MiB of random bytes.
  const img = join(dir, 'image.raw');
  await writeFile(img, '');
  await truncate(img, 24 * MiB);
  await run('sfdisk', ['--quiet', img], { input: 'label: gpt\nsize=20MiB, name=root\n' });
  const fh = await open(img, 'r+');
  await fh.write(randomBytes(4 * MiB), 0, 4 * MiB, 2 * MiB);
  await fh.close();
  raw = await readFile(img);
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', img, join(dir, 'image.qcow2')]);
  qcow2 = await readFile(join(dir, 'image.qcow2'));
  assert.ok(qcow2.length < 8 * MiB, 'the qcow2 is smaller than the raw');
  imageId = await upload('e2e-qcow2', 'qcow2', qcow2);
});

after(async () => {
  await seed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a qcow2 image deploys as raw: converted once on the seed, the disk starts with the raw bytes; the second deploy uses the cache', async () => {
  const mac = '52:54:00:9c:00:01';
  const m = await t.machine('q1');
  const id = await t.availableNode('qcow2-1', mac, { image_source: imageId });
  const { node, agent } = await t.deploy(id, mac, m);
  assert.equal(node.provision_state, 'active', node.last_error);
  assert.equal(agent, 'revoked');
  const disk = await readFile(m.disk);
  assert.ok(disk.subarray(0, raw.length).equals(raw), 'the disk starts with the raw image');
  assertInOrder(await t.history(id), [
    /^deploy agent looked up/,
    new RegExp(`^image e2e-qcow2 converted qcow2→raw: 24\\.0 MiB from ${(qcow2.length / MiB).toFixed(1)} MiB in \\d+\\.\\d\\d s$`),
    /^agent command write_image started$/,
    /^image .* fetched: 24\.0 MiB in /,
    /^agent command write_image succeeded: 24\.0 MiB in /,
    /^deploying -> active \(done\)$/,
  ]);
  // One entry in the cache, keyed by the image and its checksum; the raw's sha256 beside it.
  const entries = (await readdir(cacheDir())).sort();
  assert.equal(entries.length, 2, entries.join(' '));
  assert.match(entries[0]!, new RegExp(`^${imageId}\\.[0-9a-f]+\\.json$`));
  const meta = JSON.parse(await readFile(join(cacheDir(), entries[0]!), 'utf8'));
  assert.equal(meta.sha256, createHash('sha256').update(raw).digest('hex'));

  // Second node, with the operator's md5 of the qcow2 as instance_info.image_checksum: from the cache.
  const mac2 = '52:54:00:9c:00:02';
  const m2 = await t.machine('q2');
  const md5 = createHash('md5').update(qcow2).digest('hex');
  const id2 = await t.availableNode('qcow2-2', mac2, { image_source: imageId, image_checksum: md5 });
  const second = await t.deploy(id2, mac2, m2);
  assert.equal(second.node.provision_state, 'active', second.node.last_error);
  assert.ok((await readFile(m2.disk)).subarray(0, raw.length).equals(raw));
  assert.ok((await t.history(id2)).some((e) => /^image e2e-qcow2 qcow2→raw from the conversion cache: 24\.0 MiB \(converted earlier in \d+\.\d\d s\)$/.test(e)));
});

test('a wrong image_checksum, a corrupt qcow2 and a qcow2 labelled raw fail the deploy naming the image; a deleted image leaves the cache', async () => {
  const m = await t.machine('q3');
  const wrong = await t.availableNode('qcow2-wrong', '52:54:00:9c:00:03', { image_source: imageId, image_checksum: 'ab'.repeat(16) });
  const r1 = await t.deploy(wrong, '52:54:00:9c:00:03', m);
  assert.equal(r1.node.provision_state, 'deploy failed');
  assert.match(r1.node.last_error, new RegExp(`instance_info\\.image_checksum abab.* does not match image ${imageId} \\(qcow2\\)`));

  const broken = Buffer.from(qcow2);
  broken.fill(0xff, 8, 4096); // the header after the magic: cluster bits, L1 table, refcounts...
  const corruptId = await upload('corrupt-qcow2', 'qcow2', broken);
  // Deleting the first image: the next qcow2 deploy drops its raw from the cache.
  assert.equal((await seed.call('DELETE', `/image/v2/images/${imageId}`, { token: t.token })).status, 204);
  const bad = await t.availableNode('qcow2-corrupt', '52:54:00:9c:00:04', { image_source: corruptId });
  const r2 = await t.deploy(bad, '52:54:00:9c:00:04', m);
  assert.equal(r2.node.provision_state, 'deploy failed');
  assert.match(r2.node.last_error, new RegExp(`^Deploy failed for node ${bad}: image ${corruptId}: qemu-img (info|convert) failed: qemu-img: .*`));
  assert.doesNotMatch(r2.node.last_error, /state\/images/, 'no seed paths in last_error');
  assert.deepEqual(await readdir(cacheDir()), [], 'the deleted image\'s raw is gone and the failed conversion left nothing');

  const liar = await upload('lying-raw', 'raw', qcow2);
  const lying = await t.availableNode('qcow2-as-raw', '52:54:00:9c:00:05', { image_source: liar });
  const r3 = await t.deploy(lying, '52:54:00:9c:00:05', m);
  assert.equal(r3.node.provision_state, 'deploy failed');
  assert.match(r3.node.last_error, new RegExp(`image ${liar}: disk_format is raw but its file is qcow2; set disk_format to qcow2`));
});
