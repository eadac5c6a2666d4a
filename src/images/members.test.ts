// Image sharing through HTTP, with projects as adversaries: A owns the images, B is offered
// them, C is a bystander. Who may add, answer, list, see and remove; the member_status and
// visibility=shared list filters; a private image stays private whatever its members.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImagesApp, type ImagesApp } from '../../test/support/images-app.js';

let h: ImagesApp;
before(async () => {
  h = await startImagesApp();
});
after(async () => h.close());

const newImage = async (visibility = 'shared'): Promise<string> => {
  const r = await h.call('memberA', 'POST', '/v2/images', { name: `img-${visibility}`, visibility, disk_format: 'raw', container_format: 'bare' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
};
const listIds = async (who: 'memberA' | 'memberB' | 'memberC' | 'admin', query = ''): Promise<string[]> => {
  const r = await h.call(who, 'GET', `/v2/images${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body.images as Array<{ id: string }>).map((i) => i.id);
};

test('share, accept: pending is not listed for the member, accepted is; the owner lists all members', async () => {
  const id = await newImage();
  const added = await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  assert.deepEqual({ ...added.body, created_at: undefined, updated_at: undefined }, {
    image_id: id, member_id: 'p-b', status: 'pending', schema: '/v2/schemas/member', created_at: undefined, updated_at: undefined,
  });
  assert.match(added.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // Pending: B may get the image by id, but its default list leaves it out.
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}`)).status, 200);
  assert.ok(!(await listIds('memberB')).includes(id));
  assert.ok((await listIds('memberB', '?visibility=shared&member_status=pending')).includes(id));
  assert.ok(!(await listIds('memberB', '?visibility=shared')).includes(id));
  assert.ok((await listIds('memberB', '?member_status=all')).includes(id));

  const accepted = await h.call('memberB', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'accepted' });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assert.equal(accepted.body.status, 'accepted');
  assert.ok((await listIds('memberB')).includes(id));
  assert.ok((await listIds('memberB', '?visibility=shared')).includes(id));
  assert.ok(!(await listIds('memberB', '?visibility=shared&member_status=pending')).includes(id));

  const members = await h.call('memberA', 'GET', `/v2/images/${id}/members`);
  assert.equal(members.status, 200);
  assert.equal(members.body.schema, '/v2/schemas/members');
  assert.deepEqual(members.body.members.map((m: { member_id: string; status: string }) => [m.member_id, m.status]), [['p-b', 'accepted']]);
  // The owner always lists its own shared images, whatever member_status asks.
  assert.ok((await listIds('memberA', '?visibility=shared&member_status=rejected')).includes(id));
});

test('reject: the image leaves the member\'s list but stays reachable by id; member_status is checked', async () => {
  const id = await newImage();
  await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' });
  assert.equal((await h.call('memberB', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'rejected' })).status, 200);
  assert.ok(!(await listIds('memberB')).includes(id));
  assert.ok((await listIds('memberB', '?visibility=shared&member_status=rejected')).includes(id));
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}`)).status, 200);
  const bad = await h.call('memberB', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'notavalidstatus' });
  assert.equal(bad.status, 400);
  assert.equal((await h.call('memberB', 'GET', '/v2/images?member_status=maybe')).status, 400);
});

test('adversaries: only the owner adds and removes, only the member answers, a bystander sees nothing', async () => {
  const id = await newImage();
  // The bystander cannot add itself or anyone: the image does not exist for it.
  assert.equal((await h.call('memberC', 'POST', `/v2/images/${id}/members`, { member: 'p-c' })).status, 404);
  assert.equal((await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' })).status, 200);
  // A reader of the owner may look but not add.
  assert.equal((await h.call('readerA', 'POST', `/v2/images/${id}/members`, { member: 'p-c' })).status, 403);
  assert.equal((await h.call('readerA', 'GET', `/v2/images/${id}/members`)).status, 200);
  // The member cannot add another project, nor remove itself, nor change the image.
  assert.equal((await h.call('memberB', 'POST', `/v2/images/${id}/members`, { member: 'p-c' })).status, 403);
  assert.equal((await h.call('memberB', 'DELETE', `/v2/images/${id}/members/p-b`)).status, 403);
  assert.equal((await h.call('memberB', 'PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/name', value: 'mine' }], 'application/openstack-images-v2.1-json-patch')).status, 403);
  // The owner cannot answer for the member; the member's reader cannot answer either.
  assert.equal((await h.call('memberA', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'accepted' })).status, 403);
  assert.equal((await h.call('readerB', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'accepted' })).status, 403);
  assert.ok(!(await listIds('memberB')).includes(id));
  // The bystander: image, members and member rows all 404; its lists never show the image.
  assert.equal((await h.call('memberC', 'GET', `/v2/images/${id}`)).status, 404);
  assert.equal((await h.call('memberC', 'GET', `/v2/images/${id}/members`)).status, 404);
  assert.equal((await h.call('memberC', 'GET', `/v2/images/${id}/members/p-b`)).status, 404);
  assert.equal((await h.call('memberC', 'PUT', `/v2/images/${id}/members/p-c`, { status: 'accepted' })).status, 404);
  assert.ok(!(await listIds('memberC', '?visibility=shared&member_status=all')).includes(id));
  // A duplicate is a conflict; a body without a member names the field.
  assert.equal((await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' })).status, 409);
  const noMember = await h.call('memberA', 'POST', `/v2/images/${id}/members`, {});
  assert.equal(noMember.status, 400);
  assert.match(JSON.stringify(noMember.body), /member/);
  // The owner removes; the former member no longer sees the image at all.
  assert.equal((await h.call('memberA', 'DELETE', `/v2/images/${id}/members/p-b`)).status, 204);
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}`)).status, 404);
  assert.equal((await h.call('memberA', 'DELETE', `/v2/images/${id}/members/p-b`)).status, 404);
});

test('a member sees only its own row; the owner and an admin see all', async () => {
  const id = await newImage();
  for (const m of ['p-b', 'p-c']) assert.equal((await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: m })).status, 200);
  const asB = await h.call('memberB', 'GET', `/v2/images/${id}/members`);
  assert.deepEqual(asB.body.members.map((m: { member_id: string }) => m.member_id), ['p-b']);
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}/members/p-c`)).status, 404);
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}/members/p-b`)).body.status, 'pending');
  // B may not answer for C.
  assert.equal((await h.call('memberB', 'PUT', `/v2/images/${id}/members/p-c`, { status: 'accepted' })).status, 404);
  const asAdmin = await h.call('admin', 'GET', `/v2/images/${id}/members`);
  assert.equal(asAdmin.body.members.length, 2);
});

test('only shared images have members; a private image stays private to its former members', async () => {
  const priv = await newImage('private');
  assert.equal((await h.call('memberA', 'POST', `/v2/images/${priv}/members`, { member: 'p-b' })).status, 403);
  const id = await newImage();
  await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' });
  await h.call('memberB', 'PUT', `/v2/images/${id}/members/p-b`, { status: 'accepted' });
  // The owner makes it private: the membership row stays but grants nothing.
  const patched = await h.call('memberA', 'PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/visibility', value: 'private' }], 'application/openstack-images-v2.1-json-patch');
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal((await h.call('memberB', 'GET', `/v2/images/${id}`)).status, 404);
  assert.ok(!(await listIds('memberB', '?member_status=all')).includes(id));
  assert.ok(!(await listIds('memberB', '?visibility=private')).includes(id));
  assert.equal((await h.call('memberA', 'GET', `/v2/images/${id}/members`)).status, 403);
});

test('deleting an image deletes its members', async () => {
  const id = await newImage();
  await h.call('memberA', 'POST', `/v2/images/${id}/members`, { member: 'p-b' });
  assert.equal((await h.call('memberA', 'DELETE', `/v2/images/${id}`)).status, 204);
  assert.equal((await h.call('admin', 'GET', `/v2/images/${id}/members`)).status, 404);
  // Re-creating an image with the same id starts without members.
  const again = await h.call('memberA', 'POST', '/v2/images', { id, name: 'again', visibility: 'shared' });
  assert.equal(again.status, 201);
  assert.deepEqual((await h.call('memberA', 'GET', `/v2/images/${id}/members`)).body.members, []);
});
