// Deploys survive a seed restart: `bootstack serve` as a real process (ipxe boot + direct deploy
// on fake power), the REAL deploy agent writing a disk FILE, and kill -9 of the seed while
//  - node A waits in "wait call-back" and its machine has not looked up (it is in its firmware
//    or iPXE): after the restart it fetches its script (a new boot secret: the first one's
//    plaintext died with the process) and the deploy completes;
//  - node B's agent is in the middle of write_image (the image stream is held by a proxy in front
//    of the seed, then cut by the restart): the agent reports the failure once the seed is back,
//    the failure names the restart, write_image is issued again and the deploy completes.
// The agent reaches the seed through that proxy (boot.http_url), which also hides the new port
// of the restarted process. Afterwards: no plaintext secret or token in the database files.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeed, type Loose, type Seed } from './baremetal-helpers.js';
import { adminToken } from './support/serve-process.js';
import { agentOutcome, directNode, fakeMachine } from './support/loopback-deploy.js';
import { runAgent } from '../src/agents/deploy-agent/agent.js';
import { parseCmdline } from '../src/agents/deploy-agent/cli.js';
import { run } from '../src/common/child-process.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'bootstack-deploy-restart-'));
const stateDir = join(dir, 'state');
let seed: Seed | undefined;
let target = '';
/** While set, image downloads stop after their first MiB until it resolves; then the stream is cut. */
let hold: { started: () => void; release: Promise<void> } | undefined;
const sockets = new Set<Socket>();

// The provisioning network's view of the seed: forwards everything to the current seed process.
const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
  const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    const held = hold && req.url?.startsWith('/boot/images/') ? hold : undefined;
    if (!held) return void r.pipe(res);
    let sent = 0;
    r.on('data', (chunk: Buffer) => {
      if (sent >= MiB) return;
      res.write(chunk);
      sent += chunk.length;
      if (sent >= MiB) {
        r.pause();
        held.started();
        void held.release.then(() => res.destroy());
      }
    });
    r.on('end', () => res.end());
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end('seed unreachable');
    else res.destroy();
  });
  req.pipe(up);
});
proxy.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

after(async () => {
  await seed?.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  await new Promise((r) => proxy.close(r));
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

async function start(proxyUrl: string): Promise<{ call: (m: string, p: string, b?: unknown, raw?: Buffer) => Promise<{ status: number; body: Loose }> }> {
  seed = await startSeed({ stateDir, configFile: join(dir, 'bootstack.yaml') });
  target = seed.url;
  const token = await adminToken(seed.url, stateDir);
  void proxyUrl;
  return {
    async call(method, path, body, raw) {
      const res = await fetch(`${target}${path}`, {
        method,
        headers: {
          'x-auth-token': token,
          'x-openstack-ironic-api-version': '1.78',
          ...(body ? { 'content-type': 'application/json' } : raw ? { 'content-type': 'application/octet-stream' } : {}),
        },
        body: body ? JSON.stringify(body) : raw,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}

test('kill -9 of the seed mid-deploy: a node not yet looked up and a node mid-write_image both resume and become active', { timeout: 240_000 }, async () => {
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  writeFileSync(
    join(dir, 'bootstack.yaml'),
    `services: [identity, baremetal, images, boot]
log: { level: warn }
baremetal:
  conductor: { host: restart-e2e, check_interval: 0.2, sync_power_state_interval: 0, deploy_callback_timeout: 120 }
boot:
  http_url: ${proxyUrl}/boot
`,
  );
  let { call } = await start(proxyUrl);
  const until = async (id: string, ok: (n: Loose) => boolean, ms = 90_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const n = (await call('GET', `/baremetal/v1/nodes/${id}`)).body;
      if (ok(n)) return n;
      if (Date.now() > end) throw new Error(`node ${id} stuck in ${n.provision_state}: ${n.last_error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // A whole-disk image (GPT, 12 MiB of random bytes in its partition).
  const img = join(dir, 'image.raw');
  await writeFile(img, '');
  await truncate(img, 14 * MiB);
  await run('sfdisk', ['--quiet', img], { input: 'label: gpt\nsize=12MiB, name=root\n' });
  const fh = await open(img, 'r+');
  await fh.write(randomBytes(12 * MiB), 0, 12 * MiB, MiB);
  await fh.close();
  const image = await readFile(img);
  const created = await call('POST', '/image/v2/images', { name: 'restart-disk', disk_format: 'raw', container_format: 'bare' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await call('PUT', `/image/v2/images/${created.body.id}/file`, undefined, image)).status, 204);

  const node = async (name: string, mac: string) => {
    const c = await call('POST', '/baremetal/v1/nodes', directNode(name, { image_source: created.body.id }));
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.equal((await call('POST', '/baremetal/v1/ports', { node_uuid: c.body.uuid, address: mac })).status, 201);
    for (const [verb, state] of [['manage', 'manageable'], ['provide', 'available'], ['active', 'wait call-back']] as const) {
      assert.equal((await call('PUT', `/baremetal/v1/nodes/${c.body.uuid}/states/provision`, { target: verb })).status, 202);
      await until(c.body.uuid, (n) => n.provision_state === state && !n.reservation);
    }
    return c.body.uuid as string;
  };
  const script = async (mac: string) => {
    const text = await (await fetch(`${proxyUrl}/boot/${mac.replaceAll(':', '-')}.ipxe`)).text();
    const line = text.split('\n').find((l) => l.startsWith('kernel '));
    assert.ok(line, text);
    const { apiUrl, bootSecret } = parseCmdline(line);
    assert.equal(apiUrl, `${proxyUrl}/boot`);
    return bootSecret!;
  };
  const agent = (m: { root: string }, mac: string, bootSecret: string, logs: string[]) =>
    agentOutcome(runAgent({ apiUrl: `${proxyUrl}/boot`, bootSecret, root: m.root, macs: [mac], pollMs: 100, log: (l) => logs.push(l) }));

  const macA = '52:54:00:4e:00:0a';
  const macB = '52:54:00:4e:00:0b';
  const [a, b] = [await node('resume-a', macA), await node('resume-b', macB)];
  const mA = await fakeMachine(join(dir, 'ma'));
  const mB = await fakeMachine(join(dir, 'mb'));
  const secretA1 = await script(macA); // A's firmware fetched its script; the kernel is still loading

  // B: its agent starts write_image; the proxy holds the image stream after 1 MiB.
  let started!: () => void;
  let release!: () => void;
  const holding = new Promise<void>((r) => (started = r));
  hold = { started, release: new Promise<void>((r) => (release = r)) };
  const logsB: string[] = [];
  const agentB = agent(mB, macB, await script(macB), logsB);
  await holding;
  assert.equal((await until(b, () => true)).provision_state, 'wait call-back');

  await seed!.kill('SIGKILL');
  hold = undefined;
  release(); // the stream from the dead process ends: the agent's write_image fails
  ({ call } = await start(proxyUrl));

  // A: after the restart, its machine fetches the script again (a PXE retry): a second secret.
  // The first one still works (only its digest was needed), and once one is used the other is not.
  const secretA2 = await script(macA);
  assert.notEqual(secretA2, secretA1);
  const logsA: string[] = [];
  const agentA = agent(mA, macA, secretA2, logsA);

  const doneA = await until(a, (n) => ['active', 'deploy failed'].includes(n.provision_state));
  assert.equal(doneA.provision_state, 'active', doneA.last_error);
  const doneB = await until(b, (n) => ['active', 'deploy failed'].includes(n.provision_state));
  assert.equal(doneB.provision_state, 'active', `${doneB.last_error}\n${logsB.join('\n')}`);
  assert.equal(await agentA, 'revoked', logsA.join('\n'));
  assert.equal(await agentB, 'revoked', logsB.join('\n'));

  for (const m of [mA, mB]) {
    const disk = await readFile(m.disk);
    assert.ok(disk.subarray(MiB, 13 * MiB).equals(image.subarray(MiB, 13 * MiB)), `${m.disk} holds the image`);
  }
  const lookupA1 = await fetch(`${proxyUrl}/boot/agent/lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ macs: [macA], boot_secret: secretA1 }) });
  assert.equal(lookupA1.status, 401, 'the other secret of the same boot no longer opens a session');

  const history = async (id: string) => ((await call('GET', `/baremetal/v1/nodes/${id}/history?detail=true`)).body.history as Array<{ event: string }>).map((h) => h.event);
  const hA = await history(a);
  const hB = await history(b);
  assert.ok(hA.some((e) => /conductor restart-e2e restarted while the node was "wait call-back"; waiting for its agent again/.test(e)), hA.join('\n'));
  assert.ok(hB.some((e) => /^agent command write_image failed: the seed restarted during write_image: /.test(e)), hB.join('\n'));
  assert.equal(hB.filter((e) => e === 'agent command write_image started').length, 2, hB.join('\n'));
  assert.equal(hB.filter((e) => /^agent command write_image succeeded/.test(e)).length, 1, hB.join('\n'));
  assert.ok(logsB.some((l) => /reporting .* failed .*retrying/.test(l)) || logsB.some((l) => /write_image failed/.test(l)), logsB.join('\n'));

  // Only digests in the database: neither boot secret nor any image URL token is in its files.
  const files = (await readdir(stateDir)).filter((f) => f.startsWith('bootstack.sqlite'));
  const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(join(stateDir, f)))));
  for (const secret of [secretA1, secretA2]) assert.equal(bytes.indexOf(secret), -1, 'a boot secret in plaintext in the database');
  assert.doesNotMatch(bytes.toString('latin1'), /\/boot\/images\/[A-Za-z0-9_-]{16,}/, 'an image download URL with its token in the database');
  assert.match(bytes.toString('latin1'), /the seed restarted during write_image: .*\/boot\/images\/\*\*\*/, 'the agent\'s error is stored, its URL token masked');
});
