// The real clients against a seed's compute API: Debian's `openstack` CLI (python3-
// openstackclient 6.0: novaclient at 2.1 for some commands, openstacksdk negotiating up to 2.73
// for others) and a short openstacksdk script (`openstack.connect`), on fake-hardware nodes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import type { TestSeed } from './support/seed.js';
import { openstackCli } from './support/openstack-cli.js';
import { FAKE_CONSOLE_LOG } from '../src/baremetal/drivers/fake-management.js';
import { computeSeed, makeImage, makeNodes, claimed, nodeIn } from './compute-support.js';

let seed: TestSeed;
let admin: string;
let work: string;
let nodes: string[];

const { env, ok, json } = openstackCli(() => seed.stateDir, { timeoutMs: 180_000 });

before(async () => {
  // No default flavor: the test makes `baremetal` itself, as an operator would on a bare cloud.
  seed = await computeSeed({ compute: { default_flavors: [] } });
  admin = await seed.token();
  work = mkdtempSync(join(tmpdir(), 'bootstack-compute-cli-'));
  nodes = await makeNodes(seed, admin, ['cli-1', 'cli-2', 'cli-3'], { resourceClass: 'baremetal' });
  await makeImage(seed, admin, 'cli-image');
});
after(async () => {
  await seed?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('openstack flavor/keypair/server/hypervisor commands', async () => {
  const flavor = await json(['flavor', 'create', 'baremetal', '--ram', '16384', '--vcpus', '8', '--disk', '100', '--property', 'resources:CUSTOM_BAREMETAL=1', '--property', 'resources:VCPU=0', '--property', 'resources:MEMORY_MB=0', '--property', 'resources:DISK_GB=0']);
  assert.equal(flavor.name, 'baremetal');
  assert.match(JSON.stringify(flavor.properties), /CUSTOM_BAREMETAL/);
  assert.ok((await json(['flavor', 'list'])).some((f: { Name: string }) => f.Name === 'baremetal'));

  const keyFile = join(work, 'key.pem');
  const key = await json(['keypair', 'create', '--private-key', keyFile, 'cli-key']);
  assert.equal(key.name, 'cli-key');
  assert.match(readFileSync(keyFile, 'utf8'), /BEGIN RSA PRIVATE KEY/);
  assert.ok((await json(['keypair', 'list'])).some((k: { Name: string }) => k.Name === 'cli-key'));

  const made = await json(['server', 'create', '--flavor', 'baremetal', '--image', 'cli-image', '--key-name', 'cli-key', '--wait', 'cli-server']);
  assert.equal(made.status, 'ACTIVE');
  const list = await json(['server', 'list']);
  const row = list.find((s: { Name: string }) => s.Name === 'cli-server');
  assert.equal(row.Status, 'ACTIVE');
  assert.equal(row.Flavor, 'baremetal');
  const shown = await json(['server', 'show', 'cli-server']);
  assert.equal(shown.id, made.id);
  assert.equal(shown.key_name, 'cli-key');
  const node = shown['OS-EXT-SRV-ATTR:hypervisor_hostname'];
  assert.ok(nodes.includes(node), `hypervisor_hostname ${node} is one of the node uuids`);

  const hypervisors = await json(['hypervisor', 'list']);
  assert.equal(hypervisors.length, 3);
  assert.ok(hypervisors.some((h: { 'Hypervisor Hostname': string }) => h['Hypervisor Hostname'] === node), JSON.stringify(hypervisors));

  // The node's serial console (fake hardware: the fake management's fixed text).
  assert.equal(await ok(['console', 'log', 'show', 'cli-server']), FAKE_CONSOLE_LOG);
  assert.equal(await ok(['console', 'log', 'show', '--lines', '1', made.id]), 'fake login: \n');

  await ok(['server', 'delete', '--wait', 'cli-server']);
  assert.ok(!(await json(['server', 'list'])).some((s: { Name: string }) => s.Name === 'cli-server'));
  for (const n of ['cli-1', 'cli-2', 'cli-3']) await nodeIn(seed, admin, n, 'available');
  await ok(['keypair', 'delete', 'cli-key']);
});

test('an openstacksdk script: openstack.connect, create_server, wait, list, delete', async () => {
  const script = join(work, 'sdk.py');
  writeFileSync(
    script,
    [
      'import json, openstack',
      "conn = openstack.connect(cloud='bootstack')",
      "flavor = conn.compute.find_flavor('baremetal', ignore_missing=False)",
      "image = conn.image.find_image('cli-image', ignore_missing=False)",
      "s = conn.compute.create_server(name='sdk-server', flavor_id=flavor.id, image_id=image.id, networks='none')",
      's = conn.compute.wait_for_server(s, status="ACTIVE", wait=60, interval=0.2)',
      "names = [x.name for x in conn.compute.servers()]",
      'host = s.hypervisor_hostname',
      'conn.compute.delete_server(s)',
      'conn.compute.wait_for_delete(s, wait=60, interval=0.2)',
      "print(json.dumps({'status': s.status, 'names': names, 'host': host, 'after': [x.name for x in conn.compute.servers()]}))",
    ].join('\n'),
  );
  const r = await run('/usr/bin/python3', [script], { env: env(), allowFailure: true, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.status, 'ACTIVE');
  assert.ok(out.names.includes('sdk-server'));
  assert.ok(nodes.includes(out.host), out.host);
  assert.deepEqual(out.after, []);
  assert.deepEqual(await claimed(seed, admin), { nodes: [], allocations: 0 });
});
