// Deploy end to end on loopback: the REAL seed (identity, baremetal, images, boot) with a node
// whose power and management are the fake drivers but whose boot is "ipxe" and deploy "direct",
// and the REAL deploy agent playing the machine in this process. The agent reads the boot secret
// from the iPXE script the seed serves, looks itself up, pulls the commands the conductor queues,
// streams the image from the seed (/boot/images/{token}) into a disk FILE (<root>/dev/vda, found
// through a fake /sys/block and the node's root device hint) and writes the config drive. Then:
// wrong checksum, no lookup before the timeout, and the seed restarted after the lookup (the node
// waits on; test/boot-deploy-restart.test.ts carries such deploys through to active).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, mkdir, writeFile, truncate, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeed, type TestSeed } from './support/seed.js';
import { assertInOrder } from './support/in-order.js';
import { LoopbackDeploy, agentOutcome } from './support/loopback-deploy.js';
import { runAgent, AgentApiError } from '../src/agents/deploy-agent/agent.js';
import { run } from '../src/common/child-process.js';

const MiB = 1024 * 1024;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstackE2ETestKeyOnlyForThisTest e2e@test';
let dir = '';
let stateDir = '';
let seed: TestSeed;
let token = '';
let image = Buffer.alloc(0);
let imageId = '';

/** The seed's baremetal API, fake machines and nodes (its waits: 30 s). */
let t: LoopbackDeploy;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-deploy-e2e-'));
  stateDir = join(dir, 'state');
  seed = await startSeed(
    { baremetal: { conductor: { host: 'e2e', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } } },
    { stateDir },
  );
  token = await seed.token();
  t = new LoopbackDeploy(seed, token, dir, 30_000);
  // A whole-disk image: GPT, one partition of random bytes.
  const img = join(dir, 'image.raw');
  await writeFile(img, '');
  await truncate(img, 6 * MiB);
  await run('sfdisk', ['--quiet', img], { input: 'label: gpt\nsize=4MiB, name=root\n' });
  const fh = await open(img, 'r+');
  await fh.write(randomBytes(4 * MiB), 0, 4 * MiB, MiB);
  await fh.close();
  image = await readFile(img);
  const created = await seed.call('POST', '/image/v2/images', { token, body: { name: 'e2e-disk', disk_format: 'raw', container_format: 'bare' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  imageId = created.body.id;
  const up = await seed.call('PUT', `/image/v2/images/${imageId}/file`, { token, raw: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.status, 204, JSON.stringify(up.body));
});

after(async () => {
  await seed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('deploy: ipxe + direct with the real agent writes the image and config drive; the node is active; the timeline shows each step', async () => {
  const mac = '52:54:00:e2:00:01';
  const m = await t.machine('m1');
  const id = await t.availableNode('e2e-node', mac, { image_source: imageId });
  // The config drive as `openstack baremetal node deploy --config-drive` sends it.
  const configdrive = { meta_data: { hostname: 'e2e-host', public_keys: { default: KEY } }, user_data: '#cloud-config\n', network_data: { links: [], networks: [], services: [] } };
  assert.equal((await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'active', configdrive })).status, 202);
  const waiting = await t.waitNode(id, (n) => n.provision_state === 'wait call-back');
  assert.equal(waiting.power_state, 'power on');
  assert.deepEqual((await t.api('GET', `/nodes/${id}/management/boot_device`)).body, { boot_device: 'pxe', persistent: false });

  const { apiUrl, bootSecret } = await t.bootScript(mac);
  assert.equal(apiUrl, `${seed.url}/boot`);
  const logs: string[] = [];
  // The agent runs until the deploy ends: then its token is revoked and its next poll is a 401.
  const agent = agentOutcome(runAgent({ apiUrl, bootSecret, root: m.root, macs: [mac], pollMs: 50, log: (l) => logs.push(l) }));
  const active = await t.waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed');
  assert.equal(active.provision_state, 'active', active.last_error);
  assert.equal(active.last_error, null);
  assert.equal(await agent, 'revoked', logs.join('\n'));
  assert.deepEqual((await t.api('GET', `/nodes/${id}/management/boot_device`)).body, { boot_device: 'disk', persistent: true });

  // The disk holds the image (the partition's bytes; the config drive step rewrote GPT headers only).
  const disk = await readFile(m.disk);
  assert.ok(disk.subarray(MiB, 5 * MiB).equals(image.subarray(MiB, 5 * MiB)));
  assert.ok(disk.subarray(0, 440).equals(image.subarray(0, 440)));
  // A config-2 partition at the disk's end with the hostname and the SSH key.
  const parts = JSON.parse((await run('sfdisk', ['--json', m.disk])).stdout).partitiontable.partitions as Array<{ start: number; name?: string }>;
  const cd = parts.find((p) => p.name === 'config-2');
  assert.ok(cd, JSON.stringify(parts));
  const offset = cd.start * 512;
  const blkid = await run('blkid', ['-p', '-O', String(offset), '-o', 'export', m.disk]);
  assert.match(blkid.stdout, /^LABEL=config-2$/m);
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  const meta = JSON.parse((await run('mtype', ['-i', `${m.disk}@@${offset}`, '::openstack/latest/meta_data.json'], { env })).stdout);
  assert.equal(meta.hostname, 'e2e-host');
  assert.equal(meta.uuid, id);
  assert.deepEqual(meta.public_keys, { default: KEY });
  assert.equal((await run('mtype', ['-i', `${m.disk}@@${offset}`, '::openstack/latest/user_data'], { env })).stdout, '#cloud-config\n');

  // The timeline, in order.
  const events = await t.history(id);
  const order = [
    /^available -> deploying \(deploy\)$/,
    /^network boot of the deploy ramdisk prepared for 52:54:00:e2:00:01 \(BIOS\); boot device pxe$/,
    /^powered on; waiting for the deploy ramdisk to look up$/,
    /^deploying -> wait call-back \(wait\)$/,
    /^iPXE script fetched \(52-54-00-e2-00-01\)$/,
    /^deploy agent looked up \(52:54:00:e2:00:01\)$/,
    /^agent command write_image started$/,
    /^image .* fetched: 6\.0 MiB in /,
    /^agent command write_image succeeded: 6\.0 MiB in \d+\.\d\d s \(\d+\.\d MB\/s\)$/,
    /^agent command write_config_drive started$/,
    /^agent command write_config_drive succeeded$/,
    /^agent command sync started$/,
    /^agent command sync succeeded$/,
    /^wait call-back -> deploying \(resume: the agent finished\)$/,
    /^boot device set to disk \(persistent\)$/,
    /^rebooting into the deployed image$/,
    /^deploying -> active \(done\)$/,
  ];
  assertInOrder(events, order);

  // `bootstack node timeline`: the last operation's steps with times and gaps.
  const cli = await run(process.execPath, ['--import', 'tsx', 'bin/bootstack.js', 'node', 'timeline', 'e2e-node', '-f', 'json'], {
    env: { ...process.env, OS_CLIENT_CONFIG_FILE: join(stateDir, 'clouds.yaml'), OS_CLOUD: 'bootstack', HOME: stateDir },
    timeoutMs: 60_000,
  });
  const rows = JSON.parse(cli.stdout) as Array<{ time: string; delta: string; elapsed: string; event: string }>;
  assert.equal(rows[0]!.event, 'available -> deploying (deploy)');
  assert.equal(rows[0]!.delta, '+0.000');
  assert.equal(rows.at(-1)!.event, 'deploying -> active (done)');
  assert.ok(rows.some((r) => /^agent command write_image succeeded: .* MB\/s\)$/.test(r.event)));
  assert.ok(rows.every((r) => /^\+\d+\.\d{3}$/.test(r.delta) && Date.parse(r.time) > 0));
  assert.ok(!rows.some((r) => /manageable -> /.test(r.event)), 'only the last operation by default');
});

test('automated cleaning with the direct interface: the agent erases the disk, the node becomes available', async () => {
  const mac = '52:54:00:e2:00:05';
  const m = await t.machine('m5');
  await writeFile(m.disk, image); // an old deployment on the disk
  await truncate(m.disk, 96 * MiB);
  const c = await t.api('POST', '/nodes', { name: 'cleaner', driver: 'fake-hardware', boot_interface: 'ipxe', deploy_interface: 'direct', automated_clean: true });
  const id = c.body.uuid as string;
  await t.api('POST', '/ports', { node_uuid: id, address: mac });
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
  await t.waitNode(id, (n) => n.provision_state === 'manageable');
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'provide' });
  const waiting = await t.waitNode(id, (n) => n.provision_state === 'clean wait');
  assert.equal(waiting.target_provision_state, 'available');
  const { apiUrl, bootSecret } = await t.bootScript(mac);
  const agent = runAgent({ apiUrl, bootSecret, root: m.root, macs: [mac], pollMs: 50, log: () => undefined }).catch((e: unknown) => e);
  const done = await t.waitNode(id, (n) => n.provision_state === 'available' || n.provision_state === 'clean failed');
  assert.equal(done.provision_state, 'available', done.last_error);
  assert.equal(done.power_state, 'power off');
  assert.ok((await agent) instanceof AgentApiError);
  const disk = await readFile(m.disk);
  assert.ok(disk.subarray(0, MiB).every((b) => b === 0), 'partition table wiped');
  assert.ok(disk.subarray(disk.length - MiB).every((b) => b === 0), 'backup GPT wiped');
  const probe = await run('blkid', ['-p', '-o', 'export', m.disk], { allowFailure: true });
  assert.doesNotMatch(probe.stdout, /PTTYPE/, 'no partition table left');
  const events = await t.history(id);
  assert.ok(events.includes('agent command erase succeeded'), events.join('\n'));
  assert.ok(events.includes('cleaning done; powered off'), events.join('\n'));
});

test('in-band inspection with the agent: properties from the machine itself, a port per NIC, powered off', async () => {
  const mac = '52:54:00:e2:00:06';
  const second = '52:54:00:e2:00:16';
  const m = await t.machine('m6');
  await writeFile(join(m.root, 'sys/block/vda/size'), String((20 * 1024 ** 3) / 512)); // what the kernel says: 20 GiB
  for (const [nic, addr] of [['eth0', mac], ['eth1', second]] as const) {
    await mkdir(join(m.root, 'sys/class/net', nic, 'device'), { recursive: true });
    await writeFile(join(m.root, 'sys/class/net', nic, 'type'), '1\n');
    await writeFile(join(m.root, 'sys/class/net', nic, 'address'), `${addr}\n`);
  }
  const c = await t.api('POST', '/nodes', { name: 'inspected', driver: 'fake-hardware', boot_interface: 'ipxe', inspect_interface: 'agent' });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.uuid as string;
  await t.api('POST', '/ports', { node_uuid: id, address: mac });
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
  await t.waitNode(id, (n) => n.provision_state === 'manageable');
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'inspect' });
  await t.waitNode(id, (n) => n.provision_state === 'inspect wait');
  const { apiUrl, bootSecret } = await t.bootScript(mac);
  const agent = runAgent({ apiUrl, bootSecret, root: m.root, pollMs: 50, log: () => undefined }).catch((e: unknown) => e);
  const done = await t.waitNode(id, (n) => n.provision_state === 'manageable' || n.provision_state === 'inspect failed');
  assert.equal(done.provision_state, 'manageable', done.last_error);
  assert.ok((await agent) instanceof AgentApiError);
  assert.equal(done.properties.cpus, 1);
  assert.equal(done.properties.memory_mb, 768);
  assert.equal(done.properties.local_gb, 19);
  assert.ok(done.inspection_finished_at);
  assert.equal(done.power_state, 'power off');
  const ports = (await t.api('GET', `/nodes/${id}/ports?detail=true`)).body.ports.map((p: { address: string }) => p.address).sort();
  assert.deepEqual(ports, [mac, second]);
  assert.ok((await t.history(id)).includes('agent command inspect succeeded'));
});

test('a wrong checksum: deploy failed, last_error names write_image and the mismatch, nothing active, boot cleaned up', async () => {
  const mac = '52:54:00:e2:00:02';
  const m = await t.machine('m2');
  // image_source by name (as OS::Nova::Server gives it); the checksum overridden with a wrong one.
  const id = await t.availableNode('bad-sum', mac, { image_source: 'e2e-disk', image_checksum: '0'.repeat(64) });
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' });
  await t.waitNode(id, (n) => n.provision_state === 'wait call-back');
  const { apiUrl, bootSecret } = await t.bootScript(mac);
  const agent = runAgent({ apiUrl, bootSecret, root: m.root, macs: [mac], pollMs: 50, log: () => undefined }).catch((e: unknown) => e);
  const failed = await t.waitNode(id, (n) => n.provision_state !== 'wait call-back' && n.provision_state !== 'deploying');
  assert.equal(failed.provision_state, 'deploy failed');
  assert.match(failed.last_error, /^Deploy failed for node .*: agent command write_image failed: .*checksum mismatch/);
  assert.equal(failed.reservation, null);
  const e = await agent;
  assert.ok(e instanceof AgentApiError && e.status === 401, String(e));
  // The image's first MiB on the disk was wiped by the agent: nothing half-written boots.
  const head = (await readFile(m.disk)).subarray(0, MiB);
  assert.ok(head.every((b) => b === 0));
  // No pending boot any more: the machine's next network boot falls through to its disk.
  assert.match(await (await fetch(`${seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`)).text(), /no network boot is pending/);
  assert.ok((await t.history(id)).some((h) => /^agent command write_image failed: .*checksum mismatch/.test(h)));
});

test('no lookup within the deploy timeout: deploy failed, last_error points at DHCP and network boot', async () => {
  const s2 = await startSeed({ baremetal: { conductor: { host: 'e2e-timeout', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 1 } } });
  try {
    const t2 = new LoopbackDeploy(s2, await s2.token(), dir, 30_000);
    const id = await t2.availableNode('never-boots', '52:54:00:e2:00:03', { image_source: 'any' });
    await t2.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' });
    const n = await t2.waitNode(id, (x) => x.provision_state === 'deploy failed');
    assert.match(n.last_error, /Timeout reached while waiting in "wait call-back" .*no DHCP request from 52:54:00:e2:00:03 in 1 s — check that the machine boots from the network on its provisioning NIC/);
    assert.match(await (await fetch(`${s2.url}/boot/52-54-00-e2-00-03.ipxe`)).text(), /no network boot is pending/);
  } finally {
    await s2.stop();
  }
});

test('the seed restarted after the lookup: the node waits again, the agent token still works, abort revokes it', async () => {
  const mac = '52:54:00:e2:00:04';
  const id = await t.availableNode('restarted', mac, { image_source: imageId });
  await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' });
  await t.waitNode(id, (n) => n.provision_state === 'wait call-back');
  const { apiUrl, bootSecret } = await t.bootScript(mac);
  // The agent has looked up (it is mid-deploy) when the seed goes away.
  const lookup = await fetch(`${apiUrl}/agent/lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ macs: [mac], boot_secret: bootSecret }) });
  assert.equal(lookup.status, 200);
  const { agent_token } = (await lookup.json()) as { agent_token: string };
  await seed.server.stop();
  seed = await startSeed({ baremetal: { conductor: { host: 'e2e', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } } }, { stateDir });
  token = await seed.token();
  t = new LoopbackDeploy(seed, token, dir, 30_000);
  // Boot secret, session and commands were in the database: the node goes on waiting for its agent.
  const n = (await t.api('GET', `/nodes/${id}`)).body;
  assert.equal(n.provision_state, 'wait call-back');
  assert.equal(n.reservation, null);
  assert.ok((await t.history(id)).some((e) => /^conductor e2e restarted while the node was "wait call-back"; waiting for its agent again$/.test(e)));
  // The restarted conductor queues write_image again for the same agent token (the old seed's
  // /boot URL is gone with its port, so the new one is asked directly).
  const next = await fetch(`${seed.url}/boot/agent/nodes/${id}/commands/next`, { headers: { 'x-agent-token': agent_token } });
  assert.equal(next.status, 200);
  let command = ((await next.json()) as { command: { name: string } | null }).command;
  for (let i = 0; !command && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const again = await fetch(`${seed.url}/boot/agent/nodes/${id}/commands/next`, { headers: { 'x-agent-token': agent_token } });
    command = ((await again.json()) as { command: { name: string } | null }).command;
  }
  assert.equal(command?.name, 'write_image');
  // Abort ends it: the token is revoked and the node can be deployed again.
  assert.equal((await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'abort' })).status, 202);
  await t.waitNode(id, (x) => x.provision_state === 'deploy failed');
  // The watcher revokes the boot as it stops, just after the state change.
  let status = 0;
  for (let i = 0; i < 50 && status !== 401; i++) {
    status = (await fetch(`${seed.url}/boot/agent/nodes/${id}/commands/next`, { headers: { 'x-agent-token': agent_token } })).status;
    if (status !== 401) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
  assert.equal((await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
  await t.waitNode(id, (x) => x.provision_state === 'wait call-back');
  assert.equal((await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'abort' })).status, 202);
  await t.waitNode(id, (x) => x.provision_state === 'deploy failed');
});
