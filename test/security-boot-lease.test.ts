// Boot secrets bound to the DHCP lease, with the seed's REAL dnsmasq: a namespace holding a bridge
// (dnsmasq on it), a veth from the bridge to this host carrying the seed's address (as the lab's
// seed interface does), and a "machine" namespace on the bridge running busybox udhcpc and
// making its HTTP requests from there. The seed (in this process) sees the machine's own
// address. In dhcp mode the script goes only to the address our dnsmasq ACKed to the node's MAC
// after the boot was armed: an address on the segment without that lease is refused, before and
// after the DHCP; the leased address gets the script, and the lookup is accepted from it only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { LoopbackDeploy } from './support/loopback-deploy.js';
import { assertInOrder } from './support/in-order.js';
import type { BootService } from '../src/boot/index.js';
import { CMDLINE } from '../src/boot/ipxe-script.js';

const MAC = '52:54:00:5e:1e:01';
const id = randomBytes(3).toString('hex');
const segNs = `bs-sbl-s-${id}`;
const machineNs = `bs-sbl-c-${id}`;
const bridge = `bsb${id}`;
const hostIf = `bsh${id}`;
const machineIf = `bsc${id}`;
const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
/** An address on the segment that no lease of ours gave (someone else on the provisioning network). */
const STRANGER = `${subnet}.200`;
let dir = '';
let seed: TestSeed;
let t: LoopbackDeploy;

const ip = async (...args: string[]) => void (await run('ip', args, { timeoutMs: 10_000 }));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-security-lease-'));
  await ip('netns', 'add', segNs);
  await ip('netns', 'add', machineNs);
  await ip('-n', segNs, 'link', 'set', 'lo', 'up');
  await ip('-n', machineNs, 'link', 'set', 'lo', 'up');
  await ip('-n', segNs, 'link', 'add', bridge, 'type', 'bridge');
  await ip('-n', segNs, 'addr', 'add', `${subnet}.2/24`, 'dev', bridge);
  await ip('-n', segNs, 'link', 'set', bridge, 'up');
  // This host's end carries the seed's address; the other end is a bridge port.
  await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'seed', 'netns', segNs);
  await ip('addr', 'add', `${subnet}.1/24`, 'dev', hostIf);
  await ip('link', 'set', hostIf, 'up');
  await ip('-n', segNs, 'link', 'set', 'seed', 'master', bridge, 'up');
  // The machine's NIC, with the node's MAC.
  await ip('-n', machineNs, 'link', 'add', machineIf, 'address', MAC, 'type', 'veth', 'peer', 'name', 'machine', 'netns', segNs);
  await ip('-n', segNs, 'link', 'set', 'machine', 'master', bridge, 'up');
  await ip('-n', machineNs, 'link', 'set', machineIf, 'up');
  await ip('-n', machineNs, 'addr', 'add', `${STRANGER}/24`, 'dev', machineIf);

  seed = await startSeed(
    {
      listen: { host: `${subnet}.1`, port: 0 },
      baremetal: { conductor: { host: 'sbl', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } },
      boot: { dnsmasq: { enabled: true, interface: bridge, netns: segNs, range_start: `${subnet}.50`, range_end: `${subnet}.99`, ipv6_ra: false } },
    },
    { stateDir: join(dir, 'state') },
  );
  t = new LoopbackDeploy(seed, await seed.token(), dir);
});

after(async () => {
  await seed?.stop();
  await run('ip', ['netns', 'del', machineNs], { allowFailure: true });
  await run('ip', ['netns', 'del', segNs], { allowFailure: true }); // takes the host's veth end with it
  if (dir) await rm(dir, { recursive: true, force: true });
});

// An HTTP request made inside the machine's namespace, its socket bound to `local`.
const CLIENT = `const [url, method, local, body, token] = process.argv.slice(1);
const req = require('node:http').request(url, { method, localAddress: local, agent: false, headers: { 'content-type': 'application/json', ...(token ? { 'x-agent-token': token } : {}) } }, (res) => {
  let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b })));
});
req.end(body || undefined);`;

async function fromMachine(local: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const r = await run('ip', ['netns', 'exec', machineNs, process.execPath, '-e', CLIENT, `${seed.url}${path}`, method, local, body === undefined ? '' : JSON.stringify(body)], { timeoutMs: 20_000 });
  return JSON.parse(r.stdout) as { status: number; body: string };
}

function secretOf(script: string): string | undefined {
  return new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)?.[1];
}

test('dhcp mode: the script goes only to the address our dnsmasq leased to the node, and the lookup comes only from it', async () => {
  const boot = seed.server.services.find((s) => s.name === 'boot') as BootService;
  const img = await seed.call('POST', '/image/v2/images', { token: t.token, body: { name: 'sbl-image', disk_format: 'raw', container_format: 'bare' } });
  await seed.call('PUT', `/image/v2/images/${img.body.id}/file`, { token: t.token, raw: randomBytes(1024 * 1024), headers: { 'content-type': 'application/octet-stream' } });
  const node = await t.availableNode('sbl-node', MAC, { image_source: img.body.id });
  assert.equal((await t.api('PUT', `/nodes/${node}/states/provision`, { target: 'active' })).status, 202);
  await t.waitNode(node, (n) => n.provision_state === 'wait call-back');
  await boot.dnsmasq!.waitReady();
  const script = `/boot/${MAC.replaceAll(':', '-')}.ipxe`;

  // Someone on the segment asks before the machine has a lease: no lease, no script.
  const early = await fromMachine(STRANGER, 'GET', script);
  assert.equal(early.status, 403, early.body);
  assert.match(early.body, /no_lease/);

  // The machine's DHCP: our dnsmasq leases it an address, which binds the boot.
  const dhcp = await run('ip', ['netns', 'exec', machineNs, 'busybox', 'udhcpc', '-i', machineIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', '/bin/true'], { allowFailure: true, timeoutMs: 20_000 });
  const lease = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(dhcp.stdout + dhcp.stderr)?.[1];
  assert.ok(lease, dhcp.stdout + dhcp.stderr);
  await ip('-n', machineNs, 'addr', 'add', `${lease}/24`, 'dev', machineIf);

  // The same segment, the same MAC even, but not the leased address: refused.
  const stranger = await fromMachine(STRANGER, 'GET', script);
  assert.equal(stranger.status, 403, stranger.body);
  assert.match(stranger.body, /not_bound_address/);
  assert.equal(secretOf(stranger.body), undefined);

  const mine = await fromMachine(lease, 'GET', script);
  assert.equal(mine.status, 200, mine.body);
  const secret = secretOf(mine.body);
  assert.ok(secret, mine.body);

  const stolen = await fromMachine(STRANGER, 'POST', '/boot/agent/lookup', { macs: [MAC], boot_secret: secret });
  assert.equal(stolen.status, 401, stolen.body);
  const lookup = await fromMachine(lease, 'POST', '/boot/agent/lookup', { macs: [MAC], boot_secret: secret });
  assert.equal(lookup.status, 200, lookup.body);
  assert.equal((JSON.parse(lookup.body) as { node_id: string }).node_id, node);

  let h: string[] = [];
  for (const end = Date.now() + 5000; Date.now() < end && !h.some((e) => e.startsWith('deploy agent looked up')); await new Promise((r) => setTimeout(r, 50))) h = await t.history(node);
  const esc = (s: string) => s.replaceAll('.', '\\.');
  assertInOrder(h, [
    new RegExp(`^iPXE script fetch refused \\(52-54-00-5e-1e-01 by ${esc(STRANGER)}: no DHCP lease from our dnsmasq to ${MAC} since the boot was armed\\)$`),
    new RegExp(`^DHCP DHCPACK ${MAC} ${esc(lease)}$`),
    new RegExp(`^iPXE script fetch refused \\(52-54-00-5e-1e-01 by ${esc(STRANGER)}: bound to ${esc(lease)} \\(its DHCP lease\\)\\)$`),
    /^iPXE script fetched \(52-54-00-5e-1e-01\)$/,
    /^deploy agent looked up \(52:54:00:5e:1e:01\)$/,
  ]);
  assert.ok(seed.logLines.some((l) => l.includes('"what":"lookup"') && l.includes(`"from":"${STRANGER}"`)));
});
