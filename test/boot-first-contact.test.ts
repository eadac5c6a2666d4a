// The deployed system's first contact on the node's timeline, with the seed's REAL dnsmasq in a
// network namespace and busybox udhcpc (sending a hostname) as the deployed OS in another. A node
// deployed on loopback (real agent in-process) is marked as awaiting its first contact when it
// goes active; the seed is restarted (the mark is in the database), then the first DHCPACK to the
// node's MAC is recorded once, with the address, the hostname and the time since the deploy
// ended. A node that is not awaiting it gets no row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, truncate, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { LoopbackDeploy } from './support/loopback-deploy.js';
import { createNetnsPair, type NetnsPair } from './support/dhcp-netns.js';

const MiB = 1024 * 1024;
const MAC = '52:54:00:fc:00:01';
const OTHER = '52:54:00:fc:00:02';
let dir = '';
let port = 0;
let seed: TestSeed;
let t: LoopbackDeploy;
let net: NetnsPair;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

async function startOurSeed(): Promise<void> {
  seed = await startSeed(
    {
      listen: { host: '127.0.0.1', port },
      baremetal: { conductor: { host: 'fc', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } },
      boot: {
        // The agent runs on loopback: image URLs must point there; dnsmasq only hands this to iPXE.
        http_url: `http://127.0.0.1:${port}/boot`,
        dnsmasq: { enabled: true, interface: net.srvIf, netns: net.srvNs, range_start: `${net.subnet}.50`, range_end: `${net.subnet}.99`, ipv6_ra: false },
      },
    },
    { stateDir: join(dir, 'state') },
  );
  t = new LoopbackDeploy(seed, await seed.token(), dir);
}

/** The deployed OS asking for an address as `mac`, sending its hostname (option 12). */
async function dhcpAs(mac: string, hostname: string): Promise<void> {
  const { ip, cliNs, cliIf } = net;
  await ip('-n', cliNs, 'link', 'set', cliIf, 'down');
  await ip('-n', cliNs, 'link', 'set', cliIf, 'address', mac);
  await ip('-n', cliNs, 'link', 'set', cliIf, 'up');
  const r = await run('ip', ['netns', 'exec', cliNs, 'busybox', 'udhcpc', '-i', cliIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-x', `hostname:${hostname}`, '-s', '/bin/true'], { allowFailure: true, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

async function firstContactRows(uuid: string): Promise<string[]> {
  return (await t.history(uuid)).filter((e) => e.startsWith("deployed system's first contact"));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-first-contact-'));
  net = await createNetnsPair('fc');
  port = await freePort();
  await startOurSeed();
});

after(async () => {
  await seed?.stop();
  await net?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the first DHCPACK after a deploy is on the timeline once, across a seed restart; other nodes get no row', async () => {
  // A small raw image in the image service.
  const img = join(dir, 'image.raw');
  await writeFile(img, '');
  await truncate(img, 2 * MiB);
  const fh = await open(img, 'r+');
  await fh.write(randomBytes(MiB), 0, MiB, 0);
  await fh.close();
  const created = await seed.call('POST', '/image/v2/images', { token: t.token, body: { name: 'fc-image', disk_format: 'raw', container_format: 'bare' } });
  await seed.call('PUT', `/image/v2/images/${created.body.id}/file`, { token: t.token, raw: await readFile(img), headers: { 'content-type': 'application/octet-stream' } });

  const uuid = await t.availableNode('fc-node', MAC, { image_source: created.body.id });
  const other = await t.availableNode('fc-other', OTHER, { image_source: created.body.id });
  const m = await t.machine('fc1', 32);
  const { node, agent } = await t.deploy(uuid, MAC, m);
  assert.equal(node.provision_state, 'active', node.last_error);
  assert.equal(agent, 'revoked');
  const since = Date.parse(node.driver_internal_info.awaiting_first_contact);
  assert.ok(since > 0 && since <= Date.now(), JSON.stringify(node.driver_internal_info));
  assert.equal((await t.api('GET', `/nodes/${other}`)).body.driver_internal_info.awaiting_first_contact, undefined);

  // The seed restarts while the machine reboots: the mark is in the database.
  await seed.stop();
  await startOurSeed();

  const before = Date.now();
  await dhcpAs(MAC, 'fc-deployed');
  let rows: string[] = [];
  for (const end = Date.now() + 10_000; Date.now() < end && !rows.length; ) {
    rows = await firstContactRows(uuid);
    if (!rows.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(rows.length, 1, (await t.history(uuid)).join('\n'));
  const match = new RegExp(`^deployed system's first contact: DHCPACK ${net.subnet.replaceAll('.', '\\.')}\\.(\\d+) hostname fc-deployed from ${MAC}, (\\d+\\.\\d) s after the deploy ended$`).exec(rows[0]!);
  assert.ok(match, rows[0]);
  const seconds = Number(match[2]);
  assert.ok(seconds >= (before - since) / 1000 - 0.1 && seconds <= (Date.now() - since) / 1000 + 0.1, `${seconds} s`);
  assert.equal((await t.api('GET', `/nodes/${uuid}`)).body.driver_internal_info.awaiting_first_contact, undefined);
  // It comes after the deploy's end in the history.
  const events = await t.history(uuid);
  assert.ok(events.indexOf(rows[0]!) > events.lastIndexOf('deploying -> active (done)'));

  // The OS renews or reboots: no second row. The other node was never deployed: no row at all.
  await dhcpAs(MAC, 'fc-deployed');
  await dhcpAs(OTHER, 'fc-other-host');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await firstContactRows(uuid)).length, 1);
  assert.deepEqual(await firstContactRows(other), []);
});
