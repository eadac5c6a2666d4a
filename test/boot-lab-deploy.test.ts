// A real lab machine deployed by the conductor: the REAL seed (all services) with a Redfish node
// pointing at the lab's BMC, boot "ipxe" and deploy "direct". `provision active` makes the
// conductor set the boot device and power the QEMU machine on (TCG, SeaBIOS) through Redfish; it
// network-boots from our dnsmasq and /boot, and its busybox ramdisk looks itself up with the
// secret from its kernel command line. The Node deploy agent is not in a ramdisk yet (the image
// builder makes that), so a few lines of busybox shell stand in for it: they pull the commands
// over the same agent API, stream the image from /boot/images/{token} onto /dev/vda checking the
// checksum, sync and report. The node reaches active, the QEMU disk holds the image, and the
// node's timeline shows the machine's steps from DHCP to the reboot, in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, mkdir, copyFile, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import type { TestSeed } from './support/seed.js';
import { startLabSeed, LabNodes, assertConfigDrive, cleanUpLabs, type LabSeed } from './support/lab-seed.js';
import { assertInOrder } from './support/in-order.js';
import { buildBusyboxRamdisk, hostKernel, VIRTIO_NET_MODULES } from './support/busybox-ramdisk.js';

const dirs: string[] = [];
const seeds: TestSeed[] = [];
after(() => cleanUpLabs(seeds, dirs));

/** The stand-in agent: pull commands with the agent token, run write_image and sync, report. */
const SHELL_AGENT = `
RESP=$($B wget -q -O - --header 'Content-Type: application/json' --post-data "{\\"macs\\":[\\"$MAC\\"],\\"boot_secret\\":\\"$SECRET\\"}" "$API/agent/lookup")
echo "BOOTSTACK-LOOKUP $RESP"
field() { echo "$2" | $B sed -n "s/.*\\"$1\\":\\"\\([^\\"]*\\)\\".*/\\1/p"; }
NODE=$(field node_id "$RESP"); TOKEN=$(field agent_token "$RESP")
report() { $B wget -q -O - --header "X-Agent-Token: $TOKEN" --header 'Content-Type: application/json' --post-data "$2" "$API/agent/nodes/$NODE/commands/$1/result" >/dev/null; }
while CMD=$($B wget -q -O - --header "X-Agent-Token: $TOKEN" "$API/agent/nodes/$NODE/commands/next"); do
  ID=$(field id "$CMD"); NAME=$(field name "$CMD")
  echo "BOOTSTACK-COMMAND $NAME"
  case "$NAME" in
    write_image)
      URL=$(field image_url "$CMD"); SUM=$(field checksum "$CMD"); ALGO=$(field checksum_algo "$CMD")
      GOT=$($B wget -q -O - "$URL" | $B tee /dev/vda | $B \${ALGO}sum | $B cut -d' ' -f1)
      if [ "$GOT" = "$SUM" ]; then report "$ID" '{"status":"succeeded","result":{"device":"/dev/vda"}}'
      else report "$ID" "{\\"status\\":\\"failed\\",\\"error\\":\\"checksum mismatch: $GOT\\"}"; fi;;
    sync) $B sync; report "$ID" '{"status":"succeeded","result":{"synced":true}}';;
    "") $B sleep 1;;
    *) report "$ID" "{\\"status\\":\\"failed\\",\\"error\\":\\"the test ramdisk cannot run $NAME\\"}";;
  esac
done
echo BOOTSTACK-AGENT-DONE
$B sleep 3600
`;

/** The real deploy agent: the Node 18 bundle, node and the disk tools with their libraries. */
async function nodeAgentRamdisk(dir: string, modules: string): Promise<string> {
  const bundle = join(dir, 'deploy-agent.cjs');
  const { build } = await import('esbuild');
  await build({ entryPoints: ['src/agents/deploy-agent/main.ts'], outfile: bundle, bundle: true, platform: 'node', target: 'node18', format: 'cjs', logLevel: 'error' });
  const tools = ['sfdisk', 'sgdisk', 'wipefs', 'blockdev', 'mkfs.vfat', 'mmd', 'mcopy'];
  const binaries = [process.execPath];
  for (const t of tools) binaries.push((await run('sh', ['-c', `command -v ${t}`])).stdout.trim());
  const body = `export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/usr/bin/node /deploy-agent.cjs
echo "BOOTSTACK-AGENT-EXIT $?"
$B sleep 3600`;
  // mtools converts file names through glibc's iconv (codepage 850): its gconv modules must be there.
  const gconv = '/usr/lib/x86_64-linux-gnu/gconv';
  const files: Record<string, string> = { '/deploy-agent.cjs': bundle };
  for (const f of ['gconv-modules', 'gconv-modules.cache', 'gconv-modules.d/gconv-modules-extra.conf', 'IBM850.so']) files[`${gconv}/${f}`] = `${gconv}/${f}`;
  return buildBusyboxRamdisk(dir, modules, body, [...VIRTIO_NET_MODULES, 'virtio_blk'], { binaries, files, applets: ['ip', 'udhcpc', 'sync', 'sh'] });
}

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstackLabDeployTestKeyOnly lab@test';

async function labDeploy(agent: 'shell' | 'node') {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-lab-deploy-'));
  dirs.push(dir);
  const { kernel, modules } = await hostKernel();
  const files = join(dir, 'files');
  await mkdir(files);
  await copyFile(kernel, join(files, 'deploy.kernel'));
  const ramdisk = agent === 'node' ? await nodeAgentRamdisk(dir, modules) : await buildBusyboxRamdisk(dir, modules, SHELL_AGENT, [...VIRTIO_NET_MODULES, 'virtio_blk']);
  await copyFile(ramdisk, join(files, 'deploy.initramfs'));

  const ls = await startLabSeed(dir, { memoryMiB: agent === 'node' ? 1024 : 384, diskGiB: 1, conductorHost: 'lab-deploy', filesDir: files });
  seeds.push(ls.seed);
  try {
    await deployOn(ls, dir, agent);
  } finally {
    seeds.splice(seeds.indexOf(ls.seed), 1);
    await ls.seed.stop();
  }
}

async function deployOn(ls: LabSeed, dir: string, agent: 'shell' | 'node') {
  const s = ls.seed;
  const token = await s.token();
  const c = new LabNodes(ls, token);
  const m = c.machine;

  // The image: 3 MiB, raw; a whole-disk image with a GPT (the config drive is appended as a partition).
  const image = randomBytes(3 * 1024 * 1024);
  if (agent === 'node') {
    const file = join(dir, 'image.raw');
    await writeFile(file, image);
    await run('sfdisk', ['--quiet', file], { input: 'label: gpt\nsize=1MiB, name=root\n' });
    image.set(await readFile(file));
  }
  const created = await s.call('POST', '/image/v2/images', { token, body: { name: 'lab-image', disk_format: 'raw', container_format: 'bare' } });
  assert.equal(created.status, 201);
  assert.equal((await s.call('PUT', `/image/v2/images/${created.body.id}/file`, { token, raw: image, headers: { 'content-type': 'application/octet-stream' } })).status, 204);

  const node = await c.availableNode({
    ...(agent === 'node' ? { properties: { root_device: { name: 'vda' } } } : {}),
    instance_info: {
      image_source: created.body.id,
      ...(agent === 'node' ? { configdrive: { meta_data: { hostname: 'lab-host', public_keys: { default: KEY } } } } : {}),
    },
  });
  assert.equal(node.boot_interface, 'ipxe');
  assert.equal(node.deploy_interface, 'direct');
  const id = node.uuid as string;

  assert.equal((await c.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
  const done = await c.waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed', 400_000);
  assert.equal(done.provision_state, 'active', done.last_error);

  // The machine's steps, in order, as the node's history records them.
  const events = (await c.api('GET', `/nodes/${id}/history`)).body.history.map((h: { event: string }) => h.event) as string[];
  const order = [
    /^available -> deploying \(deploy\)$/,
    /^network boot of the deploy ramdisk prepared for /,
    /^powered on; waiting for the deploy ramdisk to look up$/,
    new RegExp(`^DHCP DHCPACK ${m.mac} `),
    /^iPXE script fetched/,
    /^deploy\.kernel fetched: /,
    /^deploy\.initramfs fetched: /,
    /^deploy agent looked up/,
    /^agent command write_image started$/,
    /^image .* fetched: 3\.0 MiB/,
    agent === 'node' ? /^agent command write_image succeeded: 3\.0 MiB in .* MB\/s\)$/ : /^agent command write_image succeeded$/,
    ...(agent === 'node' ? [/^agent command write_config_drive succeeded$/] : []),
    /^agent command sync succeeded$/,
    /^boot device set to disk \(persistent\)$/,
    /^rebooting into the deployed image$/,
    /^deploying -> active \(done\)$/,
  ];
  assertInOrder(events, order);

  // The QEMU disk holds the image (read after powering the machine off).
  const raw = await c.diskAfterPowerOff(id, join(dir, 'disk.raw'), 60_000);
  const fh = await open(raw, 'r');
  const head = Buffer.alloc(image.length);
  await fh.read(head, 0, head.length, 0);
  await fh.close();
  if (agent === 'shell') assert.ok(head.equals(image), 'the disk starts with the image bytes');
  else {
    // The config drive step moved the backup GPT to the disk's end (primary header rewritten);
    // the boot code and everything between the GPT areas are the image's.
    assert.ok(head.subarray(0, 440).equals(image.subarray(0, 440)));
    assert.ok(head.subarray(34 * 512, image.length - 33 * 512).equals(image.subarray(34 * 512, image.length - 33 * 512)));
  }
  if (agent === 'node') await assertConfigDrive(raw, 'lab-host', KEY);
}

test('a lab machine deployed by the conductor with the REAL deploy agent (Node) in its ramdisk: image and config drive on the QEMU disk', async () => {
  await labDeploy('node');
});

test('the same with a busybox shell stand-in for the agent (the agent API from any client)', async () => {
  await labDeploy('shell');
});
