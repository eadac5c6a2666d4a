// The /boot routes in the real server: iPXE scripts (generic, per MAC, BIOS and UEFI), the deploy
// kernel streamed from the files directory, and the agent protocol end to end over HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../src/server/server.js';
import { serverConfigSchema } from '../src/server/config.js';
import type { BootService } from '../src/boot/index.js';
import type { BootEvent } from '../src/boot/boot-events.js';
import { CMDLINE } from '../src/boot/ipxe-script.js';

let dir = '';
let server: RunningServer;
let boot: BootService;
const events: BootEvent[] = [];
const kernel = randomBytes(300_000);
const MAC = '52:54:00:aa:00:01';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-boot-routes-'));
  await mkdir(join(dir, 'files'));
  await writeFile(join(dir, 'files', 'deploy.kernel'), kernel);
  await writeFile(join(dir, 'files', 'deploy.initramfs'), 'ramdisk');
  const config = serverConfigSchema.parse({
    state_dir: join(dir, 'state'),
    listen: { port: 0 },
    services: ['boot'],
    log: { level: 'silent' },
    boot: { files_dir: join(dir, 'files') },
  });
  server = await startServer(config, pino({ level: 'silent' }));
  boot = server.services.find((s) => s.name === 'boot') as BootService;
  boot.events.subscribe((e) => events.push(e));
});

after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

function secretOf(script: string): string {
  const m = new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script);
  assert.ok(m, script);
  return m[1]!;
}

test('the generic script chains by MAC; a MAC with no pending boot is sent to local disk', async () => {
  const generic = await (await get('/boot/boot.ipxe')).text();
  assert.match(generic, /^#!ipxe\n/);
  assert.ok(generic.includes(`chain --autofree ${server.url}/boot/\${net0/mac:hexhyp}.ipxe`), generic);
  const none = await get('/boot/52-54-00-aa-00-99.ipxe');
  assert.equal(none.status, 200);
  assert.match(await none.text(), /\nexit\n/);
  assert.equal((await get('/boot/whatever.txt')).status, 404);
});

test('per-node scripts: UEFI passes initrd=, BIOS does not; both carry API URL and a fresh secret', async () => {
  await boot.manager.prepareBoot({ nodeId: 'node-1', macs: [MAC], firmware: 'uefi' });
  const uefi = await (await get('/boot/52-54-00-aa-00-01.ipxe')).text();
  assert.ok(uefi.includes(`kernel ${server.url}/boot/files/deploy.kernel initrd=ramdisk ${CMDLINE.api}=${server.url}/boot`), uefi);
  assert.ok(uefi.includes(`initrd --name ramdisk ${server.url}/boot/files/deploy.initramfs`));
  const s1 = secretOf(uefi);
  // The secret is in the script body, never in a URL.
  assert.ok(!uefi.split('\n').some((l) => /https?:\/\/\S*/.exec(l)?.[0]?.includes(s1)));
  await boot.manager.prepareBoot({ nodeId: 'node-1', macs: [MAC], firmware: 'bios' });
  const bios = await (await get('/boot/node-1.ipxe')).text();
  assert.ok(!bios.includes('initrd=ramdisk'));
  assert.notEqual(secretOf(bios), s1);
  assert.ok(events.some((e) => e.kind === 'script_fetched' && e.nodeId === 'node-1'));
});

test('boot files are streamed; names outside the directory are refused', async () => {
  const r = await get('/boot/files/deploy.kernel');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), String(kernel.length));
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(kernel));
  assert.equal((await get('/boot/files/..%2Fstate%2Fbootstack.sqlite')).status, 404);
  assert.equal((await get('/boot/files/missing')).status, 404);
  await new Promise((r2) => setTimeout(r2, 20));
  assert.ok(events.some((e) => e.kind === 'file_fetched' && e.detail.bytes === kernel.length));
});

test('agent protocol: lookup once with the boot secret, then token-authenticated heartbeat, commands and results', async () => {
  await boot.manager.prepareBoot({ nodeId: 'node-2', macs: ['52:54:00:aa:00:02'], firmware: 'bios' });
  const secret = secretOf(await (await get('/boot/52-54-00-aa-00-02.ipxe')).text());
  assert.equal((await post('/boot/agent/lookup', { macs: ['52:54:00:aa:00:02'], boot_secret: 'guess' })).status, 401);
  // A MAC of another machine is refused and does not burn the secret.
  assert.equal((await post('/boot/agent/lookup', { macs: [MAC], boot_secret: secret })).status, 401);
  assert.equal((await post('/boot/agent/lookup', { macs: ['52:54:00:aa:00:02'], boot_secret: secret, x: 1 })).status, 400);
  // The ramdisk's figures must be an object (an agent falls back to a lookup without them on a 400 naming the field) ...
  const notObject = await post('/boot/agent/lookup', { macs: ['52:54:00:aa:00:02'], boot_secret: secret, ramdisk_stages: [1] });
  assert.equal(notObject.status, 400);
  assert.match(await notObject.text(), /ramdisk_stages/);
  // ... but a bad figure inside never refuses the lookup: it is dropped with its reason.
  const lookup = await post('/boot/agent/lookup', { macs: ['52:54:00:AA:00:02', '52:54:00:aa:00:77'], boot_secret: secret, ramdisk_stages: { init_s: 2.5, lookup_s: -1 } });
  assert.equal(lookup.status, 200);
  const stages = events.find((e) => e.kind === 'ramdisk_stages' && e.nodeId === 'node-2');
  assert.deepEqual(stages?.detail, { stages: { init_s: 2.5 }, ignored: ['ramdisk_stages.lookup_s: -1 is not a guest uptime (a number of seconds, 0 ≤ s < 86400)'] });
  const { node_id, agent_token } = (await lookup.json()) as { node_id: string; agent_token: string };
  assert.equal(node_id, 'node-2');
  const again = await post('/boot/agent/lookup', { macs: ['52:54:00:aa:00:02'], boot_secret: secret });
  assert.equal(again.status, 401);
  assert.match(await again.text(), /already used/);

  const h = { 'x-agent-token': agent_token };
  assert.equal((await post('/boot/agent/nodes/node-2/heartbeat', {})).status, 401);
  assert.equal((await post('/boot/agent/nodes/node-2/heartbeat', {}, { 'x-agent-token': 'wrong' })).status, 401);
  assert.equal((await post('/boot/agent/nodes/node-1/heartbeat', {}, h)).status, 401);
  assert.equal((await post('/boot/agent/nodes/node-2/heartbeat', { status: { phase: 'idle' } }, h)).status, 200);
  assert.deepEqual(boot.manager.commands.session('node-2')?.agentStatus, { phase: 'idle' });

  assert.deepEqual(await (await get('/boot/agent/nodes/node-2/commands/next', h)).json(), { command: null });
  const queued = boot.manager.commands.enqueue('node-2', 'inspect');
  const next = (await (await get('/boot/agent/nodes/node-2/commands/next', h)).json()) as { command: { id: string; name: string } };
  assert.deepEqual(next.command, { id: queued.id, name: 'inspect', params: {} });
  const waiting = boot.manager.commands.wait(queued.id, 5000);
  const res = await post(`/boot/agent/nodes/node-2/commands/${queued.id}/result`, { status: 'succeeded', result: { cpus: 2 } }, h);
  assert.equal(res.status, 200);
  const done = await waiting;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(done.result, { cpus: 2 });
  assert.equal((await post(`/boot/agent/nodes/node-2/commands/${queued.id}/result`, { status: 'failed' }, h)).status, 409);
  const kinds = events.filter((e) => e.nodeId === 'node-2').map((e) => e.kind);
  for (const k of ['agent_lookup', 'heartbeat', 'command_started', 'command_finished']) assert.ok(kinds.includes(k as BootEvent['kind']), kinds.join());

  await boot.manager.cleanBoot('node-2');
  assert.equal((await post('/boot/agent/nodes/node-2/heartbeat', {}, h)).status, 401);
});
