// The configuration loop on a real lab machine, end to end through the real deploy path: a stack
// (the real `openstack` CLI) puts one server on a QEMU machine (TCG) from the managed sample image;
// on the machine, first boot runs user_data once and bootstraps os-collect-config from the config
// drive; os-collect-config long-polls the server's metadata as the stack user, os-refresh-config runs
// os-apply-config and heat-config, and heat-config signals the deployments back. The stages run on
// one machine, one after the other (a lab machine under TCG takes a core; deploys are the slow part):
//   1. create: the script ran ON the machine (its hostname and machine-id are stack outputs) and
//      os-apply-config rendered /etc/bootstack-sample.conf from the image's template;
//   2. update with a new input: applied without a redeploy, deployments COMPLETE;
//   3. a failing script: UPDATE_FAILED with the script's stderr in the reason; the next good update
//      completes;
//   4. reboot: os-collect-config comes back, nothing that did not change runs again, and a later
//      update still reaches the machine;
//   5. isolation: the machine's metadata service answers it alone; the stack user can do nothing
//      but its own metadata and signals;
//   6. stack delete frees the node.
// Then a cloud-init image (Debian's package, built by our builder) comes up unchanged, once from the
// config drive and once from the metadata service alone (no drive written).
// The second test, on the same lab, is compute and networking on real machines: the operator's
// `openstack server create --nic net-id=ctlplane` (SSH at its Neutron port's address, the console
// log, delete through cleaning), and a TripleO-style stack of two servers on fixed-address ports.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import type { TestSeed } from './support/seed.js';
import { cleanUpLabs } from './support/lab-seed.js';
import { buildSampleImage, defaultSampleImageDir } from '../src/image-builder/sample-image.js';
import { configLoopTemplate, startConfigLoopLab, type ConfigLoopLab } from './support/config-loop.js';

const dirs: string[] = [];
const seeds: TestSeed[] = [];
after(() => cleanUpLabs(seeds, dirs));

// One lab for both tests: two machines, the first enrolled now, the second by the compute test.
let l: ConfigLoopLab;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-config-loop-'));
  dirs.push(dir);
  l = await startConfigLoopLab(dir, { machines: 2 });
  seeds.push(l.ls.seed);
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function stackShow(l: ConfigLoopLab, name: string): Promise<Json> {
  return JSON.parse((await l.openstack(['stack', 'show', name, '-f', 'json'])).stdout) as Json;
}

/** A stack output; the script hook keeps an output file's bytes as they are (newline included). */
function output(stack: Json, key: string): string {
  return String((stack.outputs as Array<{ output_key: string; output_value: unknown }>).find((o) => o.output_key === key)?.output_value ?? '').trim();
}

/** Polls `check` on the machine until it holds (the loop is asynchronous from the stack's view). */
async function eventually(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('the configuration loop on a lab machine: deploy, update, failure, reboot, isolation, cloud-init', { timeout: 60 * 60_000 }, async () => {
  const template = join(dir, 'loop.yaml');
  await writeFile(template, configLoopTemplate(l.publicKey));

  // 1. Create: the server deploys, first boot bootstraps os-collect-config, the deployments run.
  const created = await l.openstack(['stack', 'create', '-t', template, '--wait', '--timeout', '40', 'loop'], { allowFailure: true });
  let stack = await stackShow(l, 'loop');
  assert.equal(stack.stack_status, 'CREATE_COMPLETE', `${stack.stack_status}: ${stack.stack_status_reason}\n${created.stderr}\nconsole:\n${(await l.nodes.consoleLog()).slice(-4000)}`);
  const ip = await l.sshAddress('loop-0', 300_000);
  const [hostname, machineId] = (await l.ssh(ip, 'hostname; cat /etc/machine-id')).trim().split('\n');
  assert.equal(hostname, 'loop-0');
  assert.equal(output(stack, 'hostname'), 'loop-0', 'the script ran on the machine: its hostname is an output');
  assert.equal(output(stack, 'machine_id'), machineId, 'and so is its machine-id');
  assert.equal(output(stack, 'message'), 'one');
  assert.match(await l.ssh(ip, 'cat /etc/bootstack-sample.conf'), /one/, 'os-apply-config rendered the image template');
  assert.equal((await l.ssh(ip, 'cat /var/lib/bootstack-user-data-runs')).trim(), 'ran', 'user_data ran once');
  const node = (await l.nodes.api('GET', `/nodes/${l.nodeId}`)).body as Json;
  assert.equal(node.provision_state, 'active');

  // 2. Update with a changed input: the machine applies it without a redeploy.
  const deployedAt = node.provision_updated_at;
  await l.openstack(['stack', 'update', '--existing', '--parameter', 'message=two', '--wait', 'loop']);
  stack = await stackShow(l, 'loop');
  assert.equal(stack.stack_status, 'UPDATE_COMPLETE', String(stack.stack_status_reason));
  assert.equal(output(stack, 'message'), 'two');
  assert.equal((await l.ssh(ip, 'cat /etc/loop-message')).trim(), 'two');
  assert.match(await l.ssh(ip, 'cat /etc/bootstack-sample.conf'), /two/);
  assert.equal(((await l.nodes.api('GET', `/nodes/${l.nodeId}`)).body as Json).provision_updated_at, deployedAt, 'no redeploy');
  const deployments = JSON.parse((await l.openstack(['software', 'deployment', 'list', '-f', 'json'])).stdout) as Json[];
  assert.ok(deployments.length >= 2 && deployments.every((d) => d.status === 'COMPLETE'), JSON.stringify(deployments));

  // 3. A failing script fails the deployment and the stack, with its stderr in the reason.
  await l.openstack(['stack', 'update', '--existing', '--parameter', 'fail=yes', '--parameter', 'message=bad', '--wait', 'loop'], { allowFailure: true });
  stack = await stackShow(l, 'loop');
  assert.equal(stack.stack_status, 'UPDATE_FAILED');
  assert.match(String(stack.stack_status_reason), /failing on purpose with bad/);
  await l.openstack(['stack', 'update', '--existing', '--parameter', 'fail=no', '--parameter', 'message=three', '--wait', 'loop']);
  stack = await stackShow(l, 'loop');
  assert.equal(stack.stack_status, 'UPDATE_COMPLETE', String(stack.stack_status_reason));
  assert.equal(output(stack, 'message'), 'three');

  // 4. Reboot: os-collect-config resumes; nothing that did not change runs again.
  // A clean reboot from the machine (a BMC reset would lose what the page cache had not written:
  // the run log's last line came back as zeros when this test reset the machine).
  const runsBefore = await l.ssh(ip, 'cat /var/lib/loop-runs');
  const bootId = (await l.ssh(ip, 'cat /proc/sys/kernel/random/boot_id')).trim();
  // (The connection may drop before ssh sees the command's status.)
  await l.ssh(ip, 'systemctl reboot').catch(() => undefined);
  let ip2 = '';
  await eventually('the machine back after its reboot', async () => {
    ip2 = await l.sshAddress('loop-0', 300_000);
    return (await l.ssh(ip2, 'cat /proc/sys/kernel/random/boot_id').catch(() => bootId)).trim() !== bootId;
  }, 400_000);
  await eventually('os-collect-config running again after the reboot', async () => (await l.ssh(ip2, 'systemctl is-active os-collect-config || true')).trim() === 'active', 180_000);
  // Give the collector a full round against the server before looking for re-runs.
  await eventually('os-collect-config has collected since the reboot', async () => (await l.ssh(ip2, 'journalctl -b -u os-collect-config --no-pager | grep -c . || true')).trim() !== '0', 120_000);
  await new Promise((r) => setTimeout(r, 15_000));
  assert.equal(await l.ssh(ip2, 'cat /var/lib/loop-runs'), runsBefore, 'no deployment ran again after the reboot');
  assert.equal((await l.ssh(ip2, 'cat /var/lib/bootstack-user-data-runs')).trim(), 'ran', 'user_data did not run again');
  await l.openstack(['stack', 'update', '--existing', '--parameter', 'message=four', '--wait', 'loop']);
  assert.equal((await l.ssh(ip2, 'cat /etc/loop-message')).trim(), 'four');

  // 5. Isolation. The metadata service: the machine reads its own; another address reads nothing.
  const own = JSON.parse(await l.ssh(ip2, 'curl -sf http://169.254.169.254/openstack/latest/meta_data.json')) as Json;
  assert.equal(own.hostname, 'loop-0');
  const ns = l.ls.lab.network.namespace;
  const stranger = `${l.ls.lab.network.seedAddress.split('.').slice(0, 3).join('.')}.250`;
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args], { allowFailure: true, timeoutMs: 30_000 });
  await inNs('ip', 'addr', 'add', `${stranger}/24`, 'dev', l.ls.lab.network.bridge);
  await inNs('ip', 'route', 'add', '169.254.169.254/32', 'via', l.ls.lab.network.seedAddress, 'src', stranger);
  try {
    const other = await inNs('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', 'http://169.254.169.254/openstack/latest/meta_data.json');
    assert.equal(other.stdout.trim(), '404', `an address that is no instance's gets nothing: ${other.stdout} ${other.stderr}`);
  } finally {
    await inNs('ip', 'route', 'del', '169.254.169.254/32');
    await inNs('ip', 'addr', 'del', `${stranger}/24`, 'dev', l.ls.lab.network.bridge);
  }
  // The stack user (its credentials are on the machine): its own metadata yes, anything else no.
  const heat = (own['os-collect-config'] as Json).heat as Json;
  const auth = await l.ls.seed.call('POST', '/identity/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['password'], password: { user: { id: heat.user_id, password: heat.password } } }, scope: { project: { id: heat.project_id } } } },
  });
  assert.equal(auth.status, 201);
  const userToken = auth.headers.get('x-subject-token')!;
  const mine = await l.ls.seed.call('GET', `/orchestration/v1/${heat.project_id}/stacks/${heat.stack_id}/resources/${heat.resource_name}/metadata`, { token: userToken });
  assert.equal(mine.status, 200);
  assert.equal((await l.ls.seed.call('GET', '/identity/v3/users', { token: userToken })).status, 403);
  assert.ok([403, 404].includes((await l.ls.seed.call('GET', `/orchestration/v1/${heat.project_id}/stacks/${heat.stack_id}/resources/whoami_deploy/metadata`, { token: userToken })).status));

  // 6. Delete: the node goes back to available.
  await l.openstack(['stack', 'delete', '--yes', '--wait', 'loop']);
  await l.nodes.waitNode(l.nodeId, (n) => n.provision_state === 'available', 600_000);

  // 7. cloud-init, unchanged (Debian's package in an image our builder made): from our config
  // drive, then from our metadata service alone (instance_info.config_drive false: no drive).
  const ci = await buildSampleImage(defaultSampleImageDir('cloud-init'), { variant: 'cloud-init', log: (line) => console.log(`# ${line}`) });
  const ciImage = await l.uploadImage('sample-cloud-init', ci.qcow2);
  for (const [hostnameCi, drive] of [['ci-drive', true], ['ci-metadata', false]] as const) {
    const patch = [
      { op: 'add', path: '/instance_info/image_source', value: ciImage },
      { op: 'add', path: '/instance_info/config_drive', value: drive },
    ];
    assert.equal((await l.nodes.api('PATCH', `/nodes/${l.nodeId}`, patch)).status, 200);
    const configdrive = {
      meta_data: { hostname: hostnameCi, public_keys: { lab: l.publicKey } },
      user_data: '#!/bin/sh\necho ran >> /var/lib/ci-user-data\n',
    };
    const r = await l.nodes.api('PUT', `/nodes/${l.nodeId}/states/provision`, { target: 'active', configdrive });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await l.nodes.waitNode(l.nodeId, (n) => n.provision_state === 'active', 900_000);
    // Debian's cloud-init gives the instance's keys to the `debian` user and refuses root logins.
    const at = await l.sshAddress(hostnameCi, 600_000, 'debian');
    const onMachine = (command: string) => l.ssh(at, command, 120_000, 'debian');
    // cloud-init's own verdict, and its result file: no errors, the datasource it used.
    await eventually('cloud-init finished', async () => /status: (done|error)/.test(await onMachine('cloud-init status --long || true')), 300_000);
    const status = await onMachine('cloud-init status --long || true');
    assert.match(status, /status: done/, status);
    const result = JSON.parse(await onMachine('cat /run/cloud-init/result.json')) as Json;
    assert.deepEqual(result.v1.errors, [], JSON.stringify(result));
    assert.match(String(result.v1.datasource), drive ? /ConfigDrive/ : /OpenStack/, String(result.v1.datasource));
    assert.equal((await onMachine('hostname')).trim(), hostnameCi);
    assert.equal((await onMachine('cat /var/lib/ci-user-data')).trim(), 'ran', 'the user_data script ran once');
    const label = await onMachine('ls /dev/disk/by-label/config-2 2>/dev/null || echo none');
    assert.equal(label.trim() === 'none', !drive, `config drive present: ${label}`);
    assert.equal((await l.nodes.api('PUT', `/nodes/${l.nodeId}/states/provision`, { target: 'deleted' })).status, 202);
    await l.nodes.waitNode(l.nodeId, (n) => n.provision_state === 'available', 600_000);
  }
});

test('compute and networking on lab machines: server create on ctlplane, console log, cleaning; a two-server stack on fixed ports', { timeout: 60 * 60_000 }, async () => {
  // Whatever the first test left, machine 0 must be available; then the second machine joins.
  const first = (await l.nodes.api('GET', `/nodes/${l.nodeId}`)).body as Json;
  if (first.provision_state !== 'available') {
    await l.nodes.api('PUT', `/nodes/${l.nodeId}/states/provision`, { target: 'deleted' });
    await l.nodes.waitNode(l.nodeId, (n) => n.provision_state === 'available', 600_000);
  }
  const second = await l.nodes.availableNode({ resource_class: 'baremetal', properties: { root_device: { name: 'vda' } } }, 1);
  const json = async (args: string[]) => JSON.parse((await l.openstack([...args, '-f', 'json'])).stdout) as Json;
  const ipv4 = (v: unknown) => /\b(\d+\.\d+\.\d+\.\d+)\b/.exec(JSON.stringify(v))?.[1];

  // The operator's way: a key pair, a flavor for the nodes' resource class, a server on ctlplane.
  await l.openstack(['keypair', 'create', '--public-key', `${l.keyFile}.pub`, 'lab-key']);
  await l.openstack(['flavor', 'create', 'lab', '--ram', '1', '--vcpus', '1', '--disk', '0',
    '--property', 'resources:CUSTOM_BAREMETAL=1', '--property', 'resources:VCPU=0', '--property', 'resources:MEMORY_MB=0', '--property', 'resources:DISK_GB=0']);
  const made = await l.openstack(['server', 'create', '--flavor', 'lab', '--image', 'sample', '--key-name', 'lab-key', '--nic', 'net-id=ctlplane', '--wait', 'lab-server', '-f', 'json'], { allowFailure: true });
  assert.equal(made.code, 0, `server create failed:\n${made.stderr}\nconsole 0:\n${(await l.nodes.consoleLog(0)).slice(-2000)}\nconsole 1:\n${(await l.nodes.consoleLog(1)).slice(-2000)}`);
  const server = JSON.parse(made.stdout) as Json;
  assert.equal(server.status, 'ACTIVE');
  const address = ipv4(server.addresses);
  assert.ok(address, JSON.stringify(server.addresses));
  const ports = await json(['port', 'list', '--server', 'lab-server']);
  assert.equal(ports.length, 1);
  assert.equal(ipv4(ports[0]['Fixed IP Addresses']), address, 'the server is at its Neutron port\'s address');
  const consoles = async () => `console 0:\n${(await l.nodes.consoleLog(0)).slice(-1500)}\nconsole 1:\n${(await l.nodes.consoleLog(1)).slice(-1500)}`;
  const hostname = await l.sshWhenUp(address, 'hostname', 300_000).catch(async (err: Error) => assert.fail(`${err.message}\n${await consoles()}`));
  assert.equal(hostname.trim(), 'lab-server', 'SSH with the key pair, at the port address');
  assert.ok((await json(['server', 'list'])).some((s: Json) => s.Name === 'lab-server'));
  const host = String((await json(['server', 'show', 'lab-server']))['OS-EXT-SRV-ATTR:hypervisor_hostname']);
  assert.equal((await json(['baremetal', 'node', 'show', host])).instance_uuid, server.id);
  const consoleText = (await l.openstack(['console', 'log', 'show', 'lab-server'])).stdout;
  assert.match(consoleText, /lab-server login:/, 'the machine\'s serial console');

  // Delete: the node is cleaned (the agent erases the disk) and comes back; the port and its address go.
  assert.equal((await l.nodes.api('PATCH', `/nodes/${host}`, [{ op: 'replace', path: '/automated_clean', value: true }])).status, 200);
  const states: string[] = [];
  const watcher = (async () => {
    for (let i = 0; i < 3000 && states.at(-1) !== 'available'; i++) {
      const st = String(((await l.nodes.api('GET', `/nodes/${host}`)).body as Json).provision_state);
      if (states.at(-1) !== st) states.push(st);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await l.openstack(['server', 'delete', '--wait', 'lab-server']);
  await l.nodes.waitNode(host, (n) => n.provision_state === 'available', 900_000);
  await watcher;
  assert.ok(states.includes('cleaning') || states.includes('clean wait'), `delete went through ${states.join(' → ')}`);
  assert.equal((await l.nodes.api('PATCH', `/nodes/${host}`, [{ op: 'replace', path: '/automated_clean', value: false }])).status, 200);
  assert.ok(!(await json(['port', 'list'])).some((p: Json) => ipv4(p['Fixed IP Addresses']) === address), 'the port and its address are released');

  // TripleO's way: ports with fixed addresses on ctlplane, servers on those ports, two machines.
  const prefix = l.ls.lab.network.seedAddress.split('.').slice(0, 3).join('.');
  const hot = join(dir, 'overcloud.yaml');
  await writeFile(hot, `heat_template_version: 2018-08-31
resources:
${[0, 1].map((i) => `  port${i}:
    type: OS::Neutron::Port
    properties: {network: ctlplane, fixed_ips: [{ip_address: ${prefix}.${60 + i}}]}
  server${i}:
    type: OS::Nova::Server
    properties:
      name: overcloud-${i}
      image: sample
      flavor: baremetal
      key_name: lab-key
      networks: [{port: {get_resource: port${i}}}]`).join('\n')}
outputs:
  ip0: {value: {get_attr: [server0, networks, ctlplane, 0]}}
  first1: {value: {get_attr: [server1, first_address]}}
`);
  await l.openstack(['stack', 'create', '-t', hot, '--wait', '--timeout', '40', 'overcloud'], { allowFailure: true });
  const oc = await stackShow(l, 'overcloud');
  assert.equal(oc.stack_status, 'CREATE_COMPLETE', `${oc.stack_status}: ${oc.stack_status_reason}`);
  assert.equal(output(oc, 'ip0'), `${prefix}.60`);
  assert.equal(output(oc, 'first1'), `${prefix}.61`);
  for (const i of [0, 1]) {
    const name = await l.sshWhenUp(`${prefix}.${60 + i}`, 'hostname', 300_000).catch(async (err: Error) => assert.fail(`${err.message}\n${await consoles()}`));
    assert.equal(name.trim(), `overcloud-${i}`);
  }
  const listed = (await json(['server', 'list'])).map((s: Json) => s.Name).sort();
  assert.deepEqual(listed, ['overcloud-0', 'overcloud-1'], 'servers made by the stack are servers');
  await l.openstack(['stack', 'delete', '--yes', '--wait', 'overcloud']);
  for (const id of [l.nodeId, second.uuid as string]) await l.nodes.waitNode(id, (n) => n.provision_state === 'available' && !n.instance_uuid, 600_000);
  const left = (await json(['port', 'list'])).map((p: Json) => ipv4(p['Fixed IP Addresses']));
  assert.ok(!left.includes(`${prefix}.60`) && !left.includes(`${prefix}.61`), `ports left: ${left.join(', ')}`);
});
