// Bare metal across projects, as tenants use it: two non-admin projects (A: member and reader,
// B: member) with nodes the admin gave them (owner/lessee), plus unowned nodes. A project only
// claims, sees and learns about its own or leased nodes; nodes of others answer exactly as missing
// ones; secrets in node fields never leave the API; a refused request writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';
import type { BaremetalService } from '../src/baremetal/index.js';
import type { Loose } from './baremetal-helpers.js';

let seed: TestSeed;
let admin: string;
let A: { member: string; reader: string; projectId: string };
let B: { member: string; projectId: string };

before(async () => {
  // No retries, so a node with an unreachable BMC fails at once.
  seed = await startSeed({ log: { level: 'warn' }, baremetal: { redfish: { retries: 0, timeout: 2 } } });
  admin = await seed.token();
  const am = await userWithRole(seed, admin, 'bm-a', 'bm-a-member', 'member');
  const ar = await userWithRole(seed, admin, 'bm-a', 'bm-a-reader', 'reader');
  const bm = await userWithRole(seed, admin, 'bm-b', 'bm-b-member', 'member');
  A = { member: am.token, reader: ar.token, projectId: am.projectId };
  B = { member: bm.token, projectId: bm.projectId };
});
after(async () => {
  await seed?.stop();
});

/** A /baremetal/v1 request at the microversion the CLI uses (1.9 makes new nodes `available`). */
async function bm(method: string, path: string, token: string, body?: unknown, version = '1.78'): Promise<{ status: number; body: Loose }> {
  return seed.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': version } });
}

function fault(body: Loose): string {
  return JSON.parse(body.error_message).faultstring as string;
}

/** An available fake-hardware node, made by the admin. */
async function node(fields: Record<string, unknown>): Promise<Loose> {
  // Made at 1.9 (new nodes start `available`), then given the fields 1.9 does not have (owner,
  // lessee, resource_class: Ironic answers 406 for them at 1.9) with a patch at 1.78.
  const { name, driver_info, ...newer } = fields;
  const res = await bm('POST', '/nodes', admin, { driver: 'fake-hardware', name, driver_info }, '1.9');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const ops = Object.entries(newer).map(([k, value]) => ({ op: 'add', path: `/${k}`, value }));
  const done = ops.length ? await bm('PATCH', `/nodes/${String(res.body.uuid)}`, admin, ops) : await bm('GET', `/nodes/${String(res.body.uuid)}`, admin);
  assert.equal(done.status, 200, JSON.stringify(done.body));
  return done.body;
}

async function waitNode(ident: string, done: (n: Loose) => boolean): Promise<Loose> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const n = (await bm('GET', `/nodes/${ident}`, admin)).body;
    if (done(n)) return n;
    if (Date.now() > deadline) throw new Error(`node ${ident}: ${n.provision_state} ${n.reservation} ${n.last_error}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `invisible` is answered exactly as `missing` is: same status, same message with the ident swapped. */
function sameAsMissing(got: { status: number; body: Loose }, missing: { status: number; body: Loose }, ident: string, missingIdent: string): void {
  assert.equal(got.status, missing.status, `${ident}: ${JSON.stringify(got.body)}`);
  assert.equal(fault(got.body), fault(missing.body).replace(missingIdent, ident));
}

test('allocation backfill and candidate_nodes only reach the caller project\'s nodes; others answer as missing', async () => {
  const foreign = await node({ name: 'al-b', owner: B.projectId, resource_class: 'rc-al' });
  const shared = await node({ name: 'al-shared', resource_class: 'rc-al' });
  await node({ name: 'al-a', owner: A.projectId, resource_class: 'rc-al' });

  const missing = await bm('POST', '/allocations', A.member, { node: 'al-missing' });
  for (const ident of ['al-b', foreign.uuid, 'al-shared', shared.uuid]) {
    sameAsMissing(await bm('POST', '/allocations', A.member, { node: ident }), missing, ident, 'al-missing');
  }
  for (const n of [foreign, shared]) assert.equal((await bm('GET', `/nodes/${n.uuid}`, admin)).body.allocation_uuid, null);
  // A refused backfill leaves no allocation behind.
  assert.deepEqual((await bm('GET', '/allocations', A.member)).body.allocations, []);

  const own = await bm('POST', '/allocations', A.member, { node: 'al-a' });
  assert.equal(own.status, 201, JSON.stringify(own.body));
  assert.equal(own.body.state, 'active');
  assert.equal(own.body.owner, A.projectId);

  const missingCandidate = await bm('POST', '/allocations', A.member, { resource_class: 'rc-al', candidate_nodes: ['al-missing'] });
  for (const ident of ['al-b', foreign.uuid, 'al-shared', shared.uuid]) {
    sameAsMissing(await bm('POST', '/allocations', A.member, { resource_class: 'rc-al', candidate_nodes: [ident] }), missingCandidate, ident, 'al-missing');
  }
  // Without candidates A's allocation still finds neither B's node nor the unowned one.
  const any = await bm('GET', `/allocations/${(await bm('POST', '/allocations', A.member, { resource_class: 'rc-al' })).body.uuid}`, A.member);
  assert.equal(any.body.state, 'error');
  assert.equal(any.body.owner, A.projectId);
  // An admin's allocation for project B takes B's node.
  const forB = await bm('GET', `/allocations/${(await bm('POST', '/allocations', admin, { resource_class: 'rc-al', owner: B.projectId })).body.uuid}`, admin);
  assert.equal(forB.body.node_uuid, foreign.uuid);
});

test('instances go to the project\'s own or leased nodes or the shared pool, never to another project\'s', async () => {
  const instances = (seed.server.services.find((s) => s.name === 'baremetal') as BaremetalService).instances;
  const foreign = await node({ name: 'in-b', owner: B.projectId, resource_class: 'rc-in' });
  const req = { name: 'srv', resourceClass: 'rc-in', imageSource: 'img' };
  await assert.rejects(instances.create({ ...req, project: A.projectId }), /Cannot place instance srv/);
  await assert.rejects(instances.create({ ...req, project: null }), /Cannot place instance srv/);
  assert.equal((await bm('GET', `/nodes/${foreign.uuid}`, admin)).body.instance_uuid, null);

  const shared = await node({ name: 'in-shared', resource_class: 'rc-in' });
  const id = await instances.create({ ...req, project: A.projectId });
  const placed = await waitNode(shared.uuid, (n) => n.provision_state === 'active' && !n.reservation);
  assert.equal(placed.instance_uuid, id);
  // The allocation is A's: A's member sees it, B's does not.
  const alloc = await bm('GET', `/allocations/${id}`, A.member);
  assert.equal(alloc.status, 200);
  assert.equal(alloc.body.owner, A.projectId);
  assert.equal((await bm('GET', `/allocations/${id}`, B.member)).status, 404);

  // Project B cannot read or delete A's instance: answered as a missing one.
  assert.deepEqual(await instances.status(id, B.projectId), await instances.status('00000000-0000-4000-8000-000000000000', B.projectId));
  await instances.delete(id, B.projectId);
  assert.equal((await bm('GET', `/nodes/${shared.uuid}`, admin)).body.instance_uuid, id);
  assert.equal((await instances.status(id, A.projectId)).state, 'active');

  // B's own node serves B (the shared one is taken).
  const forB = await instances.create({ ...req, name: 'srv-b', project: B.projectId });
  assert.equal((await waitNode(foreign.uuid, (n) => n.instance_uuid === forB)).owner, B.projectId);

  await instances.delete(id, A.projectId);
  await waitNode(shared.uuid, (n) => n.provision_state === 'available' && !n.reservation && n.instance_uuid === null);
  assert.equal((await instances.status(id, A.projectId)).state, 'deleted');
});

test('secrets in driver_info and instance_info are masked in every node view, nested and in URLs', async () => {
  const secrets = ['url-pw-1', 'pw-2', 'pw-3', 'pw-4', 'pw-5', 'pw-6', 'pw-7', 'pw-8', 'pw-9', 'pw-10'];
  const created = await bm('POST', '/nodes', admin, {
    name: 'sec-a',
    driver: 'fake-hardware',
    owner: A.projectId,
    driver_info: {
      redfish_address: 'https://bmcuser:url-pw-1@bmc.example:8443/redfish/v1',
      ipmi_passwd: 'pw-2',
      redfish_password: 'pw-3',
      vendor: { bmc: { password: 'pw-4', auth_token: 'pw-5' } },
      ssh_private_key: 'pw-6',
    },
    instance_info: {
      configdrive: { user_data: 'pw-7', meta_data: { public_keys: { k: 'ssh-ed25519 pw-8' } } },
      image_url: 'https://images.example/x.img?temp_url_sig=pw-9&temp_url_expires=1',
      image_source: 'http://user:pw-10@images.example/x.img',
    },
  });
  assert.equal(created.status, 201);
  const patched = await bm('PATCH', '/nodes/sec-a', admin, [{ op: 'add', path: '/extra/x', value: 1 }]);
  assert.equal(patched.status, 200);
  const views = [
    created,
    patched,
    await bm('GET', '/nodes/sec-a', A.reader),
    await bm('GET', '/nodes/sec-a', admin),
    await bm('GET', '/nodes/detail', A.reader),
    await bm('GET', '/nodes?fields=name,driver_info,instance_info', A.reader),
  ];
  for (const v of views) {
    const text = JSON.stringify(v.body);
    for (const s of secrets) assert.ok(!text.includes(s), `${s} shown in ${text}`);
  }
  const shown = (await bm('GET', '/nodes/sec-a', A.reader)).body;
  assert.equal(shown.driver_info.redfish_address, 'https://bmcuser:******@bmc.example:8443/redfish/v1');
  assert.equal(shown.driver_info.ipmi_passwd, '******');
  assert.equal(shown.driver_info.vendor.bmc.password, '******');
  assert.equal(shown.instance_info.configdrive, '******');
  assert.equal(shown.instance_info.image_source, 'http://user:******@images.example/x.img');

  // A password in a BMC URL reaches neither last_error, /states, the history nor validate.
  await bm('POST', '/nodes', admin, {
    name: 'sec-rf',
    driver: 'redfish',
    owner: A.projectId,
    driver_info: { redfish_address: 'http://bmcuser:url-pw-11@127.0.0.1:1', redfish_username: 'u', redfish_password: 'p' },
  });
  assert.equal((await bm('PUT', '/nodes/sec-rf/states/provision', admin, { target: 'manage' })).status, 202);
  const failed = await waitNode('sec-rf', (n) => n.provision_state === 'enroll' && !n.reservation && n.last_error);
  assert.match(failed.last_error, /bmcuser:\*\*\*\*\*\*@127\.0\.0\.1/);
  await bm('PATCH', '/nodes/sec-rf', admin, [{ op: 'add', path: '/driver_info/redfish_address', value: 'http://bmcuser:url-pw-11@bad host' }]);
  for (const path of ['/nodes/sec-rf', '/nodes/sec-rf/states', '/nodes/sec-rf/history/detail', '/nodes/sec-rf/validate']) {
    // validate is the owner's members' (Ironic's baremetal:node:validate), not its readers'.
    const res = await bm('GET', path, path.endsWith('/validate') ? A.member : A.reader);
    assert.equal(res.status, 200, path);
    assert.ok(!JSON.stringify(res.body).includes('url-pw-11'), `${path}: ${JSON.stringify(res.body)}`);
  }
  // Nor the server's log.
  assert.ok(!seed.logLines.join('').includes('url-pw-11'));
});

test('a refused provision request does not write its configdrive', async () => {
  await bm('POST', '/nodes', admin, { name: 'cd-a', driver: 'fake-hardware', owner: A.projectId });
  const refused = await bm('PUT', '/nodes/cd-a/states/provision', A.member, { target: 'active', configdrive: { user_data: '#!/bin/sh\necho hi' } });
  assert.equal(refused.status, 409);
  const n = (await bm('GET', '/nodes/cd-a', admin)).body;
  assert.ok(!('configdrive' in n.instance_info), JSON.stringify(n.instance_info));

  // Accepted: written with the transition.
  await node({ name: 'cd-ok', owner: A.projectId });
  assert.equal((await bm('PUT', '/nodes/cd-ok/states/provision', A.member, { target: 'active', configdrive: { user_data: 'x' } })).status, 202);
  const ok = await waitNode('cd-ok', (x) => x.provision_state === 'active' && !x.reservation);
  assert.equal(ok.instance_info.configdrive, '******');
});

test('an allocation with an invalid trait is refused with 400 naming the field', async () => {
  for (const t of ['lowercase-bad', 'CUSTOM_lower', 'NOT_A_NAMESPACE', `CUSTOM_${'X'.repeat(250)}`, '']) {
    const res = await bm('POST', '/allocations', A.member, { resource_class: 'x', traits: [t] });
    assert.equal(res.status, 400, `${t}: ${JSON.stringify(res.body)}`);
    assert.match(fault(res.body), /traits/);
  }
  const good = await bm('POST', '/allocations', A.member, { resource_class: 'x', traits: ['CUSTOM_OK', 'HW_CPU_X86_AVX2'] });
  assert.equal(good.status, 201);
  // A node's traits follow the same rule.
  await bm('POST', '/nodes', admin, { name: 'tr-a', driver: 'fake-hardware', owner: A.projectId });
  assert.equal((await bm('PUT', '/nodes/tr-a/traits/NOT_A_NAMESPACE', admin)).status, 400);
  assert.equal((await bm('PUT', '/nodes/tr-a/traits/CUSTOM_OK', admin)).status, 204);
});

test('filters and markers naming another project\'s node or port answer as missing ones', async () => {
  const foreign = await node({ name: 'lk-b', owner: B.projectId });
  const port = await bm('POST', '/ports', admin, { address: '52:54:00:00:b0:01', node_uuid: foreign.uuid });
  assert.equal(port.status, 201);
  const gone = '11111111-2222-4333-8444-555555555555';
  for (const [path, missingIdent, ident] of [
    ['/ports?node=', 'lk-missing', 'lk-b'],
    ['/ports?node_uuid=', gone, foreign.uuid],
    ['/allocations?node=', 'lk-missing', 'lk-b'],
    ['/nodes?marker=', gone, foreign.uuid],
    ['/ports?marker=', gone, port.body.uuid],
  ] as const) {
    sameAsMissing(await bm('GET', path + ident, A.reader), await bm('GET', path + missingIdent, A.reader), ident, missingIdent);
  }
});

test('a lessee sees neither the owner\'s BMC details, errors and history nor the owner\'s allocation', async () => {
  // An available node whose BMC does not answer: the failed power action leaves a last_error.
  const created = await bm('POST', '/nodes', admin, {
    name: 'ls-b',
    driver: 'redfish',
    driver_info: { redfish_address: 'http://bmc-b.internal.example:1', redfish_username: 'b-operator', redfish_password: 'p' },
  }, '1.9');
  assert.equal(created.status, 201);
  // owner and lessee are newer than 1.9 (406 there, as in Ironic): set at 1.78.
  const ownership = [{ op: 'add', path: '/owner', value: B.projectId }, { op: 'add', path: '/lessee', value: A.projectId }];
  assert.equal((await bm('PATCH', '/nodes/ls-b', admin, ownership)).status, 200);
  assert.equal((await bm('PUT', '/nodes/ls-b/states/power', admin, { target: 'power on' })).status, 202);
  await waitNode('ls-b', (n) => !n.reservation && n.last_error);

  // The owner sees it all.
  const owner = (await bm('GET', '/nodes/ls-b', B.member)).body;
  assert.equal(owner.driver_info.redfish_username, 'b-operator');
  assert.match(owner.last_error, /bmc-b\.internal/);

  for (const tok of [A.member, A.reader]) {
    for (const path of ['/nodes/ls-b', '/nodes/detail', '/nodes/ls-b/states']) {
      const res = await bm('GET', path, tok);
      assert.equal(res.status, 200);
      const text = JSON.stringify(res.body);
      assert.ok(!/bmc-b\.internal|b-operator/.test(text), `${path}: ${text}`);
    }
    assert.equal((await bm('GET', '/nodes/ls-b/history', tok)).status, 403);
  }

  // B's allocation on the node is B's business, even though A leases the node.
  const a = await bm('POST', '/allocations', admin, { node: 'ls-b', owner: B.projectId });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal((await bm('GET', '/nodes/ls-b/allocation', B.member)).status, 200);
  const hidden = await bm('GET', '/nodes/ls-b/allocation', A.reader);
  assert.equal(hidden.status, 404);
  assert.ok(!JSON.stringify(hidden.body).includes(a.body.uuid));
});

test("an owner's member may not rewrite instance_info (the image) or driver_info (where the seed connects)", async () => {
  await node({ name: 'pi-a', owner: A.projectId });
  for (const path of ['/instance_info/image_source', '/driver_info/redfish_address']) {
    const res = await bm('PATCH', '/nodes/pi-a', A.member, [{ op: 'add', path, value: 'http://169.254.169.254/' }]);
    assert.equal(res.status, 403, `${path}: ${JSON.stringify(res.body)}`);
  }
  const extra = await bm('PATCH', '/nodes/pi-a', A.member, [{ op: 'add', path: '/extra/note', value: 'mine' }]);
  assert.equal(extra.status, 200, JSON.stringify(extra.body));
  const n = (await bm('GET', '/nodes/pi-a', admin)).body;
  assert.equal(n.instance_info.image_source, undefined);
  assert.equal(n.driver_info.redfish_address, undefined);
});

test("an owner's member may not name a lessee: that would draw another project's servers onto its node", async () => {
  await node({ name: 'lessee-b', owner: B.projectId });
  const res = await bm('PATCH', '/nodes/lessee-b', B.member, [{ op: 'add', path: '/lessee', value: A.projectId }]);
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.equal((await bm('GET', '/nodes/lessee-b', admin)).body.lessee, null);
});
