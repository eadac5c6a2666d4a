// Servers on fake-hardware nodes through the compute API: lifecycle to ACTIVE and back to an
// available node, actions, atomic claims under concurrency, NoValidHost, the reschedule after a
// failed deploy, server groups, list filters, and what goes on the node (instance_uuid, config drive).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { TestSeed } from './support/seed.js';
import { FAKE_CONSOLE_LOG } from '../src/baremetal/drivers/fake-management.js';
import { FixtureBmc, loadFixture } from './support/baremetal/redfish-fixture-bmc.js';
import { IRONIC, NOVA, claimed, computeSeed, makeFlavor, makeImage, makeNodes, nodeIn, server, waitFor, waitGone, waitServer } from './compute-support.js';

let seed: TestSeed;
let admin: string;

before(async () => {
  // Quotas off: the race test makes 11 servers in the admin project.
  seed = await computeSeed({ compute: { sync_interval_ms: 50, quotas: { instances: -1, cores: -1, ram: -1 } } });
  admin = await seed.token();
  await makeImage(seed, admin, 'cirros');
  await makeImage(seed, admin, 'debian');
});
after(async () => {
  await seed?.stop();
});

const nova = (method: string, path: string, body?: unknown, token = admin, version = '2.73') =>
  seed.call(method, `/compute/v2.1${path}`, { token, headers: NOVA(version), ...(body !== undefined ? { body } : {}) });
const ironic = (method: string, path: string, body?: unknown) => seed.call(method, `/baremetal/v1${path}`, { token: admin, headers: IRONIC, ...(body !== undefined ? { body } : {}) });

async function create(name: string, flavor: string, extra: Record<string, unknown> = {}, hints?: Record<string, unknown>): Promise<string> {
  const r = await nova('POST', '/servers', { server: { name, imageRef: 'cirros', flavorRef: flavor, networks: 'none', ...extra }, ...(hints ? { 'os:scheduler_hints': hints } : {}) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.server.id as string;
}

async function deleteAll(ids: string[]): Promise<void> {
  for (const id of ids) assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
  for (const id of ids) await waitGone(seed, admin, id);
}

test('lifecycle: create to ACTIVE on a matching node, actions, rebuild, delete → node cleaned and available', async () => {
  const [node] = await makeNodes(seed, admin, ['life-1'], { resourceClass: 'life.class' });
  await makeNodes(seed, admin, ['life-other'], { resourceClass: 'other' });
  const flavor = await makeFlavor(seed, admin, 'life', 'CUSTOM_LIFE_CLASS');
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const key = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.from(ed.x!, 'base64url')]).toString('base64')}`;
  assert.equal((await nova('POST', '/os-keypairs', { keypair: { name: 'life-key', public_key: key } })).status, 201);
  const id = await create('Life Server', flavor, { key_name: 'life-key', user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'), metadata: { role: 'web' }, config_drive: true });
  const s = await waitServer(seed, admin, id, ['ACTIVE']);
  assert.equal(s['OS-EXT-SRV-ATTR:hypervisor_hostname'], node);
  assert.equal(s['OS-EXT-STS:vm_state'], 'active');
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.equal(s.flavor.original_name, 'life');
  assert.equal(s.key_name, 'life-key');
  assert.equal(s.config_drive, 'True');
  assert.deepEqual(s.metadata, { role: 'web' });

  // The node carries the server as its instance, with the config drive built from the server.
  const n = (await ironic('GET', `/nodes/${node}`)).body;
  assert.equal(n.instance_uuid, id);
  assert.equal(n.provision_state, 'active');
  // The API masks the config drive; read what the node row holds.
  const row = await seed.server.database.db.selectFrom('baremetal_nodes').select('instance_info').where('uuid', '=', node!).executeTakeFirstOrThrow();
  const drive = JSON.parse(row.instance_info as string).configdrive;
  const meta = drive.meta_data;
  assert.equal(meta.uuid, id);
  assert.equal(meta.hostname, 'life-server');
  assert.deepEqual(meta.meta, { role: 'web' });
  assert.deepEqual(meta.public_keys, { 'life-key': key });
  assert.equal(drive.user_data, '#!/bin/sh\necho hi\n');

  // At 2.1 the flavor is a link, not embedded.
  const old = await nova('GET', `/servers/${id}`, undefined, admin, '2.1');
  assert.deepEqual(Object.keys(old.body.server.flavor).sort(), ['id', 'links']);

  // Actions: reboot, stop, start, rebuild; a conflicting one is 409 while another runs.
  assert.equal((await nova('POST', `/servers/${id}/action`, { reboot: { type: 'HARD' } })).status, 202);
  await waitServer(seed, admin, id, ['ACTIVE']);
  assert.equal((await nova('POST', `/servers/${id}/action`, { reboot: { type: 'SIDEWAYS' } })).status, 400);
  assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-stop': null })).status, 202);
  const stopped = await waitServer(seed, admin, id, ['SHUTOFF']);
  assert.equal(stopped['OS-EXT-STS:power_state'], 4);
  assert.equal((await ironic('GET', `/nodes/${node}`)).body.power_state, 'power off');
  const again = await nova('POST', `/servers/${id}/action`, { 'os-stop': null });
  assert.equal(again.status, 409);
  assert.match(again.body.conflictingRequest.message, /Cannot 'stop' instance .* while it is in vm_state stopped/);
  assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-start': null })).status, 202);
  const started = await waitServer(seed, admin, id, ['ACTIVE']);
  await waitFor('power on', () => server(seed, admin, id), (x) => x['OS-EXT-STS:power_state'] === 1 || started['OS-EXT-STS:power_state'] === 1);
  const rebuilt = await nova('POST', `/servers/${id}/action`, { rebuild: { imageRef: 'debian', name: 'life-rebuilt' } });
  assert.equal(rebuilt.status, 202, JSON.stringify(rebuilt.body));
  const afterRebuild = await waitServer(seed, admin, id, ['ACTIVE']);
  assert.equal(afterRebuild.name, 'life-rebuilt');
  const debian = (await seed.call('GET', '/image/v2/images?name=debian', { token: admin })).body.images[0].id;
  assert.equal(afterRebuild.image.id, debian);
  assert.equal((await ironic('GET', `/nodes/${node}`)).body.instance_info.image_source, debian);

  // The node's serial console (the fake management's fixed text): all of it, or the last `length` lines.
  const con = await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: 2 } });
  assert.equal(con.status, 200, JSON.stringify(con.body));
  assert.equal(con.body.output, 'fake OS: started\nfake login: \n');
  assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': {} })).body.output, FAKE_CONSOLE_LOG);
  assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: -1 } })).body.output, FAKE_CONSOLE_LOG);

  const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map((a: { action: string }) => a.action);
  assert.deepEqual(actions.sort(), ['create', 'reboot', 'rebuild', 'start', 'stop']);

  assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
  await waitGone(seed, admin, id);
  const freed = await nodeIn(seed, admin, 'life-1', 'available');
  assert.equal(freed.instance_uuid, null);
  assert.deepEqual(freed.instance_info, {});
  assert.deepEqual(await claimed(seed, admin), { nodes: [], allocations: 0 });
  assert.equal((await ironic('GET', '/nodes/life-other')).body.provision_state, 'available');
});

test('10 concurrent creates on 10 matching nodes: 10 ACTIVE on 10 distinct nodes; the 11th ERROR with NoValidHost; nothing left allocated', async () => {
  const nodes = await makeNodes(seed, admin, Array.from({ length: 10 }, (_, i) => `race-${i}`), { resourceClass: 'race' });
  const flavor = await makeFlavor(seed, admin, 'race', 'CUSTOM_RACE');
  const made = await Promise.all(Array.from({ length: 11 }, (_, i) => nova('POST', '/servers', { server: { name: `race-${i}`, imageRef: 'cirros', flavorRef: flavor, networks: 'none' } })));
  assert.deepEqual(made.map((m) => m.status), Array(11).fill(202));
  const ids = made.map((m) => m.body.server.id as string);
  const final = await Promise.all(ids.map((id) => waitServer(seed, admin, id, ['ACTIVE', 'ERROR'])));
  const active = final.filter((s) => s.status === 'ACTIVE');
  const errors = final.filter((s) => s.status === 'ERROR');
  assert.equal(active.length, 10);
  assert.equal(errors.length, 1);
  const hosts = active.map((s) => s['OS-EXT-SRV-ATTR:hypervisor_hostname']);
  assert.equal(new Set(hosts).size, 10);
  assert.deepEqual([...hosts].sort(), [...nodes].sort());
  assert.match(errors[0].fault.message, /^No valid host was found\. /);
  assert.equal(errors[0].fault.code, 500);
  assert.equal(errors[0]['OS-EXT-SRV-ATTR:hypervisor_hostname'], null);
  // Each node holds exactly its server.
  for (const s of active) assert.equal((await ironic('GET', `/nodes/${s['OS-EXT-SRV-ATTR:hypervisor_hostname']}`)).body.instance_uuid, s.id);
  const held = await claimed(seed, admin);
  assert.equal(held.nodes.length, 10);
  assert.equal(held.allocations, 10);

  await deleteAll(ids);
  assert.deepEqual(await claimed(seed, admin), { nodes: [], allocations: 0 });
  for (const n of nodes) await nodeIn(seed, admin, n, 'available');
});

test('a flavor no node matches ends in ERROR with the reason; nothing is allocated', async () => {
  await makeNodes(seed, admin, ['nomatch-1'], { resourceClass: 'nomatch', traits: ['CUSTOM_RED'] });
  const cases: [string, string, Record<string, string>, RegExp][] = [
    ['nm-class', 'CUSTOM_NOTHING_HERE', {}, /resource class CUSTOM_NOTHING_HERE/],
    ['nm-trait', 'CUSTOM_NOMATCH', { 'trait:CUSTOM_BLUE': 'required' }, /required traits CUSTOM_BLUE/],
    ['nm-forbid', 'CUSTOM_NOMATCH', { 'trait:CUSTOM_RED': 'forbidden' }, /forbidden traits CUSTOM_RED/],
  ];
  for (const [name, rc, extra, why] of cases) {
    const flavor = await makeFlavor(seed, admin, name, rc, extra);
    const id = await create(name, flavor);
    const s = await waitServer(seed, admin, id, ['ERROR', 'ACTIVE']);
    assert.equal(s.status, 'ERROR', name);
    assert.match(s.fault.message, /^No valid host was found\./);
    assert.match(s.fault.message, why);
    await deleteAll([id]);
  }
  // A flavor without a custom resource class cannot match a bare-metal node.
  const plain = await nova('POST', '/flavors', { flavor: { name: 'nm-plain', ram: 512, vcpus: 1, disk: 1 } });
  const id = await create('nm-plain', plain.body.flavor.id);
  const s = await waitServer(seed, admin, id, ['ERROR']);
  assert.match(s.fault.message, /names no custom resource class/);
  assert.deepEqual(await claimed(seed, admin), { nodes: [], allocations: 0 });
  assert.equal((await ironic('GET', '/nodes/nomatch-1')).body.provision_state, 'available');
  await deleteAll([id]);
});

test('a failed deploy releases the node and reschedules once to another node; a second failure is ERROR with both attempts recorded', async () => {
  // The "direct" node's deploy waits for an agent that never calls back: it fails after 1 s.
  const [bad] = await makeNodes(seed, admin, ['retry-bad'], { resourceClass: 'retry', deploy: 'direct' });
  // The good node is kept out of the first choice by maintenance, then released for the retry.
  const [good] = await makeNodes(seed, admin, ['retry-good'], { resourceClass: 'retry' });
  assert.equal((await ironic('PUT', `/nodes/${good}/maintenance`, { reason: 'held for the test' })).status, 202);
  const flavor = await makeFlavor(seed, admin, 'retry', 'CUSTOM_RETRY');
  const id = await create('retry', flavor);
  await waitFor('first attempt on the bad node', () => server(seed, admin, id), (s) => s['OS-EXT-SRV-ATTR:hypervisor_hostname'] === bad);
  assert.equal((await ironic('DELETE', `/nodes/${good}/maintenance`)).status, 202);
  const s = await waitServer(seed, admin, id, ['ACTIVE', 'ERROR'], 30_000);
  assert.equal(s.status, 'ACTIVE', JSON.stringify(s.fault));
  assert.equal(s['OS-EXT-SRV-ATTR:hypervisor_hostname'], good);
  const reqId = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.find((a: { action: string }) => a.action === 'create').request_id;
  const events = (await nova('GET', `/servers/${id}/os-instance-actions/${reqId}`)).body.instanceAction.events;
  assert.deepEqual(events.map((e: { result: string; host: string }) => [e.result, e.host]), [['Error', bad], ['Success', good]]);
  // The bad node was released (torn down, not holding the server).
  const badNode = await waitFor('bad node released', async () => (await ironic('GET', `/nodes/${bad}`)).body, (n) => n.instance_uuid === null && !n.reservation);
  assert.equal(badNode.allocation_uuid, null);
  await deleteAll([id]);

  // Two failing nodes: both tried, then ERROR, and both released.
  const [bad2] = await makeNodes(seed, admin, ['retry-bad-2'], { resourceClass: 'retry2', deploy: 'direct' });
  const [bad3] = await makeNodes(seed, admin, ['retry-bad-3'], { resourceClass: 'retry2', deploy: 'direct' });
  const flavor2 = await makeFlavor(seed, admin, 'retry2', 'CUSTOM_RETRY2');
  const id2 = await create('retry2', flavor2);
  const failed = await waitServer(seed, admin, id2, ['ERROR', 'ACTIVE'], 30_000);
  assert.equal(failed.status, 'ERROR');
  assert.match(failed.fault.message, /^No valid host was found\. Exceeded max scheduling attempts 2 for instance .* Last exception: /);
  for (const n of [bad2, bad3]) await waitFor(`node ${n} released`, async () => (await ironic('GET', `/nodes/${n}`)).body, (x) => x.instance_uuid === null && x.allocation_uuid === null && !x.reservation);
  await deleteAll([id2]);
  assert.deepEqual(await claimed(seed, admin), { nodes: [], allocations: 0 });
});

test('server groups: anti-affinity members on distinct nodes; affinity refuses a second member on bare metal', async () => {
  await makeNodes(seed, admin, ['grp-1', 'grp-2', 'grp-3'], { resourceClass: 'grp' });
  const flavor = await makeFlavor(seed, admin, 'grp', 'CUSTOM_GRP');
  const anti = await nova('POST', '/os-server-groups', { server_group: { name: 'spread', policy: 'anti-affinity' } });
  assert.equal(anti.status, 200, JSON.stringify(anti.body));
  assert.equal(anti.body.server_group.policy, 'anti-affinity');
  const old = await nova('POST', '/os-server-groups', { server_group: { name: 'old-style', policies: ['anti-affinity'] } }, admin, '2.1');
  assert.deepEqual(old.body.server_group.policies, ['anti-affinity']);
  assert.equal((await nova('POST', '/os-server-groups', { server_group: { name: 'x', policy: 'sideways' } })).status, 400);
  const ids = await Promise.all([1, 2, 3].map((i) => create(`spread-${i}`, flavor, {}, { group: anti.body.server_group.id })));
  const active = await Promise.all(ids.map((id) => waitServer(seed, admin, id, ['ACTIVE'])));
  assert.equal(new Set(active.map((s) => s['OS-EXT-SRV-ATTR:hypervisor_hostname'])).size, 3);
  assert.deepEqual(active[0].server_groups, [anti.body.server_group.id]);
  const g = await nova('GET', `/os-server-groups/${anti.body.server_group.id}`);
  assert.deepEqual([...g.body.server_group.members].sort(), [...ids].sort());
  await deleteAll(ids);

  const aff = await nova('POST', '/os-server-groups', { server_group: { name: 'together', policy: 'affinity' } });
  const first = await create('together-1', flavor, {}, { group: aff.body.server_group.id });
  await waitServer(seed, admin, first, ['ACTIVE']);
  const second = await nova('POST', '/servers', { server: { name: 'together-2', imageRef: 'cirros', flavorRef: flavor, networks: 'none' }, 'os:scheduler_hints': { group: aff.body.server_group.id } });
  assert.equal(second.status, 400);
  assert.match(second.body.badRequest.message, /affinity policy.*cannot put more than one server on a host/);
  assert.equal((await nova('POST', '/servers', { server: { name: 'nogroup', imageRef: 'cirros', flavorRef: flavor, networks: 'none' }, 'os:scheduler_hints': { group: '00000000-0000-0000-0000-000000000000' } })).status, 400);
  await deleteAll([first]);
  assert.equal((await nova('DELETE', `/os-server-groups/${aff.body.server_group.id}`)).status, 204);
});

test('list filters: name regex (linear, bounded), status, image, flavor; paging; bad requests name the field', async () => {
  await makeNodes(seed, admin, ['flt-1', 'flt-2'], { resourceClass: 'flt' });
  const flavor = await makeFlavor(seed, admin, 'flt', 'CUSTOM_FLT');
  const ids = [await create('web-01', flavor), await create('db-01', flavor)];
  await Promise.all(ids.map((id) => waitServer(seed, admin, id, ['ACTIVE'])));
  const names = async (q: string) => (await nova('GET', `/servers/detail?${q}`)).body.servers.map((s: { name: string }) => s.name).sort();
  assert.deepEqual(await names('name=^web'), ['web-01']);
  assert.deepEqual(await names('name=-01$'), ['db-01', 'web-01']);
  assert.deepEqual(await names(`flavor=${flavor}&status=ACTIVE`), ['db-01', 'web-01']);
  assert.deepEqual(await names('status=SHUTOFF'), []);
  assert.deepEqual(await names('image=00000000-0000-0000-0000-000000000000'), []);
  // A backtracking bomb is just a pattern to RE2: answered at once.
  assert.equal((await nova('GET', `/servers?name=${encodeURIComponent('(a|a)*$')}`)).status, 200);
  const bad = await nova('GET', `/servers?name=${encodeURIComponent('(a')}`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.badRequest.message, /query\.name/);
  assert.equal((await nova('GET', `/servers?name=${'a'.repeat(300)}`)).status, 400);
  const blowup = await nova('GET', `/servers?name=${encodeURIComponent('((a{100}){100}){100}')}`);
  assert.equal(blowup.status, 400);
  assert.match(blowup.body.badRequest.message, /query\.name: the pattern's counted repeats/);
  assert.equal((await nova('GET', '/servers?status=SIDEWAYS')).status, 400);
  const page = await nova('GET', '/servers?limit=1');
  assert.equal(page.body.servers.length, 1);
  assert.match(page.body.servers_links[0].href, /marker=/);
  const next = await nova('GET', `/servers?limit=1&marker=${page.body.servers[0].id}`);
  assert.notEqual(next.body.servers[0].id, page.body.servers[0].id);

  // Create: fields are named in the 400s.
  for (const [body, why] of [
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: flavor } }, /server\.networks: is required from microversion 2.37/],
    [{ server: { name: 'x', imageRef: 'nope', flavorRef: flavor, networks: 'none' } }, /server\.imageRef/],
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: 'nope', networks: 'none' } }, /server\.flavorRef/],
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: flavor, networks: 'none', key_name: 'nope' } }, /server\.key_name/],
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: flavor, networks: [{ uuid: 'net' }] } }, /Network net could not be found/],
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: flavor, networks: 'none', user_data: '!!' } }, /server\.user_data/],
    [{ server: { name: 'x', imageRef: 'cirros', flavorRef: flavor, networks: 'none', bogus: 1 } }, /server\.bogus/],
  ] as const) {
    const r = await nova('POST', '/servers', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.badRequest.message, why);
  }
  // Before 2.37 networks may be left out.
  const old = await seed.call('POST', '/compute/v2.1/servers', { token: admin, headers: NOVA('2.1'), body: { server: { name: 'old', imageRef: 'cirros', flavorRef: flavor } } });
  assert.equal(old.status, 202);
  await deleteAll([...ids, old.body.server.id]);
});

test('console output on a Redfish node: 501 naming why while the BMC has no serial console log, its tail once it offers one', async () => {
  const bmc = new FixtureBmc(loadFixture('dell-idrac'), 'root', 'calvin');
  await bmc.start();
  after(() => bmc.stop());
  const made = await ironic('POST', '/nodes', {
    name: 'rf-console',
    driver: 'redfish',
    driver_info: { redfish_address: bmc.url, redfish_username: 'root', redfish_password: 'calvin' },
    boot_interface: 'fake',
    deploy_interface: 'fake',
    resource_class: 'rf.console',
    automated_clean: false,
    properties: { cpus: 8, memory_mb: 16384, local_gb: 100 },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const [target, state] of [['manage', 'manageable'], ['provide', 'available']] as const) {
    assert.equal((await ironic('PUT', '/nodes/rf-console/states/provision', { target })).status, 202);
    await nodeIn(seed, admin, 'rf-console', state);
  }
  const id = await create('rf-console-server', await makeFlavor(seed, admin, 'rf-console', 'CUSTOM_RF_CONSOLE'));
  await waitServer(seed, admin, id, ['ACTIVE']);

  const none = await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: 5 } });
  assert.equal(none.status, 501, JSON.stringify(none.body));
  assert.match(none.body.notImplemented.message, new RegExp(`Node rf-console \\(${made.body.uuid}\\) has no console log: the Redfish BMC at .* offers no serial console log`));

  bmc.serialConsole = 'SeaBIOS\niPXE\nDebian GNU/Linux 12 rf-console ttyS0\n\nrf-console login: ';
  const tail = await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: 2 } });
  assert.equal(tail.status, 200, JSON.stringify(tail.body));
  assert.equal(tail.body.output, '\nrf-console login: ');
  assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': {} })).body.output, bmc.serialConsole);
  await deleteAll([id]);
});
