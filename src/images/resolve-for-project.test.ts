// resolveForProject: the image a project may use, by id or by name, with Glance's visibility;
// an invisible id is exactly a missing one; a name must name one active image the project lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openDatabase, migrate, type Database } from '../common/db.js';
import { Policy, type AuthContext } from '../common/auth.js';
import { ImageStore } from './store.js';
import { FilesystemStore } from './file-store.js';
import { ImagesService, imagesPolicy } from './images.js';
import { imagesMigrations } from './migrations.js';

const who = (projectId: string, roles: string[]): AuthContext => ({
  userId: `u-${projectId}`, userName: projectId, domainId: 'default', projectId, projectName: projectId, roles, tokenExpiresAt: '2999-01-01T00:00:00Z',
});
const adminAuth = who('p-admin', ['admin', 'member', 'reader']);
const alice = who('p-a', ['member', 'reader']);
const A = { projectId: 'p-a', admin: false };
const B = { projectId: 'p-b', admin: false };
const ADMIN = { projectId: 'p-admin', admin: true };

let database: Database;
let dir: string;
let images: ImagesService;

before(async () => {
  database = openDatabase('sqlite::memory:');
  await migrate(database.db, { images: imagesMigrations });
  dir = mkdtempSync(join(tmpdir(), 'bootstack-resolve-'));
  const policy = new Policy();
  policy.add(imagesPolicy);
  images = new ImagesService(new ImageStore(database.db), new FilesystemStore(join(dir, 'images')), policy, 1024 * 1024);
});
after(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

async function active(auth: AuthContext, body: Record<string, unknown>) {
  const img = await images.create(auth, { disk_format: 'raw', container_format: 'bare', ...body });
  return images.upload(auth, img.id, Readable.from([Buffer.from('data')]), 4);
}

test('by id: visible images whatever their status; an invisible id is 404 like a missing one', async () => {
  const priv = await active(alice, { name: 'r-private', visibility: 'private' });
  const queued = await images.create(alice, { name: 'r-queued' });
  const community = await active(alice, { name: 'r-community', visibility: 'community' });
  assert.equal((await images.resolveForProject(priv.id, A)).id, priv.id);
  assert.equal((await images.resolveForProject(priv.id.toUpperCase(), A)).id, priv.id);
  assert.equal((await images.resolveForProject(queued.id, A)).status, 'queued');
  assert.equal((await images.resolveForProject(priv.id, ADMIN)).id, priv.id);
  assert.equal((await images.resolveForProject(community.id, B)).id, community.id);
  const hidden = await images.resolveForProject(priv.id, B).catch((e: unknown) => e);
  const missing = await images.resolveForProject('7b3b7c1e-0000-4000-8000-000000000000', B).catch((e: unknown) => e);
  assert.deepEqual([(hidden as Error & { status: number }).status, (missing as Error & { status: number }).status], [404, 404]);
  assert.equal((hidden as Error).message, `Image ${priv.id} could not be found.`);
  assert.equal((missing as Error).message, 'Image 7b3b7c1e-0000-4000-8000-000000000000 could not be found.');
  // No project at all: only what everyone may see.
  await assert.rejects(images.resolveForProject(priv.id, { projectId: null, admin: false }), { status: 404 });
});

test('by name: the one active image the project would list; none is 404, several is 409 with the count', async () => {
  const pub = await active(adminAuth, { name: 'r-shared-name', visibility: 'public' });
  await active(alice, { name: 'r-shared-name', visibility: 'private' });
  await images.create(alice, { name: 'r-shared-name' }); // queued: not a candidate
  // Project B sees only the public one; project A sees both active ones.
  assert.equal((await images.resolveForProject('r-shared-name', B)).id, pub.id);
  await assert.rejects(images.resolveForProject('r-shared-name', A), (e: Error & { status: number }) => e.status === 409 && /^2 images named r-shared-name/.test(e.message));
  await assert.rejects(images.resolveForProject('r-no-such', A), { status: 404, message: 'Image r-no-such could not be found.' });
  // Another project's community image is not in a list (not even an admin's), so not by name.
  const comm = await active(alice, { name: 'r-comm-only', visibility: 'community' });
  await assert.rejects(images.resolveForProject('r-comm-only', B), { status: 404 });
  await assert.rejects(images.resolveForProject('r-comm-only', ADMIN), { status: 404 });
  assert.equal((await images.resolveForProject('r-comm-only', A)).id, comm.id);
  // Nor is an os_hidden image (found by id only).
  const hiddenImg = await active(alice, { name: 'r-hidden', os_hidden: true });
  await assert.rejects(images.resolveForProject('r-hidden', A), { status: 404 });
  assert.equal((await images.resolveForProject(hiddenImg.id, A)).id, hiddenImg.id);
  // A name whose only image is not active is not found, even for an admin.
  await assert.rejects(images.resolveForProject('r-queued', ADMIN), { status: 404 });
  // The admin's list has every project's private images: two active ones share this name.
  await assert.rejects(images.resolveForProject('r-shared-name', ADMIN), { status: 409 });
});
