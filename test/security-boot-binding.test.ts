// Boot secrets bound to the machine's address, through real HTTP on loopback: every 127.0.0.x is
// a loopback address, so a client socket bound to 127.0.0.2 is "the machine" and one bound to
// 127.0.0.3 "someone else on the provisioning network". The seed is the real one (identity,
// baremetal, images, boot) with a fake-power node using ipxe boot + direct deploy; the agent's
// calls are made by hand so that each can be tried from both addresses while it is still valid.
// No dnsmasq runs here, so the first address that fetches the script is bound (as in ProxyDHCP
// mode); test/security-boot-lease.test.ts binds to the lease of a real dnsmasq instead.
//  (a) a fetch from another address than the bound one is refused and shows on the timeline;
//  (b) a second fetch does not reveal the secret (except a retry from the bound address within
//      the retry window, before the lookup);
//  (c) a stolen secret, agent token or image URL used from another address fails;
//  (d) script fetches are rate limited per address and in total.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startSeed, type TestSeed } from './support/seed.js';
import { LoopbackDeploy } from './support/loopback-deploy.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { serverConfigSchema } from '../src/server/config.js';
import type { BootService } from '../src/boot/index.js';
import type { BootEvent } from '../src/boot/boot-events.js';
import { CMDLINE } from '../src/boot/ipxe-script.js';

const MiB = 1024 * 1024;
const MACHINE = '127.0.0.2';
const OTHER = '127.0.0.3';
let dir = '';
let seed: TestSeed;
let t: LoopbackDeploy;
let image = Buffer.alloc(0);
let imageId = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-security-boot-'));
  seed = await startSeed(
    {
      baremetal: { conductor: { host: 'sec', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: 60 } },
      // Short, so that (b) can wait for the retry window to pass.
      boot: { script_retry_s: 2 },
    },
    { stateDir: join(dir, 'state') },
  );
  t = new LoopbackDeploy(seed, await seed.token(), dir);
  image = randomBytes(2 * MiB);
  const created = await seed.call('POST', '/image/v2/images', { token: t.token, body: { name: 'sec-image', disk_format: 'raw', container_format: 'bare' } });
  imageId = created.body.id;
  const up = await seed.call('PUT', `/image/v2/images/${imageId}/file`, { token: t.token, raw: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.status, 204, JSON.stringify(up.body));
});

after(async () => {
  await seed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: Buffer;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request whose socket is bound to `local` (no connection reuse across addresses). */
function from(local: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, localAddress: local, agent: false, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body: b, text: b.toString(), json: () => JSON.parse(b.toString()) });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const scriptUrl = (mac: string) => `${seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`;

function secretOf(script: string): string | undefined {
  return new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)?.[1];
}

/** A node in "wait call-back": its boot is armed, nobody has fetched its script yet. */
async function armedNode(name: string, mac: string): Promise<string> {
  const id = await t.availableNode(name, mac, { image_source: imageId });
  assert.equal((await t.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
  await t.waitNode(id, (n) => n.provision_state === 'wait call-back');
  return id;
}

async function historyHas(id: string, re: RegExp): Promise<string[]> {
  let h: string[] = [];
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    h = await t.history(id);
    if (h.some((e) => re.test(e))) return h;
  }
  assert.fail(`${re} not in the timeline:\n${h.join('\n')}`);
}

const MAC1 = '52:54:00:5e:00:01';
let node1 = '';
let secret1 = '';

test('(a) the script goes to the first address that fetches it; another address is refused, and the timeline names it', async () => {
  node1 = await armedNode('sec-1', MAC1);
  const first = await from(MACHINE, 'GET', scriptUrl(MAC1));
  assert.equal(first.status, 200);
  secret1 = secretOf(first.text)!;
  assert.ok(secret1, first.text);

  for (const url of [scriptUrl(MAC1), `${seed.url}/boot/${node1}.ipxe`]) {
    const other = await from(OTHER, 'GET', url);
    assert.equal(other.status, 403, other.text);
    assert.equal(secretOf(other.text), undefined);
    assert.ok(!other.text.includes(secret1));
    assert.ok(!other.text.includes(MACHINE), 'the bound address is for the operator, not the caller');
  }
  const h = await historyHas(node1, /refused/);
  assert.ok(h.includes('iPXE script fetched (52-54-00-5e-00-01)'), h.join('\n'));
  assert.ok(h.includes(`iPXE script fetch refused (52-54-00-5e-00-01 by ${OTHER}: bound to ${MACHINE} (the first address that fetched it))`), h.join('\n'));
  assert.ok(h.includes(`iPXE script fetch refused (${node1} by ${OTHER}: bound to ${MACHINE} (the first address that fetched it))`), h.join('\n'));
  // The seed's log has each refusal with its source address, and never the secret.
  assert.ok(seed.logLines.some((l) => l.includes('iPXE script refused') && l.includes(`"from":"${OTHER}"`)));
  assert.ok(!seed.logLines.some((l) => l.includes(secret1)));
});

test('(c) a stolen secret, agent token or image URL is refused from another address; the machine carries on', async () => {
  const lookupBody = { macs: [MAC1], boot_secret: secret1 };
  const stolen = await from(OTHER, 'POST', `${seed.url}/boot/agent/lookup`, lookupBody);
  assert.equal(stolen.status, 401, stolen.text);
  assert.match(stolen.text, /not the address this boot is bound to/);
  // The refused try did not use the secret up.
  const lookup = await from(MACHINE, 'POST', `${seed.url}/boot/agent/lookup`, lookupBody);
  assert.equal(lookup.status, 200, lookup.text);
  const agentToken = lookup.json().agent_token as string;
  const h = { 'x-agent-token': agentToken };

  // (b) after the lookup, even the bound address gets no script (the secret is used up anyway).
  const again = await from(MACHINE, 'GET', scriptUrl(MAC1));
  assert.equal(again.status, 403);
  assert.equal(secretOf(again.text), undefined);

  // The conductor queues write_image after the lookup.
  let cmd: { id: string; name: string; params: { image_url: string } } | null = null;
  for (const end = Date.now() + 10_000; !cmd && Date.now() < end; ) {
    cmd = (await from(MACHINE, 'GET', `${seed.url}/boot/agent/nodes/${node1}/commands/next`, undefined, h)).json().command;
    if (!cmd) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(cmd);
  assert.equal(cmd.name, 'write_image');
  const imageUrl = cmd.params.image_url;

  // Everything the machine holds, used from elsewhere while it is valid: refused.
  const agentPath = `${seed.url}/boot/agent/nodes/${node1}`;
  assert.equal((await from(OTHER, 'POST', `${agentPath}/heartbeat`, {}, h)).status, 401);
  assert.equal((await from(OTHER, 'GET', `${agentPath}/commands/next`, undefined, h)).status, 401);
  const fakeResult = await from(OTHER, 'POST', `${agentPath}/commands/${cmd.id}/result`, { status: 'succeeded', result: { bytes: 1 } }, h);
  assert.equal(fakeResult.status, 401, 'a write that never happened cannot be reported from elsewhere');
  const download = await from(OTHER, 'GET', imageUrl);
  assert.equal(download.status, 401, download.text);
  assert.equal(download.body.length < 1024, true, 'no image bytes');

  // From the machine: the image, then a result (failed, to end the deploy here).
  const mine = await from(MACHINE, 'GET', imageUrl);
  assert.equal(mine.status, 200);
  assert.ok(mine.body.equals(image));
  const res = await from(MACHINE, 'POST', `${agentPath}/commands/${cmd.id}/result`, { status: 'failed', error: 'test over' }, h);
  assert.equal(res.status, 200, res.text);
  const failed = await t.waitNode(node1, (n) => n.provision_state === 'deploy failed');
  assert.match(failed.last_error, /test over/);
  assert.ok(seed.logLines.some((l) => l.includes('not bound to') && l.includes(`"from":"${OTHER}"`) && l.includes('"what":"image download"')));
  for (const secret of [secret1, agentToken, imageUrl.split('/').at(-1)!]) assert.ok(!seed.logLines.some((l) => l.includes(secret)));
});

test('(b) a second fetch does not reveal the secret: a retry from the bound address is served within the window only', async () => {
  const mac = '52:54:00:5e:00:02';
  const id = await armedNode('sec-2', mac);
  const first = await from(MACHINE, 'GET', scriptUrl(mac));
  const secret = secretOf(first.text);
  assert.ok(secret);
  // iPXE rebooting after a failed chain asks again at once: the same secret, to the same address.
  const retry = await from(MACHINE, 'GET', scriptUrl(mac));
  assert.equal(retry.status, 200);
  assert.equal(secretOf(retry.text), secret);
  assert.equal((await from(OTHER, 'GET', scriptUrl(mac))).status, 403);
  await new Promise((r) => setTimeout(r, 2100)); // boot.script_retry_s: 2
  const late = await from(MACHINE, 'GET', scriptUrl(mac));
  assert.equal(late.status, 403);
  assert.equal(secretOf(late.text), undefined);
  const h = await historyHas(id, /retries are served for 2 s only/);
  assert.ok(h.includes(`iPXE script fetched again (52-54-00-5e-00-02 by ${MACHINE}, a retry from the bound address)`), h.join('\n'));
});

test('(d) script fetches are rate limited per source address and in total; each limit is logged once', async () => {
  const sdir = await mkdtemp(join(tmpdir(), 'bootstack-security-rate-'));
  let server: RunningServer | undefined;
  try {
    const config = serverConfigSchema.parse({
      state_dir: sdir,
      listen: { host: '127.0.0.1', port: 0 },
      services: ['boot'],
      log: { level: 'silent' },
      boot: { script_fetch_limit: { per_address_per_min: 3, per_min: 5 } },
    });
    server = await startServer(config, pino({ level: 'silent' }));
    const boot = server.services.find((s) => s.name === 'boot') as BootService;
    const events: BootEvent[] = [];
    boot.events.subscribe((e) => events.push(e));
    const pendingMac = '52:54:00:5e:00:99';
    await boot.manager.prepareBoot({ nodeId: 'rl-node', macs: [pendingMac], firmware: 'bios' });
    const get = (local: string, mac: string) => from(local, 'GET', `${server!.url}/boot/${mac.replaceAll(':', '-')}.ipxe`);

    // One address: three fetches a minute, then 429 (the pending node's script included).
    for (let i = 1; i <= 3; i++) assert.equal((await get('127.0.0.6', `52:54:00:5e:01:0${i}`)).status, 200);
    const limited = await get('127.0.0.6', pendingMac);
    assert.equal(limited.status, 429);
    assert.equal(secretOf(limited.text), undefined);
    assert.equal((await get('127.0.0.6', '52:54:00:5e:01:04')).status, 429);
    // Another address is not held back by that one, until the total (5 a minute) is used up.
    const granted = await get('127.0.0.7', pendingMac);
    assert.equal(granted.status, 200);
    assert.ok(secretOf(granted.text));
    assert.equal((await get('127.0.0.7', '52:54:00:5e:01:05')).status, 200);
    assert.equal((await get('127.0.0.8', '52:54:00:5e:01:06')).status, 429);
    assert.equal((await get('127.0.0.9', '52:54:00:5e:01:07')).status, 429);

    const refusals = events.filter((e) => e.kind === 'script_fetched' && e.detail.granted === false);
    assert.deepEqual(
      refusals.map((e) => [e.detail.from, e.nodeId, e.detail.reason]),
      [
        ['127.0.0.6', 'rl-node', 'rate limited: too many fetches from this address'],
        ['127.0.0.8', undefined, 'rate limited: too many fetches from all addresses'],
      ],
    );
  } finally {
    await server?.stop();
    await rm(sdir, { recursive: true, force: true });
  }
});
