// Glance v2 API of the seed over HTTP: version document, bad input named by field, JSON patch
// media type, streamed upload/download past the JSON body limit, paging links, fault format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
let admin: string;
const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

before(async () => {
  // Only the services under test: another area's start-up problems must not fail these.
  seed = await startSeed({ services: ['identity', 'images'] });
  admin = await seed.token();
});
after(async () => seed?.stop());

test('version documents at /image and /image/versions', async () => {
  const root = await seed.call('GET', '/image');
  assert.equal(root.status, 300);
  assert.equal(root.body.versions[0].status, 'CURRENT');
  assert.equal(root.body.versions[0].links[0].href, `${seed.url}/image/v2/`);
  assert.equal((await seed.call('GET', '/image/versions')).status, 200);
});

test('bad input is 400 naming the field; bodies over the limit are 413; no token is 401', async () => {
  const bad = async (body: unknown, field: RegExp) => {
    const res = await seed.call('POST', '/image/v2/images', { token: admin, body });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 400);
    assert.match(res.body.error.message, field);
  };
  await bad({ name: 'x', disk_format: 'floppy' }, /body\.disk_format: must be one of/);
  await bad({ name: 'x', container_format: 'zip' }, /body\.container_format/);
  await bad({ name: 'x', min_ram: '512' }, /body\.min_ram/);
  await bad({ name: 'x', protected: 'yes' }, /body\.protected/);
  await bad({ name: 'x', visibility: 'everyone' }, /body\.visibility/);
  await bad({ name: 'x', custom_number: 5 }, /body\.custom_number/);
  await bad({ name: 'x', tags: 'a,b' }, /body\.tags/);
  await bad({ name: 'x'.repeat(256) }, /body\.name/);
  const malformed = await seed.call('POST', '/image/v2/images', { token: admin, raw: '{"name": ', headers: { 'content-type': 'application/json' } });
  assert.equal(malformed.status, 400);
  const readOnly = await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'x', checksum: 'abc' } });
  assert.equal(readOnly.status, 403);
  assert.match(readOnly.body.error.message, /checksum/);
  const huge = await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'x', big: 'y'.repeat(2 * 1024 * 1024) } });
  assert.equal(huge.status, 413);
  assert.equal((await seed.call('GET', '/image/v2/images')).status, 401);
  assert.equal((await seed.call('POST', '/image/v2/images', { body: { name: 'x' } })).status, 401);
  const missing = await seed.call('GET', '/image/v2/images/7b3b7c1e-0000-4000-8000-000000000000', { token: admin });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 404);
});

test('PATCH needs the JSON-patch media type and valid operations', async () => {
  const img = (await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'p', disk_format: 'raw', container_format: 'bare' } })).body;
  const wrongType = await seed.call('PATCH', `/image/v2/images/${img.id}`, { token: admin, body: [{ op: 'replace', path: '/name', value: 'q' }] });
  assert.equal(wrongType.status, 415);
  // A media type no parser takes: the 415 names what was sent. (Glance's older v2.0 patch type is
  // taken: src/images/routes.ts.)
  const otherPatch = await seed.call('PATCH', `/image/v2/images/${img.id}`, { token: admin, headers: { 'content-type': 'application/merge-patch+json' }, raw: '{}' });
  assert.equal(otherPatch.status, 415);
  assert.match(JSON.stringify(otherPatch.body), /Content-Type 'application\/merge-patch\+json'/);
  const badOp = await seed.call('PATCH', `/image/v2/images/${img.id}`, { token: admin, headers: PATCH, body: [{ op: 'move', path: '/name' }] });
  assert.equal(badOp.status, 400);
  assert.match(badOp.body.error.message, /body\.0\.op/);
  const malformed = await seed.call('PATCH', `/image/v2/images/${img.id}`, { token: admin, headers: PATCH, raw: '[{' });
  assert.equal(malformed.status, 400);
  const good = await seed.call('PATCH', `/image/v2/images/${img.id}`, {
    token: admin, headers: PATCH,
    body: [{ op: 'replace', path: '/name', value: 'q' }, { op: 'add', path: '/hw_firmware_type', value: 'uefi' }],
  });
  assert.equal(good.status, 200);
  assert.equal(good.body.name, 'q');
  assert.equal(good.body.hw_firmware_type, 'uefi');
});

test('upload and download stream past the JSON body limit; Content-MD5 on download; 204 before data', async () => {
  const img = (await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'stream', disk_format: 'qcow2', container_format: 'bare' } })).body;
  assert.equal((await fetch(`${seed.url}/image/v2/images/${img.id}/file`, { headers: { 'x-auth-token': admin } })).status, 204);
  const wrongType = await seed.call('PUT', `/image/v2/images/${img.id}/file`, { token: admin, raw: 'abc', headers: { 'content-type': 'text/plain' } });
  assert.equal(wrongType.status, 415);
  const data = Buffer.alloc(5 * 1024 * 1024 + 3);
  for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
  const put = await fetch(`${seed.url}/image/v2/images/${img.id}/file`, {
    method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-auth-token': admin }, body: data,
  });
  assert.equal(put.status, 204);
  const shown = (await seed.call('GET', `/image/v2/images/${img.id}`, { token: admin })).body;
  assert.equal(shown.status, 'active');
  assert.equal(shown.size, data.length);
  const get = await fetch(`${seed.url}/image/v2/images/${img.id}/file`, { headers: { 'x-auth-token': admin } });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('content-md5'), createHash('md5').update(data).digest('hex'));
  assert.equal(get.headers.get('content-length'), String(data.length));
  assert.ok(Buffer.from(await get.arrayBuffer()).equals(data));
  const again = await fetch(`${seed.url}/image/v2/images/${img.id}/file`, {
    method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-auth-token': admin }, body: Buffer.from('x'),
  });
  assert.equal(again.status, 409);
});

test('list paging over HTTP follows next links; a reader gets 403 on create and delete', async () => {
  const member = await userWithRole(seed, admin, 'paging', 'pam', 'member');
  for (let i = 0; i < 5; i++) {
    assert.equal((await seed.call('POST', '/image/v2/images', { token: member.token, body: { name: `page-${i}`, visibility: 'private' } })).status, 201);
  }
  const seen: string[] = [];
  let next: string | undefined = '/v2/images?limit=2&sort_key=name&sort_dir=asc';
  let pages = 0;
  while (next) {
    const res = await seed.call('GET', `/image${next}`, { token: member.token });
    assert.equal(res.status, 200);
    seen.push(...res.body.images.map((i: { name: string }) => i.name));
    next = res.body.next;
    pages++;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  const reader = await userWithRole(seed, admin, 'paging', 'rory', 'reader');
  const create = await seed.call('POST', '/image/v2/images', { token: reader.token, body: { name: 'nope' } });
  assert.equal(create.status, 403);
  assert.ok(create.body.error.message);
  const listed = await seed.call('GET', '/image/v2/images?name=page-0', { token: reader.token });
  assert.equal(listed.body.images.length, 1);
  const del = await seed.call('DELETE', `/image/v2/images/${listed.body.images[0].id}`, { token: reader.token });
  assert.equal(del.status, 403);
  const outsider = await userWithRole(seed, admin, 'elsewhere', 'olga', 'member');
  assert.equal((await seed.call('GET', '/image/v2/images?name=page-0', { token: outsider.token })).body.images.length, 0);
  assert.equal((await seed.call('GET', `/image/v2/images/${listed.body.images[0].id}`, { token: outsider.token })).status, 404);
});

test('list filters by size, size_min and size_max (bytes); an image without data matches none; bad values are 400 naming the field', async () => {
  const tag = `sized-${Date.now()}`;
  const made: Record<string, string> = {};
  for (const [name, bytes] of [['s1000', 1000], ['s3000', 3000], ['empty', -1]] as const) {
    const img = (await seed.call('POST', '/image/v2/images', { token: admin, body: { name, disk_format: 'raw', container_format: 'bare', tags: [tag] } })).body;
    made[name] = img.id;
    if (bytes < 0) continue;
    const put = await fetch(`${seed.url}/image/v2/images/${img.id}/file`, {
      method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-auth-token': admin }, body: Buffer.alloc(bytes, 7),
    });
    assert.equal(put.status, 204);
  }
  const names = async (q: string) => {
    const r = await seed.call('GET', `/image/v2/images?tag=${tag}&${q}`, { token: admin });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.images as Array<{ name: string }>).map((i) => i.name).sort();
  };
  assert.deepEqual(await names('size=1000'), ['s1000']);
  assert.deepEqual(await names('size_min=500&size_max=1500'), ['s1000']);
  assert.deepEqual(await names('size_min=1000'), ['s1000', 's3000']);
  assert.deepEqual(await names('size_max=5000'), ['s1000', 's3000']);
  assert.deepEqual(await names('size_min=3001'), []);
  assert.deepEqual(await names(''), ['empty', 's1000', 's3000']);
  for (const bad of ['size=-1', 'size_min=abc', 'size_max=1.5']) {
    const r = await seed.call('GET', `/image/v2/images?${bad}`, { token: admin });
    assert.equal(r.status, 400, bad);
    assert.match(JSON.stringify(r.body), new RegExp(`query\\.${bad.split('=')[0]}`));
  }
});
