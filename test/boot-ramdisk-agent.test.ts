// The image builder's deploy ramdisk, end to end: buildDeployRamdisk() builds debian-minimal +
// deploy-ramdisk (Debian's kernel, Node 18 and disk tools, the agent bundled from src/agents) and
// the REAL seed deploys a 768 MiB lab QEMU machine (TCG, SeaBIOS, Redfish BMC) with it: the machine
// network-boots that kernel and initramfs, /init starts the Node agent, which brings up DHCP, looks
// itself up and writes a whole-disk image plus a config drive. The node reaches active, the QEMU
// disk holds the image and a config-2 partition, and the console shows the agent ran on Node 18.
// Figures (boot → agent start, write MB/s) are printed as test diagnostics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir, copyFile, open, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, readBmcPassword, LabPaths } from '../src/lab/index.js';
import { run } from '../src/common/child-process.js';
import { buildDeployRamdisk } from '../src/image-builder/deploy-ramdisk.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { assertInOrder } from './support/in-order.js';

const dirs: string[] = [];
const seeds: TestSeed[] = [];
after(async () => {
  for (const s of seeds) await s.stop().catch(() => undefined);
  for (const dir of dirs) {
    await labDown({ dir: join(dir, 'lab') }).catch((err: unknown) => console.error('lab down failed', err));
    await rm(dir, { recursive: true, force: true });
  }
});

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstackRamdiskAgentTestKeyOnly lab@test';
const MiB = 1024 * 1024;

interface HistoryRow {
  event: string;
  created_at: string;
}

test('the image-builder deploy ramdisk (Node 18 agent) deploys a 768 MiB lab machine: image and config drive on its disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-ramdisk-agent-'));
  dirs.push(dir);

  // The ramdisk, built by the image builder (the base comes from ~/.cache/bootstack when warm).
  const t0 = Date.now();
  const rd = await buildDeployRamdisk(join(dir, 'ramdisk'), { env: {} });
  assert.equal(rd.built, true);
  t.diagnostic(`ramdisk built in ${((Date.now() - t0) / 1000).toFixed(1)} s: initramfs ${((await stat(rd.initramfs)).size / MiB).toFixed(1)} MiB`);
  // The node inside the built tree is Debian bookworm's Node 18 and runs.
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await run('sh', ['-c', 'zcat "$1" | cpio -id --quiet', 'sh', rd.initramfs], { cwd: tree });
  assert.match((await run('chroot', [tree, '/usr/bin/node', '--version'])).stdout, /^v18\./);
  assert.match(await readFile(join(tree, 'opt/bootstack/agent.js'), 'utf8'), /bootstack\.boot_secret/);
  assert.equal((await run('cmp', [join(tree, 'init'), 'elements/ramdisk/bin/bootstack-ramdisk-init'], { allowFailure: true })).code, 0);
  await rm(tree, { recursive: true, force: true });

  const files = join(dir, 'files');
  await mkdir(files);
  await copyFile(rd.kernel, join(files, 'deploy.kernel'));
  await copyFile(rd.initramfs, join(files, 'deploy.initramfs'));

  const labDir = join(dir, 'lab');
  const { lab } = await labUp({ nodes: 1, memoryMiB: 768, diskGiB: 1, accel: 'tcg', firmware: 'bios', bmcPort: 0 }, { dir: labDir });
  const net = lab.network;
  // Router advertisements need an IPv6 prefix on the interface (without them iPXE waits ~13 s).
  await run('ip', ['-6', 'addr', 'add', `fd00:b007:${randomBytes(2).toString('hex')}::1/64`, 'dev', net.seedInterface, 'nodad']);
  const [a, b, c] = net.seedAddress.split('.');
  const s = await startSeed({
    listen: { host: net.seedAddress, port: 0 },
    baremetal: { conductor: { host: 'ramdisk-agent', check_interval: 0.5, sync_power_state_interval: 0, deploy_callback_timeout: 400 } },
    boot: {
      files_dir: files,
      dnsmasq: { enabled: true, interface: net.seedInterface, range_start: `${a}.${b}.${c}.100`, range_end: `${a}.${b}.${c}.150` },
    },
  });
  seeds.push(s);
  // Requests the seed has not answered yet, to name them if stopping it has to wait for them.
  const inFlight = new Map<object, string>();
  s.server.app.server.on('request', (req: { method?: string; url?: string }, res: { on: (e: string, f: () => void) => void }) => {
    inFlight.set(res, `${new Date().toISOString()} ${req.method} ${req.url?.replace(/\?.*/, '')}`);
    res.on('close', () => inFlight.delete(res));
  });
  const m = lab.machines[0]!;
  const consoleLog = () => readFile(join(new LabPaths(labDir).machineDir(m.name), 'console.log'), 'utf8').catch(() => '');
  try {
    const token = await s.token();
    const api = (method: string, path: string, body?: unknown) => s.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
    const waitNode = async (id: string, until: (n: Record<string, any>) => boolean, ms: number) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const end = Date.now() + ms;
      for (;;) {
        const n = (await api('GET', `/nodes/${id}`)).body;
        if (until(n)) return n;
        if (Date.now() > end) throw new Error(`node stuck in ${n.provision_state}: ${n.last_error}\nconsole:\n${(await consoleLog()).slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };

    // A whole-disk image with a GPT: 3 MiB of random data behind a partition table (the config
    // drive is appended as a partition after it).
    const image = randomBytes(3 * MiB);
    const file = join(dir, 'image.raw');
    await writeFile(file, image);
    await run('sfdisk', ['--quiet', file], { input: 'label: gpt\nsize=1MiB, name=root\n' });
    image.set(await readFile(file));
    const created = await s.call('POST', '/image/v2/images', { token, body: { name: 'ramdisk-agent-image', disk_format: 'raw', container_format: 'bare' } });
    assert.equal(created.status, 201);
    assert.equal((await s.call('PUT', `/image/v2/images/${created.body.id}/file`, { token, raw: image, headers: { 'content-type': 'application/octet-stream' } })).status, 204);

    const password = await readBmcPassword(new LabPaths(labDir));
    const node = await api('POST', '/nodes', {
      name: 'lab-0',
      driver: 'redfish',
      driver_info: { redfish_address: lab.bmc.url, redfish_username: lab.bmc.username, redfish_password: password, redfish_system_id: m.systemId, redfish_auth_type: 'basic' },
      automated_clean: false,
      properties: { root_device: { name: 'vda' } },
      instance_info: { image_source: created.body.id, configdrive: { meta_data: { hostname: 'ramdisk-host', public_keys: { default: KEY } } } },
    });
    assert.equal(node.status, 201, JSON.stringify(node.body));
    const id = node.body.uuid as string;
    assert.equal((await api('POST', '/ports', { node_uuid: id, address: m.mac })).status, 201);
    await api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
    await waitNode(id, (n) => n.provision_state === 'manageable', 60_000);
    await api('PUT', `/nodes/${id}/states/provision`, { target: 'provide' });
    await waitNode(id, (n) => n.provision_state === 'available', 60_000);

    assert.equal((await api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
    const done = await waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed', 400_000);
    assert.equal(done.provision_state, 'active', `${done.last_error}\nconsole:\n${(await consoleLog()).slice(-3000)}`);

    const history = (await api('GET', `/nodes/${id}/history`)).body.history as HistoryRow[];
    const events = history.map((h) => h.event);
    assertInOrder(events, [
      /^powered on; waiting for the deploy ramdisk to look up$/,
      new RegExp(`^DHCP DHCPACK ${m.mac} `),
      /^deploy\.kernel fetched: /,
      /^deploy\.initramfs fetched: /,
      /^deploy agent looked up/,
      /^agent command write_image succeeded: 3\.0 MiB in .* MB\/s\)$/,
      /^agent command write_config_drive succeeded$/,
      /^agent command sync succeeded$/,
      /^rebooting into the deployed image$/,
      /^deploying -> active \(done\)$/,
    ]);
    // Figures from the timeline: power-on → agent lookup (firmware, iPXE, kernel, /init, node, DHCP).
    const at = (re: RegExp) => Date.parse(history.find((h) => re.test(h.event))!.created_at);
    const poweredOn = at(/^powered on; waiting/);
    t.diagnostic(`power-on → initramfs fetched ${((at(/^deploy\.initramfs fetched/) - poweredOn) / 1000).toFixed(1)} s, → agent lookup ${((at(/^deploy agent looked up/) - poweredOn) / 1000).toFixed(1)} s`);
    t.diagnostic(events.filter((e) => /fetched|succeeded:/.test(e)).join(' | '));

    // The console: /init started the agent on Node 18, the agent's own log lines follow.
    const text = await consoleLog();
    assert.match(text, /BOOTSTACK-RAMDISK-READY kernel=\S+ modules: virtio_pci virtio_blk virtio_net/);
    const started = /BOOTSTACK-AGENT-START \/usr\/bin\/node \/opt\/bootstack\/agent\.js node=(v18\.\d+\.\d+) at ([\d.]+)s/.exec(text);
    assert.ok(started, `no agent start marker on the console:\n${text.slice(-3000)}`);
    assert.match(text, /network: eth0 \d+\.\d+\.\d+\.\d+ \(DHCP\)/);
    assert.doesNotMatch(text, /BOOTSTACK-AGENT-EXIT/, 'the agent runs until the machine reboots');
    t.diagnostic(`console: agent started on ${started[1]} at ${started[2]} s after the kernel started`);

    // The QEMU disk holds the image and a config-2 partition (read after powering off).
    await api('PUT', `/nodes/${id}/states/power`, { target: 'power off' });
    await waitNode(id, (n) => n.power_state === 'power off' && !n.target_power_state, 60_000);
    const raw = join(dir, 'disk.raw');
    await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', new LabPaths(labDir).disk(m.name), raw], { timeoutMs: 60_000 });
    const fh = await open(raw, 'r');
    const head = Buffer.alloc(image.length);
    await fh.read(head, 0, head.length, 0);
    await fh.close();
    // The config drive step moved the backup GPT to the disk's end (primary header rewritten);
    // the boot code and everything between the GPT areas are the image's.
    assert.ok(head.subarray(0, 440).equals(image.subarray(0, 440)));
    assert.ok(head.subarray(34 * 512, image.length - 33 * 512).equals(image.subarray(34 * 512, image.length - 33 * 512)));
    const parts = JSON.parse((await run('sfdisk', ['--json', raw])).stdout).partitiontable.partitions as Array<{ start: number; size: number }>;
    const offset = parts.at(-1)!.start * 512;
    assert.match((await run('blkid', ['-p', '-O', String(offset), '-o', 'export', raw])).stdout, /^LABEL=config-2$/m);
    const meta = JSON.parse((await run('mtype', ['-i', `${raw}@@${offset}`, '::openstack/latest/meta_data.json'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } })).stdout);
    assert.equal(meta.hostname, 'ramdisk-host');
    assert.deepEqual(meta.public_keys, { default: KEY });
  } finally {
    seeds.splice(seeds.indexOf(s), 1);
    const stopped = s.stop();
    const late = await Promise.race([stopped.then(() => false), new Promise((r) => setTimeout(r, 20_000, true))]);
    if (late) {
      const pending = [...inFlight.values()];
      // Seen once (2026-11-21): a connection from the machine, which was reset mid-request, kept
      // the seed's close() waiting for good. Name what was pending, then cut the connections.
      console.error(`seed stop still waiting after 20 s; unanswered requests: ${pending.join(', ') || 'none'}\n${s.logLines.slice(-20).join('')}`);
      s.server.app.server.closeAllConnections();
      await stopped;
    }
  }
});
