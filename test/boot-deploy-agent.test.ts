// The deploy agent against the real seed's /boot API: it reads the seed URL and the one-time boot
// secret from the kernel command line of the iPXE script the seed served, looks itself up, and
// runs the commands the conductor side queues (inspect, write_image to a disk FILE from a local
// image server, write_config_drive, sync), reporting results; a bad checksum is reported as a
// failure; a second lookup with the same secret is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, mkdir, writeFile, truncate, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startServer, type RunningServer } from '../src/server/server.js';
import { serverConfigSchema } from '../src/server/config.js';
import type { BootService } from '../src/boot/index.js';
import { runAgent, AgentApiError } from '../src/agents/deploy-agent/agent.js';
import { parseCmdline } from '../src/agents/deploy-agent/cli.js';
import { run } from '../src/common/child-process.js';

const MiB = 1024 * 1024;
let dir = '';
let server: RunningServer;
let boot: BootService;
let images: Server;
let imageUrl = '';
let image = Buffer.alloc(0);
const MAC = '52:54:00:de:00:01';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-boot-agent-'));
  await mkdir(join(dir, 'root/proc'), { recursive: true });
  await writeFile(join(dir, 'root/proc/cpuinfo'), 'processor\t: 0\nmodel name\t: Test CPU\n\nprocessor\t: 1\nmodel name\t: Test CPU\n');
  await writeFile(join(dir, 'root/proc/meminfo'), 'MemTotal: 786432 kB\n');
  // A small whole-disk image: GPT, one partition of random bytes.
  const img = join(dir, 'image.raw');
  await writeFile(img, '');
  await truncate(img, 6 * MiB);
  await run('sfdisk', ['--quiet', img], { input: 'label: gpt\nsize=4MiB, name=root\n' });
  const ih = await open(img, 'r+');
  await ih.write(randomBytes(4 * MiB), 0, 4 * MiB, MiB);
  await ih.close();
  image = await readFile(img);
  await writeFile(join(dir, 'disk.raw'), '');
  await truncate(join(dir, 'disk.raw'), 96 * MiB);
  await writeFile(join(dir, 'disk2.raw'), '');
  await truncate(join(dir, 'disk2.raw'), 96 * MiB);
  images = createServer((req, res) => {
    if (req.url !== '/image.raw') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': image.length }).end(image);
  });
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
  imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/image.raw`;
  const config = serverConfigSchema.parse({
    state_dir: join(dir, 'state'),
    listen: { port: 0 },
    services: ['boot'],
    log: { level: 'silent' },
  });
  server = await startServer(config, pino({ level: 'silent' }));
  boot = server.services.find((s) => s.name === 'boot') as BootService;
});

after(async () => {
  await server?.stop();
  await new Promise<void>((r) => (images ? images.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('agent: lookup from the kernel command line, then inspect, write image, config drive, sync', async () => {
  await boot.manager.prepareBoot({ nodeId: 'node-7', macs: [MAC], firmware: 'bios' });
  const script = await (await fetch(`${server.url}/boot/52-54-00-de-00-01.ipxe`)).text();
  const kernelLine = script.split('\n').find((l) => l.startsWith('kernel '))!;
  const { apiUrl, bootSecret } = parseCmdline(kernelLine);
  assert.equal(apiUrl, `${server.url}/boot`);
  assert.ok(bootSecret);

  const c = boot.manager.commands;
  const sha = createHash('sha256').update(image).digest('hex');
  const disk = join(dir, 'disk.raw');
  const queued = [
    c.enqueue('node-7', 'inspect'),
    c.enqueue('node-7', 'write_image', { image_url: imageUrl, checksum: sha, checksum_algo: 'sha256', device: disk }),
    c.enqueue('node-7', 'write_config_drive', { meta_data: { hostname: 'node-7', uuid: 'u-7' }, user_data: '#cloud-config\n' }),
    c.enqueue('node-7', 'sync'),
    // On another disk: a failed write wipes the start of what it wrote.
    c.enqueue('node-7', 'write_image', { image_url: imageUrl, checksum: '1'.repeat(64), device: join(dir, 'disk2.raw') }),
  ];
  const logs: string[] = [];
  const n = await runAgent({ apiUrl: apiUrl!, bootSecret: bootSecret!, root: join(dir, 'root'), macs: [MAC], pollMs: 50, maxCommands: 5, log: (l) => logs.push(l) });
  assert.equal(n, 5);
  const [inspect, write, cd, sync, bad] = queued.map((q) => c.get(q.id)!);
  assert.equal(inspect!.status, 'succeeded');
  assert.equal((inspect!.result as { cpu: { count: number } }).cpu.count, 2);
  assert.equal((inspect!.result as { memory: { physical_mb: number } }).memory.physical_mb, 768);
  assert.equal(write!.status, 'succeeded', write!.error);
  assert.equal((write!.result as { bytes: number }).bytes, image.length);
  const fh = await open(disk, 'r');
  const data = Buffer.alloc(4 * MiB);
  await fh.read(data, 0, data.length, MiB);
  await fh.close();
  // The config drive step rewrote the GPT headers (backup moved to the disk's end), not the data.
  assert.ok(data.equals(image.subarray(MiB, 5 * MiB)));
  assert.equal((write!.result as { checksum: string }).checksum, sha);
  assert.equal(cd!.status, 'succeeded', cd!.error);
  const part = (cd!.result as { partition: { start: number } }).partition;
  const mtype = await run('mtype', ['-i', `${disk}@@${part.start}`, '::openstack/latest/meta_data.json'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  assert.deepEqual(JSON.parse(mtype.stdout), { hostname: 'node-7', uuid: 'u-7' });
  assert.equal(sync!.status, 'succeeded');
  assert.equal(bad!.status, 'failed');
  assert.match(bad!.error!, /checksum mismatch/);
  assert.ok(c.session('node-7'));
  assert.ok(logs.some((l) => l.includes('looked up as node node-7')));

  // The secret was used: a second agent (or an attacker replaying it) is refused.
  await assert.rejects(
    runAgent({ apiUrl: apiUrl!, bootSecret: bootSecret!, macs: [MAC], maxCommands: 1, log: () => undefined }),
    (e: unknown) => e instanceof AgentApiError && e.status === 401,
  );
});

test('the agent bundled into one file for Node 18 runs on its own against the seed', async () => {
  const bundle = join(dir, 'bundle', 'deploy-agent.cjs');
  // The same esbuild settings as scripts/bundle-agents.mjs: one CommonJS file, target node18.
  const { build } = await import('esbuild');
  await build({ entryPoints: ['src/agents/deploy-agent/main.ts'], outfile: bundle, bundle: true, platform: 'node', target: 'node18', format: 'cjs', logLevel: 'error' });
  const help = await run(process.execPath, [bundle, '--help'], { cwd: dir });
  assert.match(help.stdout, /^usage: deploy-agent/);
  assert.equal((await run(process.execPath, [bundle, '--bogus'], { cwd: dir, allowFailure: true })).code, 2);

  await boot.manager.prepareBoot({ nodeId: 'node-8', macs: ['52:54:00:de:00:08'], firmware: 'uefi' });
  const script = await (await fetch(`${server.url}/boot/node-8.ipxe`)).text();
  const { apiUrl, bootSecret } = parseCmdline(script.split('\n').find((l) => l.startsWith('kernel '))!);
  const inspect = boot.manager.commands.enqueue('node-8', 'inspect');
  const r = await run(
    process.execPath,
    [bundle, '--api-url', apiUrl!, '--boot-secret', bootSecret!, '--macs', '52:54:00:de:00:08', '--root', join(dir, 'root'), '--max-commands', '1'],
    { cwd: dir, timeoutMs: 60_000 },
  );
  assert.match(r.stderr, /looked up as node node-8/);
  const done = boot.manager.commands.get(inspect.id)!;
  assert.equal(done.status, 'succeeded', done.error);
  assert.equal((done.result as { cpu: { model_name: string } }).cpu.model_name, 'Test CPU');
});
