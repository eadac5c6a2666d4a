// The image builder's deploy ramdisk, end to end: buildDeployRamdisk() builds debian-minimal +
// deploy-ramdisk (Debian's kernel, Node 18 and disk tools, the agent bundled from src/agents) and
// the REAL seed deploys a 768 MiB lab QEMU machine (TCG, SeaBIOS, Redfish BMC) with it: the machine
// network-boots that kernel and initramfs, /init starts the Node agent, which brings up DHCP, looks
// itself up and writes a whole-disk image plus a config drive. The node reaches active, the QEMU
// disk holds the image and a config-2 partition, and the console shows the agent ran on Node 18.
// A second case deploys a 2 GiB image (zeros with random stretches) onto the same 768 MiB machine:
// the agent streams it through a bounded buffer. A third boots the ramdisk alone to check its
// console: Ctrl-C stops the agent, a shell follows. Figures (boot → agent start, write MB/s) are
// printed as test diagnostics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir, copyFile, open, writeFile, stat } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { buildDeployRamdisk, type DeployRamdisk } from '../src/image-builder/deploy-ramdisk.js';
import type { TestSeed } from './support/seed.js';
import { assertInOrder } from './support/in-order.js';
import { parseRamdiskStagesRow } from '../src/common/ramdisk-stages.js';
import { startLabSeed, LabNodes, assertConfigDrive, cleanUpLabs } from './support/lab-seed.js';

const dirs: string[] = [];
const seeds: TestSeed[] = [];
after(() => cleanUpLabs(seeds, dirs));

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstackRamdiskAgentTestKeyOnly lab@test';
const MiB = 1024 * 1024;

interface HistoryRow {
  event: string;
  created_at: string;
}

/** The ramdisk, built once for this file by the image builder (the base is cached when warm). */
let built: Promise<{ rd: DeployRamdisk; seconds: number }> | undefined;
function deployRamdisk(): Promise<{ rd: DeployRamdisk; seconds: number }> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-agent-'));
    dirs.push(dir);
    const t0 = Date.now();
    const rd = await buildDeployRamdisk(join(dir, 'ramdisk'), { env: {} });
    return { rd, seconds: (Date.now() - t0) / 1000 };
  })();
  return built;
}

/** sha256 of bytes [start, end) of a file. */
async function rangeHash(file: string, start: number, end: number): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { start, end: end - 1, highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

interface Deployed {
  /** The lab machine's disk as a raw file (after power-off). */
  disk: string;
  history: HistoryRow[];
  console: string;
  mac: string;
}

/**
 * Lab up (one TCG machine), the REAL seed serving the ramdisk, the image uploaded to the image
 * service from `imageFile` (streamed), a Redfish node with a config drive deployed to active.
 */
async function labDeploy(imageFile: string, o: { memoryMiB: number; diskGiB: number; hostname: string }): Promise<Deployed> {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-agent-'));
  dirs.push(dir);
  const { rd } = await deployRamdisk();
  const files = join(dir, 'files');
  await mkdir(files);
  await copyFile(rd.kernel, join(files, 'deploy.kernel'));
  await copyFile(rd.initramfs, join(files, 'deploy.initramfs'));

  const ls = await startLabSeed(dir, { memoryMiB: o.memoryMiB, diskGiB: o.diskGiB, conductorHost: 'ramdisk-agent', filesDir: files });
  const s = ls.seed;
  seeds.push(s);
  // Requests the seed has not answered yet, to name them if stopping it has to wait for them.
  const inFlight = new Map<object, string>();
  s.server.app.server.on('request', (req: { method?: string; url?: string }, res: { on: (e: string, f: () => void) => void }) => {
    inFlight.set(res, `${new Date().toISOString()} ${req.method} ${req.url?.replace(/\?.*/, '')}`);
    res.on('close', () => inFlight.delete(res));
  });
  try {
    const token = await s.token();
    const c = new LabNodes(ls, token);

    const created = await s.call('POST', '/image/v2/images', { token, body: { name: `${o.hostname}-image`, disk_format: 'raw', container_format: 'bare' } });
    assert.equal(created.status, 201);
    // Streamed from the file: a 2 GiB image does not go through a Buffer.
    const upload = await fetch(`${s.url}/image/v2/images/${created.body.id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String((await stat(imageFile)).size) },
      body: Readable.toWeb(createReadStream(imageFile)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(upload.status, 204, await upload.text());

    const node = await c.availableNode({
      properties: { root_device: { name: 'vda' } },
      instance_info: { image_source: created.body.id, configdrive: { meta_data: { hostname: o.hostname, public_keys: { default: KEY } } } },
    });
    const id = node.uuid as string;

    assert.equal((await c.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
    const done = await c.waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed', 600_000);
    assert.equal(done.provision_state, 'active', `${done.last_error}\nconsole:\n${(await c.consoleLog()).slice(-3000)}`);
    const history = (await c.api('GET', `/nodes/${id}/history`)).body.history as HistoryRow[];

    // The disk, read after powering the machine off.
    const disk = await c.diskAfterPowerOff(id, join(dir, 'disk.raw'), 300_000);
    return { disk, history, console: await c.consoleLog(), mac: c.machine.mac };
  } finally {
    seeds.splice(seeds.indexOf(s), 1);
    const stopped = s.stop();
    const late = await Promise.race([stopped.then(() => false), new Promise((r) => setTimeout(r, 20_000, true))]);
    if (late) {
      const pending = [...inFlight.values()];
      // Seen on 2026-11-21 (2 runs of 4): a connection from the machine, which was reset or powered
      // off without closing it, keeps the seed's close() waiting for good (src/server's problem,
      // reported). Say what was open, then cut the connections so the test ends.
      const open = await new Promise<number>((r) => s.server.app.server.getConnections((_e, n) => r(n)));
      console.error(`seed stop still waiting after 20 s: ${open} connection(s) open; unanswered requests: ${pending.join(', ') || 'none'}`);
      s.server.app.server.closeAllConnections();
      await stopped;
    }
  }
}

/** The image's bytes outside the GPT areas (the config drive step rewrites both headers). */
const GPT_HEAD = 34 * 512;
const GPT_TAIL = 33 * 512;

function timelineFigures(history: HistoryRow[]): string {
  const at = (re: RegExp) => Date.parse(history.find((h) => re.test(h.event))?.created_at ?? '');
  const poweredOn = at(/^powered on; waiting/);
  const secs = (re: RegExp) => ((at(re) - poweredOn) / 1000).toFixed(1);
  return `power-on → initramfs fetched ${secs(/^deploy\.initramfs fetched/)} s, → agent lookup ${secs(/^deploy agent looked up/)} s, → active ${secs(/^deploying -> active/)} s; ${history
    .map((h) => h.event)
    .filter((e) => /fetched: |succeeded: /.test(e))
    .join(' | ')}`;
}

test('the image-builder deploy ramdisk (Node 18 agent) deploys a 768 MiB lab machine: image and config drive on its disk', async (t) => {
  const { rd, seconds } = await deployRamdisk();
  assert.equal(rd.built, true);
  t.diagnostic(`ramdisk built in ${seconds.toFixed(1)} s: initramfs ${((await stat(rd.initramfs)).size / MiB).toFixed(1)} MiB`);
  // The node inside the built tree is Debian bookworm's Node 18 and runs; /init and the bundle are ours.
  const tree = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-tree-'));
  try {
    await run('sh', ['-c', 'zcat "$1" | cpio -id --quiet', 'sh', rd.initramfs], { cwd: tree });
    assert.match((await run('chroot', [tree, '/usr/bin/node', '--version'])).stdout, /^v18\./);
    assert.match(await readFile(join(tree, 'opt/bootstack/agent.js'), 'utf8'), /bootstack\.boot_secret/);
    assert.equal((await run('cmp', [join(tree, 'init'), 'elements/ramdisk/bin/bootstack-ramdisk-init'], { allowFailure: true })).code, 0);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }

  // A whole-disk image with a GPT: 3 MiB of random data behind a partition table (the config
  // drive is appended as a partition after it).
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-image-'));
  dirs.push(dir);
  const file = join(dir, 'image.raw');
  await writeFile(file, randomBytes(3 * MiB));
  await run('sfdisk', ['--quiet', file], { input: 'label: gpt\nsize=1MiB, name=root\n' });
  const image = await readFile(file);

  const d = await labDeploy(file, { memoryMiB: 768, diskGiB: 1, hostname: 'ramdisk-host' });
  const events = d.history.map((h) => h.event);
  assertInOrder(events, [
    /^powered on; waiting for the deploy ramdisk to look up$/,
    new RegExp(`^DHCP DHCPACK ${d.mac} `),
    /^deploy\.kernel fetched: /,
    /^deploy\.initramfs fetched: /,
    /^ramdisk \(guest clock\): kernel → init [\d.]+ s, → agent started [\d.]+ s, → agent loaded [\d.]+ s, → network up [\d.]+ s, → lookup [\d.]+ s \(uptime [\d.]+ s\)$/,
    /^deploy agent looked up/,
    /^agent command write_image succeeded: 3\.0 MiB in .* MB\/s\)$/,
    /^agent command write_config_drive succeeded$/,
    /^agent command sync succeeded$/,
    /^rebooting into the deployed image$/,
    /^deploying -> active \(done\)$/,
  ]);
  t.diagnostic(timelineFigures(d.history));

  // The console: /init started the agent on Node 18, the agent's own log lines follow.
  assert.match(d.console, /BOOTSTACK-RAMDISK-READY kernel=\S+ modules: virtio_pci virtio_blk virtio_net/);
  const started = /BOOTSTACK-AGENT-START \/usr\/bin\/node \/opt\/bootstack\/agent\.js node=(v18\.\d+\.\d+) at ([\d.]+)s/.exec(d.console);
  assert.ok(started, `no agent start marker on the console:\n${d.console.slice(-3000)}`);
  assert.match(d.console, /network: eth0 \d+\.\d+\.\d+\.\d+ \(DHCP\)/);
  assert.doesNotMatch(d.console, /BOOTSTACK-AGENT-EXIT/, 'the agent runs until the machine reboots');
  t.diagnostic(`console: agent started on ${started[1]} at ${started[2]} s after the kernel started`);

  // The ramdisk's start on the guest clock (the agent's report with its lookup): every stage, each
  // step plausible under TCG, and the agent's process start agrees with /init's console marker
  // (same clock, read just before /init execs node).
  const stagesRow = events.find((e) => e.startsWith('ramdisk (guest clock): '))!;
  t.diagnostic(stagesRow);
  const st = parseRamdiskStagesRow(stagesRow)!;
  for (const k of ['init_s', 'agent_start_s', 'agent_ready_s', 'network_s', 'lookup_s'] as const) {
    assert.ok(st[k] !== undefined && st[k] >= 0 && st[k] < 300, `${k} in ${stagesRow}`);
  }
  assert.ok(st.init_s! > 0.1, `the kernel takes some time to reach /init: ${stagesRow}`);
  const agentStart = st.init_s! + st.agent_start_s!;
  assert.ok(Math.abs(agentStart - Number(started[2])) < 3, `agent start ${agentStart.toFixed(2)} s vs console marker ${started[2]} s`);

  // The QEMU disk: the image's boot code and everything between the GPT areas, and the config drive.
  const fh = await open(d.disk, 'r');
  const head = Buffer.alloc(image.length);
  await fh.read(head, 0, head.length, 0);
  await fh.close();
  assert.ok(head.subarray(0, 440).equals(image.subarray(0, 440)));
  assert.ok(head.subarray(GPT_HEAD, image.length - GPT_TAIL).equals(image.subarray(GPT_HEAD, image.length - GPT_TAIL)));
  await assertConfigDrive(d.disk, 'ramdisk-host', KEY);
});

test('a 2 GiB image onto the same 768 MiB machine: streamed, on disk byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-image-'));
  dirs.push(dir);
  // 2 GiB, mostly zeros (sparse on the host) with 8 random 32 MiB stretches, behind a GPT.
  const file = join(dir, 'image.raw');
  const size = 2 * 1024 * MiB;
  await run('truncate', ['-s', String(size), file]);
  await run('sfdisk', ['--quiet', file], { input: 'label: gpt\nname=root\n' });
  const fh = await open(file, 'r+');
  for (let i = 0; i < 8; i++) await fh.write(randomBytes(32 * MiB), 0, 32 * MiB, i * 256 * MiB + MiB);
  await fh.close();
  const want = await rangeHash(file, GPT_HEAD, size - GPT_TAIL);

  const d = await labDeploy(file, { memoryMiB: 768, diskGiB: 3, hostname: 'big-host' });
  assertInOrder(
    d.history.map((h) => h.event),
    [/^image .* fetched: 2048\.0 MiB/, /^agent command write_image succeeded: 2048\.0 MiB in .* MB\/s\)$/, /^agent command write_config_drive succeeded$/, /^deploying -> active \(done\)$/],
  );
  t.diagnostic(timelineFigures(d.history));
  assert.equal(await rangeHash(d.disk, GPT_HEAD, size - GPT_TAIL), want, 'the disk holds the 2 GiB image');
  await assertConfigDrive(d.disk, 'big-host', KEY);
});

test('the ramdisk console: the agent runs in the foreground, Ctrl-C stops it with an exit marker and a shell follows', async () => {
  const { rd } = await deployRamdisk();
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-console-'));
  dirs.push(dir);
  const sock = join(dir, 'serial.sock');
  // A seed URL nobody answers (user networking, port 9): the agent gets DHCP, then retries lookups.
  const qemu = spawn('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '768', '-smp', '1', '-display', 'none', '-no-reboot', '-monitor', 'none',
    '-kernel', rd.kernel, '-initrd', rd.initramfs,
    '-append', 'console=ttyS0,115200 bootstack.api=http://10.0.2.2:9/boot bootstack.boot_secret=not-a-secret',
    '-serial', `unix:${sock},server=on,wait=on`, '-nic', 'user,model=virtio-net-pci',
  ], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    const serial = connect(sock);
    let text = '';
    serial.on('data', (d: Buffer) => (text += d.toString('utf8')));
    const waitFor = async (re: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > end) throw new Error(`console never showed ${re}:\n${text.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await waitFor(/BOOTSTACK-AGENT-START \S+ \S+ node=v18\./, 120_000);
    await waitFor(/lookup failed \(POST http:\/\/10\.0\.2\.2:9\/boot\/agent\/lookup: .*\); retrying/, 60_000);
    assert.doesNotMatch(text, /BOOTSTACK-AGENT-EXIT/);
    serial.write('\x03');
    await waitFor(/BOOTSTACK-AGENT-EXIT code=130 at [\d.]+s/, 30_000);
    await waitFor(/BOOTSTACK-AGENT-EXIT[^]*\/ # /, 30_000);
    // The shell answers on the console.
    serial.write('echo shell-$((6*7))\n');
    await waitFor(/shell-42/, 30_000);
    serial.destroy();
  } finally {
    qemu.kill();
  }
});
