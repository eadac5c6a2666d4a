// The metadata service end to end through a real network, without QEMU: the seed's REAL dnsmasq
// on the host end of a veth pair, busybox udhcpc in a network namespace at the other end as the
// deployed machine. The machine takes its address and the 169.254.169.254/32 route from our DHCP
// answer (option 121), then asks http://169.254.169.254/openstack/latest/meta_data.json: it gets
// exactly the bytes its config drive holds once its node is active, nothing before; an address
// of the same machine that our DHCP did not lease gets nothing, nor does another MAC using the
// leased address. Needs root (namespaces, veth,
// port 80). While it runs, 169.254.169.254 is a local address of this host (removed at the end).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { configDriveFiles } from '../src/common/instance-metadata.js';
import { configDriveParams } from '../src/baremetal/drivers/direct-deploy.js';
import { startSeed, type TestSeed } from './support/seed.js';

const MAC = '52:54:00:4d:44:01';
const USER_DATA_SECRET = `md-secret-${randomBytes(4).toString('hex')}`;
const id = randomBytes(3).toString('hex');
const cliNs = `bs-md-c-${id}`;
const hostIf = `bsm${id}`;
const cliIf = `bsn${id}`;
const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
let dir = '';
let seed: TestSeed | undefined;

const ip = (...args: string[]) => run('ip', args, { timeoutMs: 10_000 });
const inNs = (cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', cliNs, cmd, ...args], { allowFailure: true, timeoutMs: 30_000 });

async function removeNetwork(): Promise<void> {
  await run('ip', ['netns', 'del', cliNs], { allowFailure: true });
  // Deleting the namespace deletes the veth pair; this covers a failure before the move.
  await run('ip', ['link', 'del', hostIf], { allowFailure: true });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-md-net-'));
  try {
    await ip('netns', 'add', cliNs);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', cliIf);
    await ip('link', 'set', cliIf, 'netns', cliNs);
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', hostIf);
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', cliNs, 'link', 'set', 'lo', 'up');
    await ip('-n', cliNs, 'link', 'set', cliIf, 'address', MAC);
    await ip('-n', cliNs, 'link', 'set', cliIf, 'up');
    seed = await startSeed(
      {
        // Only what this test needs.
        services: ['identity', 'baremetal', 'images', 'boot', 'metadata'],
        baremetal: { conductor: { host: 'md', check_interval: 0.1, sync_power_state_interval: 0, automated_clean: false } },
        boot: { dnsmasq: { enabled: true, interface: hostIf, range_start: `${subnet}.50`, range_end: `${subnet}.99`, ipv6_ra: false } },
        // interface: boot.dnsmasq.interface by default (dnsmasq runs in this namespace).
        metadata: { enabled: true },
      },
      { stateDir: join(dir, 'state') },
    );
  } catch (err) {
    await seed?.stop().catch(() => undefined);
    await removeNetwork();
    throw err;
  }
});

after(async () => {
  await seed?.stop().catch((err: unknown) => console.error('seed stop failed', err));
  await removeNetwork();
  if (dir) await rm(dir, { recursive: true, force: true });
  // The service removes the address it added; the link is gone anyway. Nothing must remain.
  const left = await run('ip', ['-4', '-o', 'addr', 'show'], { allowFailure: true });
  assert.ok(!left.stdout.includes('169.254.169.254/32'), left.stdout);
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = seed!;
  return s.call(method, `/baremetal/v1${path}`, { token: await s.token(), body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
}

async function waitState(uuid: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const n = (await api('GET', `/nodes/${uuid}`)).body;
    if (n.provision_state === state && !n.target_provision_state) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`node ${uuid} never reached ${state}: ${JSON.stringify((await api('GET', `/nodes/${uuid}`)).body)}`);
}

/** GET from inside the namespace, optionally from a given source address: [status, body]. */
async function fetchFromMachine(url: string, source?: string): Promise<[number, string]> {
  const out = join(dir, `body-${randomBytes(3).toString('hex')}`);
  const r = await inNs('curl', '-sS', '--max-time', '10', ...(source ? ['--interface', source] : []), '-o', out, '-w', '%{http_code}', url);
  assert.equal(r.code, 0, r.stderr);
  return [Number(r.stdout), await readFile(out, 'utf8').catch(() => '')];
}

test('a deployed machine reaches 169.254.169.254 through the DHCP route and reads its config drive content; others get 404', { timeout: 120_000 }, async () => {
  const s = seed!;
  const created = await api('POST', '/nodes', { name: 'md-node', driver: 'fake-hardware' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const uuid: string = created.body.uuid;
  assert.equal((await api('POST', '/ports', { node_uuid: uuid, address: MAC })).status, 201);
  assert.equal((await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
  await waitState(uuid, 'manageable');
  assert.equal((await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'provide' })).status, 202);
  await waitState(uuid, 'available');

  // The machine's DHCP: busybox udhcpc asks for option 121 and hands the answer to a script
  // that records it; the test then configures what the answer says.
  const script = join(dir, 'udhcpc.sh');
  await writeFile(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${join(dir, 'lease.env')}\nexit 0\n`);
  await chmod(script, 0o755);
  const dhcp = await inNs('busybox', 'udhcpc', '-i', cliIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-O', 'staticroutes', '-s', script);
  assert.equal(dhcp.code, 0, dhcp.stdout + dhcp.stderr);
  const env = Object.fromEntries((await readFile(join(dir, 'lease.env'), 'utf8')).split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const leased = env.ip ?? '';
  assert.match(leased, new RegExp(`^${subnet.replaceAll('.', '\\.')}\\.(\\d+)$`));
  // Option 121: the metadata host route and, as RFC 3442 requires with it, the default route.
  assert.equal(env.staticroutes, `169.254.169.254/32 ${subnet}.1 0.0.0.0/0 ${subnet}.1`);
  await ip('-n', cliNs, 'addr', 'add', `${leased}/${env.mask}`, 'dev', cliIf);
  const [dest, via] = (env.staticroutes ?? '').split(' ');
  await ip('-n', cliNs, 'route', 'add', dest!, 'via', via!, 'dev', cliIf);

  const url = 'http://169.254.169.254/openstack/latest/meta_data.json';
  // Leased and enrolled, but not deployed: nothing.
  assert.deepEqual(await fetchFromMachine(url), [404, 'Not Found']);

  const configdrive = {
    meta_data: { public_keys: { default: 'ssh-ed25519 AAAAC3Nza md@test' }, 'os-collect-config': { collectors: ['request'], request: { metadata_url: 'http://seed/x' } } },
    user_data: `#!/bin/sh\necho ${USER_DATA_SECRET}\n`,
  };
  assert.equal((await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'active', configdrive })).status, 202);
  await waitState(uuid, 'active');

  // What the config drive of this node holds, from the same function the conductor sends the agent.
  const drive = configDriveFiles(configDriveParams({ uuid, name: 'md-node', driver_info: {}, properties: {}, instance_info: { configdrive }, power_state: null, boot_mode: null }, [MAC])!);
  const [status, body] = await fetchFromMachine(url);
  assert.equal(status, 200, body);
  assert.equal(body, drive.get('openstack/latest/meta_data.json'));
  assert.deepEqual(JSON.parse(body)['os-collect-config'], configdrive.meta_data['os-collect-config']);
  assert.deepEqual(await fetchFromMachine('http://169.254.169.254/openstack/2018-08-27/network_data.json'), [200, drive.get('openstack/2018-08-27/network_data.json')]);
  assert.deepEqual(await fetchFromMachine('http://169.254.169.254/latest/meta-data/hostname'), [200, 'md-node']);

  // A second address on the same machine that our DHCP never leased: nothing.
  await ip('-n', cliNs, 'addr', 'add', `${subnet}.200/24`, 'dev', cliIf);
  assert.deepEqual(await fetchFromMachine(url, `${subnet}.200`), [404, 'Not Found']);

  // Another machine takes the leased address (another MAC): the seed's neighbour entry names it,
  // not the lease's MAC, and it gets nothing.
  await ip('-n', cliNs, 'addr', 'del', `${subnet}.200/24`, 'dev', cliIf);
  await ip('-n', cliNs, 'link', 'set', cliIf, 'address', '52:54:00:4d:44:99');
  await ip('neigh', 'flush', 'dev', hostIf);
  assert.deepEqual(await fetchFromMachine(url), [404, 'Not Found']);

  const log = s.logLines.join('');
  assert.match(log, /neighbour entry's MAC 52:54:00:4d:44:99 is not the leased 52:54:00:4d:44:01/);
  assert.match(log, new RegExp(`"ip":"${leased.replaceAll('.', '\\.')}","node":"${uuid}"`));
  assert.match(log, new RegExp(`"ip":"${subnet.replaceAll('.', '\\.')}\\.200".*request refused`));
  assert.ok(!log.includes(USER_DATA_SECRET), 'user data in the seed log');
  assert.ok(!log.includes('AAAAC3Nza md@test'), 'a public key in the seed log');
});
