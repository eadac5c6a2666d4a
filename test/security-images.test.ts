// Glance v2 API of the seed as a tenant could abuse it, over HTTP: property names that reach
// JavaScript's object machinery or Glance's reserved names, JSON pointers Glance refuses,
// unbounded numbers of properties and tags, over-long tags, and errors always in Glance's format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
let admin: string;
let member: string;
const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

before(async () => {
  seed = await startSeed({ services: ['identity', 'images'] });
  admin = await seed.token();
  member = (await userWithRole(seed, admin, 'sec-img', 'sec-img-member', 'member')).token;
});
after(async () => seed?.stop());

const newImage = async (body: Record<string, unknown> = {}) => {
  const res = await seed.call('POST', '/image/v2/images', { token: member, body: { name: 'sec', ...body } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string } & Record<string, unknown>;
};
const patch = (id: string, ops: unknown[]) => seed.call('PATCH', `/image/v2/images/${id}`, { token: member, headers: PATCH, body: ops });

/** Glance's fault document: { error: { code, title, message } }, the status repeated in code. */
function assertGlanceFault(res: { status: number; body: unknown }, status: number, message?: RegExp): void {
  const body = res.body as { error?: { code?: number; title?: string; message?: string } };
  assert.equal(res.status, status, JSON.stringify(res.body).slice(0, 300));
  assert.equal(body.error?.code, status, JSON.stringify(res.body).slice(0, 300));
  assert.equal(typeof body.error?.title, 'string');
  if (message) assert.match(body.error?.message ?? '', message);
}

test('PATCH of /__proto__, /constructor or /prototype is 403 reserved and changes nothing', async () => {
  const img = await newImage();
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    for (const op of ['add', 'replace', 'remove']) {
      const res = await patch(img.id, [{ op, path: `/${name}`, ...(op === 'remove' ? {} : { value: 'x' }) }]);
      assertGlanceFault(res, 403, new RegExp(`^Attribute '${name}' is reserved\\.$`));
    }
  }
  const after = await seed.call('GET', `/image/v2/images/${img.id}`, { token: member });
  assert.equal(Object.hasOwn(after.body, 'constructor'), false);
  assert.equal(Object.getPrototypeOf(after.body), Object.prototype);
});

test('nested and malformed JSON pointers get Glance\'s 400s', async () => {
  const img = await newImage();
  const cases: Array<[string, RegExp]> = [
    ['/constructor/prototype', /^Invalid JSON pointer for this resource: '\/constructor\/prototype'$/],
    ['/__proto__/polluted', /^Invalid JSON pointer for this resource: '\/__proto__\/polluted'$/],
    ['/a//b', /^Pointer `\/a\/\/b` contains adjacent "\/"\.$/],
    ['/a/', /^Pointer `\/a\/` end with "\/"\.$/],
    ['/a~2', /^Pointer `\/a~2` contains "~" not part of a recognized escape sequence\.$/],
  ];
  for (const [path, message] of cases) assertGlanceFault(await patch(img.id, [{ op: 'add', path, value: 'x' }]), 400, message);
});

test('Glance\'s reserved names (location, deleted, os_glance_*) and prototype names are refused at creation too', async () => {
  for (const name of ['constructor', 'prototype', 'location', 'deleted', 'os_glance_import_task', 'os_glance']) {
    const res = await seed.call('POST', '/image/v2/images', { token: member, body: { name: 'r', [name]: 'x' } });
    assertGlanceFault(res, 403, new RegExp(`^Attribute '${name}' is reserved\\.$`));
  }
  const img = await newImage();
  assertGlanceFault(await patch(img.id, [{ op: 'add', path: '/os_glance_foo', value: 'x' }]), 403, /^Attribute 'os_glance_foo' is reserved\.$/);
  const long = await seed.call('POST', '/image/v2/images', { token: member, body: { name: 'r', ['k'.repeat(256)]: 'x' } });
  assertGlanceFault(long, 400, /^Custom property should not be greater than 255 characters\.$/);
  // Ordinary names, also ones that exist on Object.prototype, are just properties.
  const ok = await newImage({ toString: 'fine', hasOwnProperty: 'also fine' });
  assert.equal(ok.toString, 'fine');
});

test('at most 128 custom properties per image (Glance\'s image_property_quota): 413', async () => {
  const props = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`p${i}`, 'v']));
  assertGlanceFault(await seed.call('POST', '/image/v2/images', { token: member, body: props }), 413, /Attempted: 129, Maximum: 128/);
  const img = await newImage(Object.fromEntries(Object.entries(props).slice(0, 128)));
  assertGlanceFault(await patch(img.id, [{ op: 'add', path: '/one_more', value: 'v' }]), 413, /Attempted: 129, Maximum: 128/);
  // Replacing or removing is still allowed at the limit.
  assert.equal((await patch(img.id, [{ op: 'replace', path: '/p0', value: 'w' }, { op: 'remove', path: '/p1' }])).status, 200);
});

test('tags: up to 255 characters through the URL; longer is Glance\'s 400, not the router\'s 414', async () => {
  const img = await newImage();
  const tag150 = 't'.repeat(150);
  assert.equal((await seed.call('PUT', `/image/v2/images/${img.id}/tags/${tag150}`, { token: member })).status, 204);
  assert.deepEqual((await seed.call('GET', `/image/v2/images/${img.id}`, { token: member })).body.tags, [tag150]);
  assert.equal((await seed.call('DELETE', `/image/v2/images/${img.id}/tags/${tag150}`, { token: member })).status, 204);
  const tooLong = await seed.call('PUT', `/image/v2/images/${img.id}/tags/${'t'.repeat(256)}`, { token: member });
  assertGlanceFault(tooLong, 400, /^Provided object does not match schema 'image': 't+\.\.\.' is too long$/);
  assertGlanceFault(await seed.call('DELETE', `/image/v2/images/${img.id}/tags/${'t'.repeat(300)}`, { token: member }), 404);
  assertGlanceFault(await seed.call('PUT', `/image/v2/images/${img.id}/tags/${'t'.repeat(120)}/extra`, { token: member }), 404);
});

test('the 129th tag is 413 with Glance\'s wording', async () => {
  const img = await newImage({ tags: Array.from({ length: 128 }, (_, i) => `t${i}`) });
  assertGlanceFault(await seed.call('PUT', `/image/v2/images/${img.id}/tags/one-more`, { token: member }), 413, /Attempted: 129, Maximum: 128/);
  assert.equal((await seed.call('PUT', `/image/v2/images/${img.id}/tags/t0`, { token: member })).status, 204);
});

test('every refusal on the image routes is in Glance\'s fault format', async () => {
  const img = await newImage();
  const checks: Array<[string, string, Record<string, unknown>, number]> = [
    ['GET', '/image/v2/images?limit=x', {}, 400],
    ['GET', '/image/v2/images?sort_key=nope', {}, 400],
    ['GET', '/image/v2/images?visibility=everyone', {}, 400],
    ['POST', '/image/v2/images', { body: { name: 'x'.repeat(256) } }, 400],
    ['POST', '/image/v2/images', { raw: '{"name": ', headers: { 'content-type': 'application/json' } }, 400],
    ['PATCH', `/image/v2/images/${img.id}`, { raw: '[{', headers: PATCH }, 400],
    ['PATCH', `/image/v2/images/${img.id}`, { body: [{ op: 'move', path: '/name' }], headers: PATCH }, 400],
    ['PATCH', `/image/v2/images/${img.id}`, { body: [{ op: 'add', path: '/checksum', value: 'x' }], headers: PATCH }, 403],
    ['PUT', `/image/v2/images/${img.id}/file`, { raw: 'abc', headers: { 'content-type': 'application/octet-stream' } }, 400],
    ['GET', '/image/v2/images/7b3b7c1e-0000-4000-8000-000000000000', {}, 404],
  ];
  for (const [method, path, opts, status] of checks) {
    assertGlanceFault(await seed.call(method, path, { token: member, ...opts }), status);
  }
});
