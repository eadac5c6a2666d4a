// Acceptance with the real `openstack baremetal` CLI (python3-openstackclient + ironicclient)
// against a freshly started seed (`bootstack serve`, identity included): the whole fake-hardware
// lifecycle, node/port list/show/set/unset, maintenance, power, boot device, traits,
// allocation by resource class and traits, drivers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startSeed, type Seed } from './baremetal-helpers.js';

let seed: Seed;
let os: Seed['openstack'];
let osJson: Seed['openstackJson'];

before(async () => {
  seed = await startSeed({ prefix: 'bm-cli-' });
  os = seed.openstack;
  osJson = seed.openstackJson;
});

after(async () => {
  await seed.kill();
  rmSync(seed.stateDir, { recursive: true, force: true });
});

test('openstack baremetal drives a fake-hardware node through its whole life', { timeout: 240_000 }, async () => {
  const created = await osJson('baremetal', 'node', 'create', '--driver', 'fake-hardware', '--name', 'cli-0', '--resource-class', 'compute',
    '--driver-info', 'fake_password=topsecret');
  assert.equal(created.provision_state, 'enroll');
  assert.equal(created.driver_info.fake_password, '******');

  for (const [verb, state] of [['manage', 'manageable'], ['provide', 'available'], ['deploy', 'active'], ['undeploy', 'available']] as const) {
    await os('baremetal', 'node', verb, 'cli-0', '--wait', '60');
    assert.equal((await osJson('baremetal', 'node', 'show', 'cli-0')).provision_state, state, `after ${verb}`);
  }

  // History, short and --long (ironicclient asks for .../history/detail), and one event.
  const history = await osJson('baremetal', 'node', 'history', 'list', 'cli-0');
  assert.ok(history.some((h: Record<string, string>) => /available -> deploying/.test(h['Description of the event'] ?? '')), JSON.stringify(history[0]));
  const long = await osJson('baremetal', 'node', 'history', 'list', 'cli-0', '--long');
  assert.equal(long.length, history.length);
  assert.ok(long.every((h: Record<string, unknown>) => 'Event Origin Type' in h && 'Conductor' in h), JSON.stringify(long[0]));
  const event = await osJson('baremetal', 'node', 'history', 'get', 'cli-0', long[0].UUID);
  assert.equal(event.event, long[0]['Description of the event']);

  // An invalid move names the state and the allowed actions.
  await assert.rejects(os('baremetal', 'node', 'provide', 'cli-0'), /state "available".*allowed/);

  await os('baremetal', 'node', 'set', 'cli-0', '--property', 'cpus=4', '--extra', 'rack=r1', '--description', 'first');
  await os('baremetal', 'node', 'unset', 'cli-0', '--extra', 'rack');
  const shown = await osJson('baremetal', 'node', 'show', 'cli-0');
  assert.deepEqual(shown.properties, { cpus: 4 });
  assert.deepEqual(shown.extra, {});
  assert.equal(shown.description, 'first');

  await os('baremetal', 'node', 'maintenance', 'set', 'cli-0', '--reason', 'disk swap');
  const m = await osJson('baremetal', 'node', 'show', 'cli-0');
  assert.equal(m.maintenance, true);
  assert.equal(m.maintenance_reason, 'disk swap');
  await os('baremetal', 'node', 'maintenance', 'unset', 'cli-0');
  assert.equal((await osJson('baremetal', 'node', 'show', 'cli-0')).maintenance, false);

  await os('baremetal', 'node', 'power', 'on', 'cli-0', '--power-timeout', '30');
  assert.equal((await osJson('baremetal', 'node', 'show', 'cli-0')).power_state, 'power on');
  await os('baremetal', 'node', 'power', 'off', 'cli-0', '--power-timeout', '30');
  assert.equal((await osJson('baremetal', 'node', 'show', 'cli-0')).power_state, 'power off');

  await os('baremetal', 'node', 'boot', 'device', 'set', 'cli-0', 'pxe', '--persistent');
  assert.deepEqual(await osJson('baremetal', 'node', 'boot', 'device', 'show', 'cli-0'), { boot_device: 'pxe', persistent: true });

  const port = await osJson('baremetal', 'port', 'create', '52:54:00:C1:1C:01', '--node', created.uuid);
  assert.equal(port.address, '52:54:00:c1:1c:01');
  await os('baremetal', 'port', 'set', port.uuid, '--pxe-disabled', '--extra', 'nic=eth0');
  const ports = await osJson('baremetal', 'port', 'list', '--node', 'cli-0', '--long');
  assert.equal(ports.length, 1);
  assert.equal(ports[0]['PXE boot enabled'], false);
  assert.equal((await osJson('baremetal', 'port', 'show', port.uuid)).extra.nic, 'eth0');

  const list = await osJson('baremetal', 'node', 'list');
  assert.deepEqual(list.map((n: { Name: string }) => n.Name), ['cli-0']);

  // Allocation: only the node with the trait and the resource class is chosen.
  await osJson('baremetal', 'node', 'create', '--driver', 'fake-hardware', '--name', 'cli-1', '--resource-class', 'compute');
  await os('baremetal', 'node', 'manage', 'cli-1', '--wait', '60');
  await os('baremetal', 'node', 'provide', 'cli-1', '--wait', '60');
  await os('baremetal', 'node', 'add', 'trait', 'cli-1', 'CUSTOM_FAST');
  const alloc = await osJson('baremetal', 'allocation', 'create', '--resource-class', 'compute', '--trait', 'CUSTOM_FAST', '--name', 'a1', '--wait', '30');
  assert.equal(alloc.state, 'active');
  assert.equal((await osJson('baremetal', 'node', 'show', 'cli-1')).allocation_uuid, alloc.uuid);

  const drivers = await osJson('baremetal', 'driver', 'list');
  assert.deepEqual(drivers.map((d: Record<string, string>) => d['Supported driver(s)']).sort(), ['fake-hardware', 'ipmi', 'redfish']);
  assert.equal((await osJson('baremetal', 'driver', 'show', 'fake-hardware')).default_deploy_interface, 'fake');
});

