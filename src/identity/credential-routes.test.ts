// Keystone credentials, OS-EC2 and the policy store through the HTTP API: who may see which
// credential, that the blob is encrypted at rest, and where an EC2 secret is shown.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { startSeed, userWithRole, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let admin: string;
let alice: { token: string; projectId: string; userId: string };
let bob: { token: string; projectId: string; userId: string };

/** The stored row, read straight from the SQLite file. */
function storedRow(id: string): Record<string, unknown> | undefined {
  const db = new SQLite(join(seed.stateDir, 'bootstack.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM identity_credentials WHERE id = ?').get(id) as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}

before(async () => {
  seed = await startSeed();
  admin = await seed.token();
  alice = await userWithRole(seed, admin, 'cred-a', 'cred-alice', 'member');
  bob = await userWithRole(seed, admin, 'cred-b', 'cred-bob', 'member');
});
after(() => seed.stop());

test('a credential: created, read, updated and deleted by its user; hidden from another user', async () => {
  const blob = JSON.stringify({ access: 'alice-access-1', secret: 'alice-very-secret-1' });
  const c = await seed.call('POST', '/identity/v3/credentials', { token: alice.token, body: { credential: { user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob } } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.credential.id as string;
  assert.equal(c.body.credential.blob, blob);
  assert.equal(c.body.credential.user_id, alice.userId);
  assert.match(c.body.credential.links.self, new RegExp(`/identity/v3/credentials/${id}$`));

  // The key file: created on first use, readable by the server's user only.
  assert.equal(statSync(join(seed.stateDir, 'credential-key')).mode & 0o777, 0o600);
  // At rest: neither the secret nor the access key is in the row.
  const row = storedRow(id)!;
  assert.ok(row, 'the row exists');
  assert.equal(row.blob, undefined);
  assert.doesNotMatch(JSON.stringify(row), /alice-very-secret-1|alice-access-1/);

  // Bob may neither read, change nor delete it, nor list it.
  assert.equal((await seed.call('GET', `/identity/v3/credentials/${id}`, { token: bob.token })).status, 403);
  assert.equal((await seed.call('PATCH', `/identity/v3/credentials/${id}`, { token: bob.token, body: { credential: { blob: '{"access":"x"}' } } })).status, 403);
  assert.equal((await seed.call('DELETE', `/identity/v3/credentials/${id}`, { token: bob.token })).status, 403);
  const bobs = await seed.call('GET', `/identity/v3/credentials?user_id=${alice.userId}`, { token: bob.token });
  assert.deepEqual(bobs.body.credentials, []);
  assert.deepEqual((await seed.call('GET', '/identity/v3/credentials', { token: bob.token })).body.credentials, []);
  // Nor create one for Alice.
  assert.equal((await seed.call('POST', '/identity/v3/credentials', { token: bob.token, body: { credential: { user_id: alice.userId, type: 'totp', blob: 'x' } } })).status, 403);

  // Alice lists hers; the admin sees all, filtered by type.
  const mine = await seed.call('GET', '/identity/v3/credentials', { token: alice.token });
  assert.deepEqual(mine.body.credentials.map((x: { id: string }) => x.id), [id]);
  const all = await seed.call('GET', '/identity/v3/credentials?type=ec2', { token: admin });
  assert.ok(all.body.credentials.some((x: { id: string }) => x.id === id));
  assert.deepEqual((await seed.call('GET', '/identity/v3/credentials?type=totp', { token: admin })).body.credentials, []);

  // Update (as tempest does: new keys, another project); the id stays.
  const blob2 = JSON.stringify({ access: 'alice-access-2', secret: 'alice-very-secret-2' });
  const u = await seed.call('PATCH', `/identity/v3/credentials/${id}`, { token: alice.token, body: { credential: { blob: blob2, project_id: bob.projectId, type: 'ec2' } } });
  assert.equal(u.status, 200, JSON.stringify(u.body));
  assert.equal(u.body.credential.id, id);
  assert.equal(u.body.credential.project_id, bob.projectId);
  assert.equal((await seed.call('GET', `/identity/v3/credentials/${id}`, { token: admin })).body.credential.blob, blob2);
  assert.doesNotMatch(JSON.stringify(storedRow(id)), /alice-very-secret-2/);
  // Alice cannot give it away.
  assert.equal((await seed.call('PATCH', `/identity/v3/credentials/${id}`, { token: alice.token, body: { credential: { user_id: bob.userId } } })).status, 403);

  assert.equal((await seed.call('DELETE', `/identity/v3/credentials/${id}`, { token: alice.token })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/credentials/${id}`, { token: alice.token })).status, 404);
});

test('credential bodies are checked field by field', async () => {
  const bad = async (credential: unknown, field: RegExp) => {
    const r = await seed.call('POST', '/identity/v3/credentials', { token: admin, body: { credential } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), field);
  };
  await bad({ user_id: alice.userId, type: 'totp' }, /body\.credential\.blob/);
  await bad({ user_id: alice.userId, blob: 'x' }, /body\.credential\.type/);
  await bad({ user_id: alice.userId, type: 'ec2', blob: '{"access":"a"}' }, /body\.credential\.project_id/);
  await bad({ user_id: alice.userId, type: 'ec2', project_id: alice.projectId, blob: 'not json' }, /body\.credential\.blob/);
  const r = await seed.call('POST', '/identity/v3/credentials', { token: admin, body: { credential: { user_id: 'no-such-user', type: 'totp', blob: 'x' } } });
  assert.equal(r.status, 404);
});

test('EC2 credentials: the secret only in the create and show answers, only to the owner or the admin', async () => {
  const base = `/identity/v3/users/${alice.userId}/credentials/OS-EC2`;
  const c = await seed.call('POST', base, { token: alice.token, body: { tenant_id: alice.projectId } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const cred = c.body.credential;
  assert.match(cred.access, /^[0-9a-f]{32}$/);
  assert.match(cred.secret, /^[0-9a-f]{32}$/);
  assert.equal(cred.user_id, alice.userId);
  assert.equal(cred.tenant_id, alice.projectId);
  assert.equal(cred.trust_id, null);
  assert.match(cred.links.self, new RegExp(`${base}/${cred.access}$`));

  const show = await seed.call('GET', `${base}/${cred.access}`, { token: alice.token });
  assert.equal(show.status, 200);
  assert.equal(show.body.credential.secret, cred.secret);
  assert.equal((await seed.call('GET', `${base}/${cred.access}`, { token: admin })).body.credential.secret, cred.secret);
  const list = await seed.call('GET', base, { token: alice.token });
  assert.deepEqual(list.body.credentials.map((x: { access: string }) => x.access), [cred.access]);
  assert.equal(list.body.credentials[0].secret, undefined);
  // The same key pair is one of Alice's credentials (type ec2), encrypted at rest.
  const asCredential = (await seed.call('GET', '/identity/v3/credentials?type=ec2', { token: alice.token })).body.credentials;
  assert.equal(asCredential.length, 1);
  assert.equal(JSON.parse(asCredential[0].blob).secret, cred.secret);
  const row = storedRow(asCredential[0].id);
  assert.ok(row);
  assert.doesNotMatch(JSON.stringify(row), new RegExp(`${cred.secret}|${cred.access}`));

  // Bob: refused on Alice's list, show, create and delete; Alice's key under Bob's name is missing.
  for (const [method, path, body] of [['GET', base, undefined], ['GET', `${base}/${cred.access}`, undefined], ['DELETE', `${base}/${cred.access}`, undefined], ['POST', base, { tenant_id: alice.projectId }]] as const) {
    const r = await seed.call(method, path, { token: bob.token, body });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.doesNotMatch(JSON.stringify(r.body), new RegExp(cred.secret));
  }
  assert.equal((await seed.call('GET', `/identity/v3/users/${bob.userId}/credentials/OS-EC2/${cred.access}`, { token: bob.token })).status, 404);
  assert.equal((await seed.call('POST', base, { token: alice.token, body: {} })).status, 400);
  assert.equal((await seed.call('POST', base, { token: alice.token, body: { tenant_id: 'no-such-project' } })).status, 404);

  assert.equal((await seed.call('DELETE', `${base}/${cred.access}`, { token: alice.token })).status, 204);
  assert.equal((await seed.call('GET', `${base}/${cred.access}`, { token: alice.token })).status, 404);
});

test('deleting a user deletes their credentials', async () => {
  const carol = await userWithRole(seed, admin, 'cred-a', 'cred-carol', 'member');
  const c = await seed.call('POST', `/identity/v3/users/${carol.userId}/credentials/OS-EC2`, { token: admin, body: { tenant_id: carol.projectId } });
  assert.equal(c.status, 201);
  const ids = (await seed.call('GET', `/identity/v3/credentials?user_id=${carol.userId}`, { token: admin })).body.credentials.map((x: { id: string }) => x.id);
  assert.equal(ids.length, 1);
  assert.equal((await seed.call('DELETE', `/identity/v3/users/${carol.userId}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/credentials/${ids[0]}`, { token: admin })).status, 404);
});

test('policies: stored and returned as given, the admin\'s only', async () => {
  const p = await seed.call('POST', '/identity/v3/policies', { token: admin, body: { policy: { blob: 'rules', type: 'application/json', color: 'blue' } } });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const id = p.body.policy.id as string;
  assert.deepEqual({ ...p.body.policy, links: undefined }, { id, blob: 'rules', type: 'application/json', color: 'blue', links: undefined });
  const u = await seed.call('PATCH', `/identity/v3/policies/${id}`, { token: admin, body: { policy: { type: 'text/plain' } } });
  assert.equal(u.body.policy.type, 'text/plain');
  const g = await seed.call('GET', `/identity/v3/policies/${id}`, { token: admin });
  assert.equal(g.body.policy.blob, 'rules');
  assert.equal(g.body.policy.color, 'blue');
  assert.ok((await seed.call('GET', '/identity/v3/policies?type=text/plain', { token: admin })).body.policies.some((x: { id: string }) => x.id === id));
  assert.equal((await seed.call('GET', '/identity/v3/policies', { token: alice.token })).status, 403);
  assert.equal((await seed.call('GET', `/identity/v3/policies/${id}`, { token: alice.token })).status, 403);
  assert.equal((await seed.call('POST', '/identity/v3/policies', { token: admin, body: { policy: { type: 'x' } } })).status, 400);
  assert.equal((await seed.call('DELETE', `/identity/v3/policies/${id}`, { token: admin })).status, 204);
  assert.equal((await seed.call('GET', `/identity/v3/policies/${id}`, { token: admin })).status, 404);
});
