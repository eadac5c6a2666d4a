// Through HTTP: the v2.0 JSON-patch media type, the JSON Schemas of our records, and the
// deactivate/reactivate actions (the owner's members; a deactivated image's data is refused to non-admins).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { startImagesApp, type ImagesApp } from '../../test/support/images-app.js';

const V20 = 'application/openstack-images-v2.0-json-patch';
const V21 = 'application/openstack-images-v2.1-json-patch';

let h: ImagesApp;
before(async () => {
  h = await startImagesApp();
});
after(async () => h.close());

const newImage = async (extra: Record<string, unknown> = {}): Promise<string> => {
  const r = await h.call('memberA', 'POST', '/v2/images', { name: 'x', disk_format: 'raw', container_format: 'bare', ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
};

test('v2.0 patch: add, replace and remove named by key, same rules as v2.1', async () => {
  const id = await newImage({ protected: true });
  const r = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [
    { replace: '/name', value: 'renamed' },
    { add: '/os_distro', value: 'debian' },
    { replace: '/protected', value: false },
  ], V20);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.name, 'renamed');
  assert.equal(r.body.os_distro, 'debian');
  assert.equal(r.body.protected, false);
  const removed = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ remove: '/os_distro' }], V20);
  assert.equal(removed.status, 200);
  assert.equal(removed.body.os_distro, undefined);
  // Same refusals as v2.1: read-only attribute, missing property, bad value type.
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ replace: '/status', value: 'active' }], V20)).status, 403);
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ remove: '/nothing' }], V20)).status, 409);
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ replace: '/min_ram', value: 'lots' }], V20)).status, 400);
  // Another project cannot patch with either type.
  assert.equal((await h.call('memberB', 'PATCH', `/v2/images/${id}`, [{ replace: '/name', value: 'b' }], V20)).status, 404);
  // The image can now be deleted (it was protected: the teardown Tempest needs).
  assert.equal((await h.call('memberA', 'DELETE', `/v2/images/${id}`)).status, 204);
});

test('v2.0 patch: malformed operations are 400 naming the operation; other types 415', async () => {
  const id = await newImage();
  const two = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ add: '/a', replace: '/a', value: 'x' }], V20);
  assert.equal(two.status, 400);
  assert.match(JSON.stringify(two.body), /body\[0\]/);
  const none = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ value: 'x' }], V20);
  assert.equal(none.status, 400);
  const extra = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ add: '/a', value: 'x', note: 'y' }], V20);
  assert.equal(extra.status, 400);
  assert.match(JSON.stringify(extra.body), /body\[0\]\.note/);
  // A v2.1 body sent as v2.0 has no operation key: refused, not misread.
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ op: 'add', path: '/a', value: 'x' }], V20)).status, 400);
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, { replace: '/name' }, V20)).status, 400);
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ op: 'add', path: '/a', value: 'x' }], V21)).status, 200);
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ op: 'add', path: '/b', value: 'x' }], 'application/json-patch+json')).status, 415);
});

test('schemas: one per record, each describing what the service answers', async () => {
  const id = await newImage({ tags: ['t'], os_distro: 'debian' });
  const image = (await h.call('memberA', 'GET', `/v2/images/${id}`)).body;
  await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/visibility', value: 'shared' }], V21);
  const member = (await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' })).body;
  const list = (await h.call('memberA', 'GET', '/v2/images')).body;
  const members = (await h.call('memberA', 'GET', `/v2/images/${id}/members`)).body;
  const ajv = new Ajv({ strict: false });
  for (const [name, doc] of [['image', image], ['images', list], ['member', member], ['members', members]] as const) {
    const r = await h.call('readerB', 'GET', `/v2/schemas/${name}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.name, name);
    const validate = ajv.compile(r.body);
    assert.ok(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`);
  }
  // They are checks, not decoration: a wrong type fails them.
  const imageSchema = (await h.call('memberA', 'GET', '/v2/schemas/image')).body;
  assert.equal(ajv.compile(imageSchema)({ ...image, min_ram: 'lots' }), false);
  assert.equal((await h.call(undefined, 'GET', '/v2/schemas/image')).status, 401);
  assert.equal((await h.call('memberA', 'GET', '/v2/schemas/nothing')).status, 404);
});

test('deactivate/reactivate: the owner\'s members; data refused to non-admins while deactivated; idempotent', async () => {
  const id = await newImage();
  assert.equal((await h.call('memberA', 'PUT', `/v2/images/${id}/file`, 'image bytes', 'application/octet-stream')).status, 204);
  assert.equal((await h.call('readerA', 'POST', `/v2/images/${id}/actions/deactivate`)).status, 403);
  assert.equal((await h.call('memberB', 'POST', `/v2/images/${id}/actions/deactivate`)).status, 404);
  assert.equal((await h.call('memberA', 'POST', `/v2/images/${id}/actions/deactivate`)).status, 204);
  assert.equal((await h.call('admin', 'POST', `/v2/images/${id}/actions/deactivate`)).status, 204);
  assert.equal((await h.call('memberA', 'GET', `/v2/images/${id}`)).body.status, 'deactivated');
  const refused = await h.call('memberA', 'GET', `/v2/images/${id}/file`);
  assert.equal(refused.status, 403);
  assert.match(JSON.stringify(refused.body), /deactivated/);
  const asAdmin = await h.call('admin', 'GET', `/v2/images/${id}/file`);
  assert.equal(asAdmin.status, 200);
  assert.equal(asAdmin.body, 'image bytes');
  // Still editable while deactivated (as Glance); not re-uploadable.
  assert.equal((await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ replace: '/name', value: 'off' }], V20)).status, 200);
  assert.notEqual((await h.call('memberA', 'PUT', `/v2/images/${id}/file`, 'other', 'application/octet-stream')).status, 204);
  assert.equal((await h.call('readerA', 'POST', `/v2/images/${id}/actions/reactivate`)).status, 403);
  assert.equal((await h.call('memberA', 'POST', `/v2/images/${id}/actions/reactivate`)).status, 204);
  assert.equal((await h.call('admin', 'POST', `/v2/images/${id}/actions/reactivate`)).status, 204);
  const back = await h.call('memberA', 'GET', `/v2/images/${id}/file`);
  assert.equal(back.status, 200);
  assert.equal(back.body, 'image bytes');
  // An image without data cannot be deactivated.
  const queued = await newImage();
  assert.equal((await h.call('admin', 'POST', `/v2/images/${queued}/actions/deactivate`)).status, 403);
  assert.equal((await h.call('admin', 'POST', `/v2/images/${queued}/actions/reactivate`)).status, 403);
});
