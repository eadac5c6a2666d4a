// Enrolled ports reach the REAL seed's dnsmasq: the seed runs dnsmasq in a network namespace we
// create (veth pair to a "machine" namespace). Port create/update/delete rewrite its hosts
// directory (a stale entry is dropped at start); a DHCP request from the enrolled MAC during a
// deploy lands in the node's timeline, and the phase timeout then names that last step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { createNetnsPair, type NetnsPair } from './support/dhcp-netns.js';

const MAC = '52:54:00:5a:00:01';
let dir = '';
let seed: TestSeed;
let token = '';
let net: NetnsPair;
const hostsDir = () => join(dir, 'state', 'boot', 'hosts');
const hostFiles = async () => (await readdir(hostsDir())).filter((f) => !f.startsWith('.')).sort();

async function api(method: string, path: string, body?: unknown) {
  return seed.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
}

async function waitNode(uuid: string, until: (n: Record<string, any>) => boolean): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const end = Date.now() + 30_000;
  for (;;) {
    const n = (await api('GET', `/nodes/${uuid}`)).body;
    if (until(n)) return n;
    if (Date.now() > end) throw new Error(`node stuck in ${n.provision_state}: ${n.last_error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-ports-sync-'));
  net = await createNetnsPair('psync');
  await net.ip('-n', net.cliNs, 'link', 'set', net.cliIf, 'address', MAC);
  await net.ip('-n', net.cliNs, 'link', 'set', net.cliIf, 'up');
  // A stale entry from an earlier run: the start-up sync must drop it.
  await mkdir(hostsDir(), { recursive: true });
  await writeFile(join(hostsDir(), '52-54-00-5a-00-99'), '52:54:00:5a:00:99\n');
  seed = await startSeed(
    {
      baremetal: { conductor: { host: 'psync', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 4 } },
      boot: {
        http_url: `http://${net.subnet}.1:6385/boot`,
        dnsmasq: { enabled: true, interface: net.srvIf, netns: net.srvNs, range_start: `${net.subnet}.50`, range_end: `${net.subnet}.99`, ipv6_ra: false },
      },
    },
    { stateDir: join(dir, 'state') },
  );
  token = await seed.token();
});

after(async () => {
  await seed?.stop();
  await net?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('port create/update/delete reach the hosts directory; DHCP from the MAC is on the timeline; the timeout names it', async () => {
  const deadline = Date.now() + 5000;
  while ((await hostFiles()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await hostFiles(), [], 'the stale entry is dropped at start');

  const c = await api('POST', '/nodes', { name: 'psync', driver: 'fake-hardware', boot_interface: 'ipxe', deploy_interface: 'direct', automated_clean: false, instance_info: { image_source: 'none' } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const uuid = c.body.uuid as string;
  const port = await api('POST', '/ports', { node_uuid: uuid, address: '52:54:00:5a:00:02' });
  assert.equal(port.status, 201);
  assert.deepEqual(await hostFiles(), ['52-54-00-5a-00-02']);
  await api('PATCH', `/ports/${port.body.uuid}`, [{ op: 'replace', path: '/address', value: MAC }]);
  assert.deepEqual(await hostFiles(), ['52-54-00-5a-00-01']);
  const other = await api('POST', '/ports', { node_uuid: uuid, address: '52:54:00:5a:00:03' });
  assert.deepEqual(await hostFiles(), ['52-54-00-5a-00-01', '52-54-00-5a-00-03']);
  assert.equal((await api('DELETE', `/ports/${other.body.uuid}`)).status, 204);
  assert.deepEqual(await hostFiles(), ['52-54-00-5a-00-01']);

  await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'manage' });
  await waitNode(uuid, (n) => n.provision_state === 'manageable');
  await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'provide' });
  await waitNode(uuid, (n) => n.provision_state === 'available');
  await api('PUT', `/nodes/${uuid}/states/provision`, { target: 'active' });
  await waitNode(uuid, (n) => n.provision_state === 'wait call-back');

  // The machine's DHCP request (busybox udhcpc as the enrolled NIC); it gets a lease from our dnsmasq.
  const r = await run('ip', ['netns', 'exec', net.cliNs, 'busybox', 'udhcpc', '-i', net.cliIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', '/bin/true'], { allowFailure: true, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);

  const failed = await waitNode(uuid, (n) => n.provision_state === 'deploy failed');
  const events = (await api('GET', `/nodes/${uuid}/history`)).body.history.map((h: { event: string }) => h.event) as string[];
  assert.ok(events.some((e) => e === `DHCP DHCPDISCOVER ${MAC}`), events.join('\n'));
  assert.ok(events.some((e) => new RegExp(`^DHCP DHCPACK ${MAC} ${net.subnet.replaceAll('.', '\\.')}\\.\\d+$`).test(e)), events.join('\n'));
  assert.match(failed.last_error, /Timeout reached while waiting in "wait call-back".*last step reached: DHCP DHCPACK 52:54:00:5a:00:01 .* the machine got DHCP but never fetched its iPXE script/);
});

test('importing 200 ports writes each host file once (no rewrite of the others); concurrent create/delete never leaves a deleted MAC', async () => {
  const c = await api('POST', '/nodes', { name: 'many-ports', driver: 'fake-hardware' });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const node = c.body.uuid as string;
  const mac = (i: number) => `52:54:00:7b:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const file = (m: string) => join(hostsDir(), m.replaceAll(':', '-'));
  const inodes = new Map<string, number>();
  const before = new Set(await hostFiles());
  const ids: string[] = [];
  // Eight at a time, as an import client does; each file's inode right after its port was created.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 200) {
        const m = mac(next++);
        const r = await api('POST', '/ports', { node_uuid: node, address: m });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.uuid);
        inodes.set(m, (await stat(file(m))).ino);
      }
    }),
  );
  // A rewrite replaces the file (write + rename), so an unchanged inode means written once.
  for (const [m, ino] of inodes) assert.equal((await stat(file(m))).ino, ino, `${m} was rewritten`);
  assert.equal((await hostFiles()).filter((f) => !before.has(f)).length, 200);

  // Races: a port deleted while others are created and changed; its file must not come back.
  for (let round = 0; round < 10; round++) {
    const victim = ids[round]!;
    const victimMac = mac(round);
    const results = await Promise.all([
      api('DELETE', `/ports/${victim}`),
      api('POST', '/ports', { node_uuid: node, address: mac(300 + round) }),
      api('PATCH', `/ports/${ids[100 + round]}`, [{ op: 'replace', path: '/address', value: mac(400 + round) }]),
    ]);
    assert.deepEqual(results.map((r) => r.status), [204, 201, 200]);
    const files = await hostFiles();
    assert.ok(!files.includes(victimMac.replaceAll(':', '-')), `round ${round}: deleted ${victimMac} still has a host file`);
    assert.ok(!files.includes(mac(100 + round).replaceAll(':', '-')), `round ${round}: the old MAC of a changed port still has a host file`);
    assert.ok(files.includes(mac(400 + round).replaceAll(':', '-')) && files.includes(mac(300 + round).replaceAll(':', '-')));
  }
  // Deleting the node drops the files of all its ports.
  assert.equal((await api('DELETE', `/nodes/${node}`)).status, 204);
  assert.deepEqual((await hostFiles()).filter((f) => f.startsWith('52-54-00-7b-')), []);
});
