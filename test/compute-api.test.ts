// The compute API (Nova v2.1 subset) through HTTP on a real seed: version negotiation and
// faults, flavors with extra specs and access lists, key pairs, quotas and policy by role and
// project. Servers on fake-hardware nodes are in compute-servers.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { userWithRole, type TestSeed } from './support/seed.js';
import { NOVA, computeSeed, makeFlavor, makeImage, makeNodes, waitServer, waitGone } from './compute-support.js';

let seed: TestSeed;
let admin: string;
let a: { token: string; projectId: string; userId: string };
let aReader: { token: string; projectId: string };
let b: { token: string; projectId: string; userId: string };

before(async () => {
  seed = await computeSeed();
  admin = await seed.token();
  a = await userWithRole(seed, admin, 'cp-a', 'cp-a-member', 'member');
  aReader = await userWithRole(seed, admin, 'cp-a', 'cp-a-reader', 'reader');
  b = await userWithRole(seed, admin, 'cp-b', 'cp-b-member', 'member');
});
after(async () => {
  await seed?.stop();
});

const nova = (method: string, path: string, token: string | null, body?: unknown, version = '2.73') =>
  seed.call(method, `/compute/v2.1${path}`, { token, headers: NOVA(version), ...(body !== undefined ? { body } : {}) });

test('version documents, microversion negotiation and its headers', async () => {
  const root = await seed.call('GET', '/compute/');
  assert.equal(root.status, 200);
  const current = root.body.versions.find((v: { id: string }) => v.id === 'v2.1');
  assert.deepEqual([current.min_version, current.version, current.status], ['2.1', '2.73', 'CURRENT']);
  const v21 = await seed.call('GET', '/compute/v2.1');
  assert.equal(v21.body.version.version, '2.73');

  // The catalog lists compute as nova at /compute/v2.1.
  const cat = await seed.call('GET', '/identity/v3/auth/catalog', { token: admin });
  const entry = cat.body.catalog.find((c: { type: string }) => c.type === 'compute');
  assert.equal(entry.name, 'nova');
  assert.ok(entry.endpoints.some((e: { url: string }) => e.url === `${seed.url}/compute/v2.1`), JSON.stringify(entry));

  const none = await seed.call('GET', '/compute/v2.1/flavors', { token: admin });
  assert.equal(none.status, 200);
  assert.equal(none.headers.get('openstack-api-version'), 'compute 2.1');
  assert.equal(none.headers.get('x-openstack-nova-api-version'), '2.1');
  assert.match(none.headers.get('vary') ?? '', /OpenStack-API-Version/);
  const legacy = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: { 'x-openstack-nova-api-version': '2.60' } });
  assert.equal(legacy.headers.get('x-openstack-nova-api-version'), '2.60');
  const latest = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: { 'openstack-api-version': 'compute latest' } });
  assert.equal(latest.headers.get('openstack-api-version'), 'compute 2.73');
  // Other services' entries in the same header are ignored.
  const mixed = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: { 'openstack-api-version': 'image 2.5, compute 2.47' } });
  assert.equal(mixed.headers.get('openstack-api-version'), 'compute 2.47');

  const tooHigh = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: NOVA('2.74') });
  assert.equal(tooHigh.status, 406);
  assert.match(tooHigh.body.computeFault.message, /Version 2.74 is not supported.*maximum is 2.73/);
  const tooLow = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: NOVA('2.0') });
  assert.equal(tooLow.status, 406);
  const junk = await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: NOVA('two') });
  assert.equal(junk.status, 400);
  assert.equal(junk.body.badRequest.code, 400);

  // Faults as Nova renders them.
  const missing = await nova('GET', '/servers/00000000-0000-0000-0000-000000000000', admin);
  assert.equal(missing.status, 404);
  assert.match(missing.body.itemNotFound.message, /Instance 00000000-0000-0000-0000-000000000000 could not be found/);
  const anon = await nova('GET', '/servers', null);
  assert.equal(anon.status, 401);
  assert.ok(anon.body.unauthorized);
});

test('flavors: admin writes, everyone reads public ones; private flavors by access list; extra specs validated', async () => {
  const pub = await nova('POST', '/flavors', admin, { flavor: { name: 'f-public', ram: 1024, vcpus: 2, disk: 10, id: 'f-public' } });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  assert.equal(pub.body.flavor['os-flavor-access:is_public'], true);
  const priv = await nova('POST', '/flavors', admin, { flavor: { name: 'f-private', ram: 1024, vcpus: 2, disk: 10, 'os-flavor-access:is_public': false } });
  assert.equal(priv.status, 200);
  const privId = priv.body.flavor.id;

  const dup = await nova('POST', '/flavors', admin, { flavor: { name: 'f-public', ram: 1, vcpus: 1, disk: 0 } });
  assert.equal(dup.status, 409);
  assert.ok(dup.body.conflictingRequest);
  const badBody = await nova('POST', '/flavors', admin, { flavor: { name: 'x', ram: '1', vcpus: 1, disk: 0 } });
  assert.equal(badBody.status, 400);
  assert.match(badBody.body.badRequest.message, /flavor\.ram/);
  const byMember = await nova('POST', '/flavors', a.token, { flavor: { name: 'mine', ram: 1, vcpus: 1, disk: 0 } });
  assert.equal(byMember.status, 403);
  assert.match(byMember.body.forbidden.message, /os-flavor-manage:create/);

  const seen = async (token: string) => (await nova('GET', '/flavors/detail', token)).body.flavors.map((f: { name: string }) => f.name);
  assert.ok((await seen(a.token)).includes('f-public'));
  assert.ok(!(await seen(a.token)).includes('f-private'));
  assert.equal((await nova('GET', `/flavors/${privId}`, a.token)).status, 404);

  // Access for project A: A sees and may use it, B still not.
  const add = await nova('POST', `/flavors/${privId}/action`, admin, { addTenantAccess: { tenant: a.projectId } });
  assert.equal(add.status, 200, JSON.stringify(add.body));
  assert.deepEqual(add.body.flavor_access, [{ flavor_id: privId, tenant_id: a.projectId }]);
  assert.equal((await nova('POST', `/flavors/${privId}/action`, admin, { addTenantAccess: { tenant: a.projectId } })).status, 409);
  assert.equal((await nova('POST', `/flavors/f-public/action`, admin, { addTenantAccess: { tenant: a.projectId } })).status, 409);
  assert.ok((await seen(a.token)).includes('f-private'));
  assert.ok(!(await seen(b.token)).includes('f-private'));
  assert.equal((await nova('GET', `/flavors/${privId}`, b.token)).status, 404);
  assert.equal((await nova('GET', `/flavors/${privId}/os-flavor-access`, a.token)).status, 403);
  assert.equal((await nova('GET', `/flavors/${privId}/os-flavor-access`, admin)).body.flavor_access.length, 1);
  // Admin's list: public by default, all with is_public=None (what novaclient sends).
  assert.ok(!(await nova('GET', '/flavors', admin)).body.flavors.some((f: { name: string }) => f.name === 'f-private'));
  assert.ok((await nova('GET', '/flavors?is_public=None', admin)).body.flavors.some((f: { name: string }) => f.name === 'f-private'));

  // Extra specs: Nova's scheduler keys are checked; others pass.
  const specs = await nova('POST', '/flavors/f-public/os-extra_specs', admin, { extra_specs: { 'resources:CUSTOM_GOLD': '1', 'trait:HW_CPU_X86_AVX2': 'required', 'hw:cpu_policy': 'dedicated' } });
  assert.equal(specs.status, 200, JSON.stringify(specs.body));
  for (const [k, v, why] of [
    ['resources:custom_gold', '1', /not a resource class/],
    ['resources:VCPU', '-1', /non-negative integer/],
    ['trait:HW_CPU_X86_AVX2', 'preferred', /required" or "forbidden/],
  ] as const) {
    const r = await nova('POST', '/flavors/f-public/os-extra_specs', admin, { extra_specs: { [k]: v } });
    assert.equal(r.status, 400, k);
    assert.match(r.body.badRequest.message, why);
    assert.ok(r.body.badRequest.message.includes(k), r.body.badRequest.message);
  }
  assert.equal((await nova('POST', '/flavors/f-public/os-extra_specs', a.token, { extra_specs: { a: 'b' } })).status, 403);
  assert.deepEqual((await nova('GET', '/flavors/f-public/os-extra_specs/hw:cpu_policy', a.token)).body, { 'hw:cpu_policy': 'dedicated' });
  assert.equal((await nova('PUT', '/flavors/f-public/os-extra_specs/hw:cpu_policy', admin, { 'hw:cpu_policy': 'shared' })).status, 200);
  assert.equal((await nova('PUT', '/flavors/f-public/os-extra_specs/hw:cpu_policy', admin, { other: 'x' })).status, 400);
  assert.equal((await nova('DELETE', '/flavors/f-public/os-extra_specs/hw:cpu_policy', admin)).status, 200);
  assert.equal((await nova('GET', '/flavors/f-public/os-extra_specs/hw:cpu_policy', admin)).status, 404);
  // Shown inline from 2.61, not before.
  assert.deepEqual((await nova('GET', '/flavors/f-public', a.token)).body.flavor.extra_specs, { 'resources:CUSTOM_GOLD': '1', 'trait:HW_CPU_X86_AVX2': 'required' });
  assert.equal((await nova('GET', '/flavors/f-public', a.token, undefined, '2.60')).body.flavor.extra_specs, undefined);

  assert.equal((await nova('DELETE', `/flavors/${privId}`, a.token)).status, 403);
  assert.equal((await nova('DELETE', `/flavors/${privId}`, admin)).status, 202);
  assert.equal((await nova('GET', `/flavors/${privId}`, admin)).status, 404);
});

test('key pairs: generated RSA (private key once) or imported; per user; validated', async () => {
  const gen = await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'gen' } });
  assert.equal(gen.status, 201, JSON.stringify(gen.body));
  assert.match(gen.body.keypair.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(gen.body.keypair.public_key, /^ssh-rsa AAAA/);
  assert.match(gen.body.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  assert.equal(gen.body.keypair.type, 'ssh');
  const shown = await nova('GET', '/os-keypairs/gen', a.token);
  assert.equal(shown.body.keypair.private_key, undefined, 'the private key is never shown again');
  assert.equal(shown.body.keypair.user_id, a.userId);
  // The public key matches the private key returned.
  const fromPriv = createPublicKey(gen.body.keypair.private_key).export({ format: 'jwk' });
  assert.ok(gen.body.keypair.public_key.length > 300 && fromPriv.n);

  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.from(ed.x!, 'base64url')]);
  const imp = await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'ed', public_key: `ssh-ed25519 ${blob.toString('base64')} me@host` } });
  assert.equal(imp.status, 201, JSON.stringify(imp.body));
  assert.equal(imp.body.keypair.private_key, undefined);
  for (const bad of ['ssh-ed25519 AAAA', 'ssh-dss AAAAB3NzaC1kc3M=', 'not a key', `ssh-rsa ${blob.toString('base64')}`]) {
    const r = await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'bad', public_key: bad } });
    assert.equal(r.status, 400, bad);
    assert.match(r.body.badRequest.message, /keypair\.public_key/);
  }
  assert.equal((await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'gen' } })).status, 409);
  assert.equal((await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'bad/name' } })).status, 400);

  // Per user: B neither lists nor reads A's; a non-admin cannot name another user.
  assert.deepEqual((await nova('GET', '/os-keypairs', a.token)).body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name), ['ed', 'gen']);
  assert.deepEqual((await nova('GET', '/os-keypairs', b.token)).body.keypairs, []);
  assert.equal((await nova('GET', '/os-keypairs/gen', b.token)).status, 404);
  assert.equal((await nova('GET', `/os-keypairs?user_id=${a.userId}`, b.token)).status, 403);
  assert.equal((await nova('GET', `/os-keypairs/gen?user_id=${a.userId}`, admin)).status, 200);

  // Microversions: 2.1 answers 200/202 without "type".
  const old = await nova('POST', '/os-keypairs', a.token, { keypair: { name: 'old' } }, '2.1');
  assert.equal(old.status, 200);
  assert.equal(old.body.keypair.type, undefined);
  assert.equal((await nova('DELETE', '/os-keypairs/old', a.token, undefined, '2.1')).status, 202);
  assert.equal((await nova('DELETE', '/os-keypairs/ed', a.token)).status, 204);
  assert.equal((await nova('DELETE', '/os-keypairs/ed', a.token)).status, 404);
});

test('quotas: defaults, admin updates, enforced on create with Nova\'s 403; limits show usage', async () => {
  const defaults = await nova('GET', `/os-quota-sets/${b.projectId}/defaults`, b.token);
  assert.equal(defaults.body.quota_set.instances, 10);
  assert.equal((await nova('PUT', `/os-quota-sets/${b.projectId}`, b.token, { quota_set: { instances: 100 } })).status, 403);
  const set = await nova('PUT', `/os-quota-sets/${b.projectId}`, admin, { quota_set: { instances: 1, key_pairs: 1 } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.quota_set.instances, 1);
  assert.equal((await nova('GET', `/os-quota-sets/${b.projectId}`, b.token)).body.quota_set.instances, 1);
  // Another project's quotas are not B's to read.
  assert.equal((await nova('GET', `/os-quota-sets/${a.projectId}`, b.token)).status, 403);
  const bad = await nova('PUT', `/os-quota-sets/${b.projectId}`, admin, { quota_set: { instances: -2 } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.badRequest.message, /quota_set\.instances/);

  assert.equal((await nova('POST', '/os-keypairs', b.token, { keypair: { name: 'k1' } })).status, 201);
  const k2 = await nova('POST', '/os-keypairs', b.token, { keypair: { name: 'k2' } });
  assert.equal(k2.status, 403);
  assert.match(k2.body.forbidden.message, /Quota exceeded for key_pairs/);

  await makeNodes(seed, admin, ['q-1', 'q-2'], { resourceClass: 'quota-rc' });
  await makeImage(seed, admin, 'q-image');
  const flavor = await makeFlavor(seed, admin, 'q-flavor', 'CUSTOM_QUOTA_RC');
  const one = await nova('POST', '/servers', b.token, { server: { name: 'q1', imageRef: 'q-image', flavorRef: flavor, networks: 'none' } });
  assert.equal(one.status, 202, JSON.stringify(one.body));
  const two = await nova('POST', '/servers', b.token, { server: { name: 'q2', imageRef: 'q-image', flavorRef: flavor, networks: 'none' } });
  assert.equal(two.status, 403);
  assert.match(two.body.forbidden.message, /Quota exceeded for instances: Requested 1, but already used 1 of 1 instances/);
  const limits = await nova('GET', '/limits', b.token);
  assert.equal(limits.body.limits.absolute.maxTotalInstances, 1);
  assert.equal(limits.body.limits.absolute.totalInstancesUsed, 1);
  assert.equal(limits.body.limits.absolute.totalCoresUsed, 8);
  const detail = await nova('GET', `/os-quota-sets/${b.projectId}/detail`, b.token);
  assert.deepEqual(detail.body.quota_set.instances, { limit: 1, in_use: 1, reserved: 0 });
  await waitServer(seed, b.token, one.body.server.id, ['ACTIVE']);
  assert.equal((await nova('DELETE', `/servers/${one.body.server.id}`, b.token)).status, 204);
  await waitGone(seed, b.token, one.body.server.id);
  assert.equal((await nova('DELETE', `/os-quota-sets/${b.projectId}`, admin)).status, 202);
  assert.equal((await nova('GET', `/os-quota-sets/${b.projectId}`, b.token)).body.quota_set.instances, 10);
});

test('policy: readers read, members act, other projects see nothing, admin-only routes refuse members', async () => {
  await makeNodes(seed, admin, ['p-1'], { resourceClass: 'policy-rc' });
  await makeImage(seed, admin, 'p-image');
  const flavor = await makeFlavor(seed, admin, 'p-flavor', 'CUSTOM_POLICY_RC');
  const body = { server: { name: 'a-server', imageRef: 'p-image', flavorRef: flavor, networks: 'none' } };
  const byReader = await nova('POST', '/servers', aReader.token, body);
  assert.equal(byReader.status, 403);
  assert.match(byReader.body.forbidden.message, /servers:create/);
  const made = await nova('POST', '/servers', a.token, body);
  assert.equal(made.status, 202);
  const id = made.body.server.id;
  await waitServer(seed, a.token, id, ['ACTIVE']);

  // The reader of A sees it (without the admin-only host attributes).
  const seen = await nova('GET', `/servers/${id}`, aReader.token);
  assert.equal(seen.status, 200);
  assert.equal(seen.body.server['OS-EXT-SRV-ATTR:hypervisor_hostname'], undefined);
  assert.equal((await nova('POST', `/servers/${id}/action`, aReader.token, { reboot: { type: 'HARD' } })).status, 403);
  assert.equal((await nova('DELETE', `/servers/${id}`, aReader.token)).status, 403);

  // Project B: not found, whatever it tries; not in its list; all_tenants refused.
  for (const [method, path, payload] of [
    ['GET', `/servers/${id}`, undefined],
    ['DELETE', `/servers/${id}`, undefined],
    ['PUT', `/servers/${id}`, { server: { name: 'stolen' } }],
    ['POST', `/servers/${id}/action`, { reboot: { type: 'HARD' } }],
    ['POST', `/servers/${id}/action`, { 'os-getConsoleOutput': {} }],
    ['GET', `/servers/${id}/os-instance-actions`, undefined],
  ] as const) {
    const r = await nova(method, path, b.token, payload);
    assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
  }
  assert.ok(!(await nova('GET', '/servers/detail', b.token)).body.servers.some((s: { id: string }) => s.id === id));
  assert.equal((await nova('GET', '/servers?all_tenants=1', b.token)).status, 403);
  assert.equal((await nova('GET', '/os-hypervisors', a.token)).status, 403);
  assert.equal((await nova('GET', '/os-hypervisors/detail', aReader.token)).status, 403);

  // Admin: its own project by default, everyone's with all_tenants, and the host attributes.
  assert.ok(!(await nova('GET', '/servers', admin)).body.servers.some((s: { id: string }) => s.id === id));
  const all = await nova('GET', '/servers/detail?all_tenants=1', admin);
  const mine = all.body.servers.find((s: { id: string }) => s.id === id);
  assert.ok(mine['OS-EXT-SRV-ATTR:hypervisor_hostname']);
  const hv = await nova('GET', '/os-hypervisors/detail', admin);
  assert.ok(hv.body.hypervisors.some((h: { hypervisor_hostname: string; hypervisor_type: string; running_vms: number }) => h.hypervisor_hostname === mine['OS-EXT-SRV-ATTR:hypervisor_hostname'] && h.hypervisor_type === 'ironic' && h.running_vms === 1));
  const host = await nova('GET', `/servers/detail?all_tenants=1&host=${mine['OS-EXT-SRV-ATTR:hypervisor_hostname']}`, admin);
  assert.deepEqual(host.body.servers.map((s: { id: string }) => s.id), [id]);
  // A member's host filter is dropped (Nova ignores filters it does not allow), not applied.
  assert.equal((await nova('GET', '/servers?host=nowhere', a.token)).body.servers.length, 1);

  assert.equal((await nova('DELETE', `/servers/${id}`, a.token)).status, 204);
  await waitGone(seed, a.token, id);
});
