// Python clients (keystoneclient, glanceclient, Tempest's own) send "Content-Type: application/json"
// on PUTs and DELETEs that carry no body. Over a real socket, through the whole server, such a
// request is a request without a body (src/common/json-body.ts), as Keystone and Glance treat it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startSeed } from './support/seed.js';

/** One HTTP request exactly as given: no body written at all when `body` is undefined. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('role grant (PUT) and image delete with Content-Type: application/json and no body are 204', async () => {
  const seed = await startSeed({ services: ['identity', 'images'] });
  try {
    const admin = await seed.token();
    const project = (await seed.call('POST', '/identity/v3/projects', { token: admin, body: { project: { name: 'empty-body' } } })).body.project.id;
    const user = (await seed.call('POST', '/identity/v3/users', { token: admin, body: { user: { name: 'empty-body', password: 'pw-empty-body' } } })).body.user.id;
    const roles = (await seed.call('GET', '/identity/v3/roles', { token: admin })).body.roles as Array<{ id: string; name: string }>;
    const json = { 'x-auth-token': admin, 'content-type': 'application/json' };
    // Content-Length: 0; chunked with nothing in it; and a blank body: three roles, three grants.
    const variants: Array<[Record<string, string>, string]> = [
      [{ 'content-length': '0' }, ''],
      [{ 'transfer-encoding': 'chunked' }, ''],
      [{}, ' \n'],
    ];
    for (const [i, [headers, body]] of variants.entries()) {
      const role = roles[i]!;
      const grant = await send(seed.url, 'PUT', `/identity/v3/projects/${project}/users/${user}/roles/${role.id}`, { ...json, ...headers }, body);
      assert.equal(grant.status, 204, `grant ${role.name} ${JSON.stringify(headers)}: ${grant.text}`);
    }
    const granted = await seed.call('GET', `/identity/v3/projects/${project}/users/${user}/roles`, { token: admin });
    assert.deepEqual(granted.body.roles.map((r: { id: string }) => r.id).sort(), roles.slice(0, 3).map((r) => r.id).sort());

    for (const headers of [{ 'content-length': '0' }, { 'transfer-encoding': 'chunked' }] as Array<Record<string, string>>) {
      const image = await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'to-delete' } });
      assert.equal(image.status, 201);
      const del = await send(seed.url, 'DELETE', `/image/v2/images/${image.body.id}`, { ...json, ...headers }, '');
      assert.equal(del.status, 204, `delete ${JSON.stringify(headers)}: ${del.text}`);
      assert.equal((await seed.call('GET', `/image/v2/images/${image.body.id}`, { token: admin })).status, 404);
    }

    // A route that needs a body still refuses an empty one, naming it.
    const create = await send(seed.url, 'POST', '/identity/v3/users', { ...json, 'content-length': '0' }, '');
    assert.equal(create.status, 400);
    assert.match(JSON.parse(create.text).error.message, /^body: /);
  } finally {
    await seed.stop();
  }
});
