// The image facade without HTTP: visibility and policy per caller, listing filters, sorting and
// paging, JSON patch, and the upload workflow (statuses, checksums, failures).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openDatabase, migrate, type Database } from '../common/db.js';
import { Policy, type AuthContext } from '../common/auth.js';
import { ImageStore } from './store.js';
import { FilesystemStore } from './file-store.js';
import { ImagesService, imagesPolicy } from './images.js';
import { imagesMigrations } from './migrations.js';
import { ImageFiles } from './index.js';

const who = (userName: string, projectId: string, roles: string[]): AuthContext => ({
  userId: `u-${userName}`, userName, domainId: 'default', projectId, projectName: projectId, roles, tokenExpiresAt: '2999-01-01T00:00:00Z',
});
const admin = who('admin', 'p-admin', ['admin', 'member', 'reader']);
const alice = who('alice', 'p-a', ['member', 'reader']);
const reader = who('rita', 'p-a', ['reader']);
const bob = who('bob', 'p-b', ['member', 'reader']);

let database: Database;
let dir: string;
let images: ImagesService;
let files: FilesystemStore;
let store: ImageStore;

before(async () => {
  database = openDatabase('sqlite::memory:');
  await migrate(database.db, { images: imagesMigrations });
  dir = mkdtempSync(join(tmpdir(), 'bootstack-images-'));
  const policy = new Policy();
  policy.add(imagesPolicy);
  store = new ImageStore(database.db);
  files = new FilesystemStore(join(dir, 'images'));
  images = new ImagesService(store, files, policy, 10 * 1024 * 1024);
});
after(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

test('create: owner defaults to the caller project, visibility to shared; custom properties kept', async () => {
  const img = await images.create(alice, { name: 'a1', disk_format: 'raw', container_format: 'bare', hw_arch: 'x86_64' });
  assert.equal(img.owner, 'p-a');
  assert.equal(img.visibility, 'shared');
  assert.equal(img.status, 'queued');
  assert.deepEqual(img.properties, { hw_arch: 'x86_64' });
  assert.equal((await images.get(alice, img.id)).name, 'a1');
});

test('policy: a reader may not create or delete; only an admin publishes; no one sets read-only attributes', async () => {
  await assert.rejects(images.create(reader, { name: 'r' }), { status: 403 });
  const img = await images.create(alice, { name: 'del-me' });
  await assert.rejects(images.delete(reader, img.id), { status: 403 });
  await assert.rejects(images.create(alice, { name: 'pub', visibility: 'public' }), { status: 403 });
  await assert.rejects(images.create(alice, { name: 'own', owner: 'p-b' }), { status: 403 });
  await assert.rejects(images.create(alice, { name: 'x', status: 'active' }), (e: Error & { status: number; fields: { path: string } }) => e.status === 403 && e.fields.path === 'body.status');
  const pub = await images.create(admin, { name: 'pub', visibility: 'public' });
  assert.equal(pub.visibility, 'public');
  await images.delete(alice, img.id);
  await assert.rejects(images.get(alice, img.id), { status: 404 });
});

test('visibility: other projects see public and (when asked) community images, never private or shared ones', async () => {
  const priv = await images.create(alice, { name: 'vis-private', visibility: 'private' });
  const comm = await images.create(alice, { name: 'vis-community', visibility: 'community' });
  const names = async (auth: AuthContext, q = {}) => (await images.list(auth, { limit: '1000', ...q })).images.map((i) => i.name);
  assert.ok((await names(alice)).includes('vis-private'));
  assert.ok(!(await names(bob)).includes('vis-private'));
  assert.ok(!(await names(bob)).includes('vis-community'));
  assert.ok((await names(bob, { visibility: 'community' })).includes('vis-community'));
  assert.ok((await names(bob)).includes('pub'));
  await assert.rejects(images.get(bob, priv.id), { status: 404 });
  assert.equal((await images.get(bob, comm.id)).name, 'vis-community');
  await assert.rejects(images.delete(bob, comm.id), { status: 403 });
  assert.ok((await names(admin)).includes('vis-private'));
});

test('list: filters, sort_key/sort_dir, sort=, marker/limit paging with a next query', async () => {
  const mine = who('carol', 'p-list', ['member', 'reader']);
  for (const [name, fmt] of [['c', 'qcow2'], ['a', 'raw'], ['d', 'raw'], ['b', 'iso']] as const) {
    await images.create(mine, { name, disk_format: fmt, container_format: 'bare' });
  }
  const names = (r: { images: { name: string | null }[] }) => r.images.map((i) => i.name);
  // The admin's public image is visible to everyone; the owner filter leaves it out.
  assert.ok(names(await images.list(mine, {})).includes('pub'));
  assert.deepEqual(names(await images.list(mine, { owner: 'p-list', sort_key: 'name', sort_dir: 'asc' })), ['a', 'b', 'c', 'd']);
  assert.deepEqual(names(await images.list(mine, { owner: 'p-list', sort: 'disk_format:asc,name:desc' })), ['b', 'c', 'd', 'a']);
  assert.deepEqual(names(await images.list(mine, { disk_format: 'raw', sort_key: 'name', sort_dir: 'asc' })), ['a', 'd']);
  assert.deepEqual(names(await images.list(mine, { name: 'c' })), ['c']);
  const page1 = await images.list(mine, { owner: 'p-list', sort_key: 'name', sort_dir: 'asc', limit: '3' });
  assert.deepEqual(names(page1), ['a', 'b', 'c']);
  assert.ok(page1.next);
  const next = Object.fromEntries(new URLSearchParams(page1.next));
  assert.equal(next.sort_key, 'name');
  const page2 = await images.list(mine, next);
  assert.deepEqual(names(page2), ['d']);
  assert.equal(page2.next, undefined);
  await assert.rejects(images.list(mine, { sort_key: 'colour' }), (e: Error & { fields: { path: string } }) => e.fields.path === 'query.sort_key');
  await assert.rejects(images.list(mine, { limit: '-1' }), (e: Error & { fields: { path: string } }) => e.fields.path === 'query.limit');
  await assert.rejects(images.list(mine, { marker: '00000000-0000-0000-0000-000000000000' }), { status: 400 });
});

test('update: JSON patch add/replace/remove of attributes and custom properties', async () => {
  const img = await images.create(alice, { name: 'patch-me', disk_format: 'raw', container_format: 'bare', os_distro: 'debian' });
  const out = await images.update(alice, img.id, [
    { op: 'replace', path: '/name', value: 'patched' },
    { op: 'add', path: '/os_version', value: '12' },
    { op: 'remove', path: '/os_distro' },
    { op: 'replace', path: '/min_ram', value: 512 },
    { op: 'replace', path: '/tags', value: ['x', 'y'] },
  ]);
  assert.equal(out.name, 'patched');
  assert.deepEqual(out.properties, { os_version: '12' });
  assert.equal(out.min_ram, 512);
  assert.deepEqual(out.tags, ['x', 'y']);
  await assert.rejects(images.update(alice, img.id, [{ op: 'replace', path: '/disk_format', value: 'floppy' }]), (e: Error & { status: number; fields: { path: string } }) => e.status === 400 && e.fields.path === 'body[0].value');
  await assert.rejects(images.update(alice, img.id, [{ op: 'replace', path: '/checksum', value: 'x' }]), { status: 403 });
  await assert.rejects(images.update(alice, img.id, [{ op: 'remove', path: '/nope' }]), { status: 409 });
  await assert.rejects(images.update(alice, img.id, [{ op: 'add', path: '/n', value: 5 }]), { status: 400 });
  await assert.rejects(images.update(bob, img.id, [{ op: 'replace', path: '/name', value: 'x' }]), { status: 404 });
  await assert.rejects(images.update(reader, img.id, [{ op: 'replace', path: '/name', value: 'x' }]), { status: 403 });
});

test('update racing an upload: a PATCH read while saving does not undo the upload finishing before its write', async () => {
  const img = await images.create(alice, { name: 'race', disk_format: 'raw', container_format: 'bare' });
  assert.equal(await store.transition(img.id, 'queued', 'saving'), true);
  const realGet = store.get.bind(store);
  let raced = false;
  // The update reads the image while it is saving; the upload completes before the update writes.
  store.get = async (id: string) => {
    const snapshot = await realGet(id);
    if (!raced) {
      raced = true;
      assert.equal(await store.transition(id, 'saving', 'active', { size: 3, checksum: 'md5sum', os_hash_algo: 'sha512', os_hash_value: 'sha' }), true);
    }
    return snapshot;
  };
  try {
    await images.update(alice, img.id, [{ op: 'replace', path: '/name', value: 'renamed-mid-upload' }]);
  } finally {
    store.get = realGet;
  }
  assert.ok(raced);
  const after = (await store.get(img.id))!;
  assert.equal(after.name, 'renamed-mid-upload');
  assert.equal(after.status, 'active');
  assert.equal(after.size, 3);
  assert.equal(after.checksum, 'md5sum');
  assert.equal(after.os_hash_value, 'sha');

  // A format change read while queued is not written once an upload has started meanwhile.
  const q = await images.create(alice, { name: 'race2', disk_format: 'raw', container_format: 'bare' });
  let started = false;
  store.get = async (id: string) => {
    const snapshot = await realGet(id);
    if (!started) {
      started = true;
      assert.equal(await store.transition(id, 'queued', 'saving'), true);
    }
    return snapshot;
  };
  try {
    await assert.rejects(images.update(alice, q.id, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]), { status: 409 });
  } finally {
    store.get = realGet;
  }
  const q2 = (await store.get(q.id))!;
  assert.equal(q2.status, 'saving');
  assert.equal(q2.disk_format, 'raw');
});

test('upload: queued → saving → active with md5/sha512 and size; download path; data cannot be replaced', async () => {
  const img = await images.create(alice, { name: 'up', disk_format: 'raw', container_format: 'bare' });
  const data = Buffer.alloc(3 * 1024 * 1024 + 7, 7);
  const done = await images.upload(alice, img.id, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), data.length);
  assert.equal(done.status, 'active');
  assert.equal(done.size, data.length);
  assert.equal(done.checksum, createHash('md5').update(data).digest('hex'));
  assert.equal(done.os_hash_algo, 'sha512');
  assert.equal(done.os_hash_value, createHash('sha512').update(data).digest('hex'));
  const { path } = await images.openForDownload(alice, img.id);
  assert.ok(readFileSync(path!).equals(data));
  const info = await new ImageFiles(store, files).get(img.id);
  assert.equal(info.path, path);
  assert.equal(info.os_hash_value, done.os_hash_value);
  await assert.rejects(images.upload(alice, img.id, Readable.from([Buffer.from('x')])), { status: 409 });
  await assert.rejects(images.update(alice, img.id, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]), { status: 403 });
  await images.delete(alice, img.id);
  assert.deepEqual(readdirSync(files.dir).filter((f) => f !== '.tmp'), readdirSync(files.dir).filter((f) => f !== '.tmp' && f !== img.id));
  assert.ok(!readdirSync(files.dir).includes(img.id));
});

test('upload failures: a broken stream, a short body or too many bytes kill the image and leave no bytes', async () => {
  const broken = await images.create(alice, { name: 'broken', disk_format: 'raw', container_format: 'bare' });
  let sent = false;
  const source = new Readable({
    read() {
      if (sent) this.destroy(new Error('client went away'));
      else this.push(Buffer.alloc(10));
      sent = true;
    },
  });
  await assert.rejects(images.upload(alice, broken.id, source, 100), /client went away/);
  assert.equal((await images.get(alice, broken.id)).status, 'killed');
  const short = await images.create(alice, { name: 'short', disk_format: 'raw', container_format: 'bare' });
  await assert.rejects(images.upload(alice, short.id, Readable.from([Buffer.alloc(10)]), 20), { status: 400 });
  const big = await images.create(alice, { name: 'big', disk_format: 'raw', container_format: 'bare' });
  await assert.rejects(images.upload(alice, big.id, Readable.from([Buffer.alloc(11 * 1024 * 1024)])), { status: 413 });
  assert.equal((await images.get(alice, big.id)).status, 'killed');
  assert.deepEqual(readdirSync(join(files.dir, '.tmp')), []);
  const noFormat = await images.create(alice, { name: 'nofmt' });
  await assert.rejects(images.upload(alice, noFormat.id, Readable.from([Buffer.alloc(1)])), { status: 400 });
  assert.equal((await images.get(alice, noFormat.id)).status, 'queued');
});
