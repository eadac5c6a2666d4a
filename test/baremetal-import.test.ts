// `bootstack node import` end to end: a real `bootstack serve`, the command authenticating from
// clouds.yaml like the openstack CLI, instackenv.json then the YAML equivalent; checked with
// the real `openstack baremetal` CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSeed, type Seed } from './baremetal-helpers.js';

let seed: Seed;
before(async () => {
  seed = await startSeed({ prefix: 'bm-import-' });
});
after(async () => {
  await seed.kill();
  rmSync(seed.stateDir, { recursive: true, force: true });
});

test('bootstack node import creates, then leaves alone, then updates; YAML works the same', { timeout: 120_000 }, async () => {
  const file = join(seed.stateDir, 'instackenv.json');
  const nodes = [
    { name: 'imp-0', pm_type: 'fake-hardware', mac: ['52:54:00:1a:00:01'], cpu: '2', memory: '2048', disk: '20', arch: 'x86_64' },
    { name: 'imp-1', pm_type: 'redfish', pm_addr: 'https://192.0.2.5', pm_user: 'root', pm_password: 'imp-secret', pm_system_id: '/redfish/v1/Systems/1', mac: ['52:54:00:1a:00:02'] },
  ];
  writeFileSync(file, JSON.stringify({ nodes }, null, 2));
  const first = JSON.parse((await seed.bootstack('node', 'import', file, '-f', 'json')).stdout);
  assert.deepEqual(first.map((r: { node: string; action: string }) => [r.node, r.action]), [['imp-0', 'created'], ['imp-1', 'created']]);

  const again = await seed.bootstack('node', 'import', file, '-f', 'json');
  assert.deepEqual(JSON.parse(again.stdout).map((r: { action: string }) => r.action), ['unchanged', 'unchanged']);
  assert.match(again.stderr, /0 created, 0 updated, 2 unchanged/);

  nodes[0]!.cpu = '4';
  nodes[1]!.mac = ['52:54:00:1a:00:02', '52:54:00:1a:00:03'];
  const yamlFile = join(seed.stateDir, 'nodes.yaml');
  writeFileSync(yamlFile, stringify({ nodes }));
  const third = JSON.parse((await seed.bootstack('node', 'import', yamlFile, '-f', 'json')).stdout);
  assert.deepEqual(third.map((r: { action: string; changes: string }) => [r.action, r.changes]), [
    ['updated', 'properties.cpus'],
    ['updated', 'port 52:54:00:1a:00:03 created'],
  ]);

  const shown = await seed.openstackJson('baremetal', 'node', 'show', 'imp-1');
  assert.equal(shown.driver, 'redfish');
  assert.equal(shown.driver_info.redfish_password, '******');
  assert.equal(shown.driver_info.redfish_system_id, '/redfish/v1/Systems/1');
  assert.equal((await seed.openstackJson('baremetal', 'port', 'list', '--node', 'imp-1')).length, 2);
  assert.equal((await seed.openstackJson('baremetal', 'node', 'show', 'imp-0')).properties.cpus, 4);

  await assert.rejects(seed.bootstack('node', 'import', join(seed.stateDir, 'missing.json')), /ENOENT|no such file/);
});
