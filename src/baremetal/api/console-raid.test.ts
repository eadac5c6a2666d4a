// Console state, target RAID config and the optional (bios/console/raid/vendor) interfaces
// through the HTTP API, and reset_interfaces on a driver change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, faultMessage, type Harness } from '../../../test/baremetal-helpers.js';

let h: Harness;
before(async () => {
  h = await startBaremetal({ background: false });
});
after(async () => {
  await h.stop();
});

const v = (minor: number) => ({ 'x-openstack-ironic-api-version': `1.${minor}` });
async function newNode(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await h.call('POST', '/baremetal/v1/nodes', { name, driver: 'fake-hardware', ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.uuid as string;
}

test('fake-hardware defaults its optional interfaces to fake; they can be set, removed and refused', async () => {
  const uuid = await newNode('opt-node');
  const shown = (await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body;
  for (const k of ['bios', 'console', 'raid', 'vendor']) assert.equal(shown[`${k}_interface`], 'fake', k);
  assert.equal(shown.rescue_interface, 'no-rescue');
  const set = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}`, [{ op: 'add', path: '/console_interface', value: 'no-console' }]);
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.console_interface, 'no-console');
  const removed = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}`, [{ op: 'remove', path: '/console_interface' }]);
  assert.equal(removed.body.console_interface, 'fake');
  const bad = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}`, [{ op: 'add', path: '/raid_interface', value: 'agent' }]);
  assert.equal(bad.status, 400);
  assert.match(faultMessage(bad.body), /raid_interface.*"agent".*fake, no-raid/);
  // Other hardware types offer only the no-op ones.
  const ipmi = await h.call('POST', '/baremetal/v1/nodes', { driver: 'ipmi', vendor_interface: 'fake' });
  assert.equal(ipmi.status, 400);
  assert.match(faultMessage(ipmi.body), /vendor_interface/);
});

test('console: shown, enabled and disabled (202); no-console is a 400', async () => {
  const uuid = await newNode('con-node');
  const off = await h.call('GET', `/baremetal/v1/nodes/${uuid}/states/console`);
  assert.equal(off.status, 200);
  assert.deepEqual(off.body, { console_enabled: false, console_info: null });
  const on = await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/console`, { enabled: true });
  assert.equal(on.status, 202);
  assert.ok(on.headers.get('location')!.endsWith(`/v1/nodes/${uuid}/states/console`));
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body.console_enabled, true);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${uuid}/states`)).body.console_enabled, true);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${uuid}/states/console`)).body.console_enabled, true);
  // The same, node last (Ironic's controller tree, as Tempest asks).
  assert.deepEqual((await h.call('GET', `/baremetal/v1/nodes/states/console/${uuid}`)).body, { console_enabled: true, console_info: { type: 'fake', url: null } });
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/console`, { enabled: false })).status, 202);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body.console_enabled, false);
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/console`, { enabled: 'yes' })).status, 400);
  const none = await newNode('con-none', { console_interface: 'no-console' });
  const refused = await h.call('PUT', `/baremetal/v1/nodes/${none}/states/console`, { enabled: true });
  assert.equal(refused.status, 400);
  assert.match(faultMessage(refused.body), /no-console/);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${none}/states/console`)).status, 400);
});

test('raid: PUT /states/raid validates and stores target_raid_config; {} clears it', async () => {
  const uuid = await newNode('raid-node');
  const target = { logical_disks: [{ size_gb: 100, raid_level: '1', is_root_volume: true }, { size_gb: 'MAX', raid_level: '5' }] };
  const put = await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/raid`, target);
  assert.equal(put.status, 204, JSON.stringify(put.body));
  const node = (await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body;
  assert.deepEqual(node.target_raid_config, target);
  assert.deepEqual(node.raid_config, {});
  assert.deepEqual((await h.call('GET', `/baremetal/v1/nodes/${uuid}/states`)).body.target_raid_config, target);
  for (const [body, field] of [
    [{ logical_disks: [] }, 'logical_disks'],
    [{ logical_disks: [{ size_gb: 'big', raid_level: '1' }] }, 'size_gb'],
    [{ logical_disks: [{ size_gb: 10, raid_level: '3' }] }, 'raid_level'],
    [{ logical_disks: [{ size_gb: 10, raid_level: '1', is_root_volume: true }, { size_gb: 10, raid_level: '1', is_root_volume: true }] }, 'root volume'],
  ] as const) {
    const r = await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/raid`, body);
    assert.equal(r.status, 400, field);
    assert.match(faultMessage(r.body), new RegExp(field.replace('+', '\\+')));
  }
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/raid`, {})).status, 204);
  assert.deepEqual((await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body.target_raid_config, {});
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${uuid}/states/raid`, target, v(11))).status, 404);
  const noRaid = await newNode('raid-none', { raid_interface: 'no-raid' });
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${noRaid}/states/raid`, target)).status, 400);
});

test('driver change: interfaces kept (400 when unsuitable) unless reset_interfaces=true (1.45)', async () => {
  const uuid = await newNode('reset-node');
  const toIpmi = [{ op: 'replace', path: '/driver', value: 'ipmi' }];
  const kept = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}`, toIpmi);
  assert.equal(kept.status, 400);
  assert.equal((await h.call('GET', `/baremetal/v1/nodes/${uuid}`)).body.driver, 'fake-hardware');
  assert.equal((await h.call('PATCH', `/baremetal/v1/nodes/${uuid}?reset_interfaces=true`, [{ op: 'add', path: '/extra/a', value: 1 }])).status, 400);
  assert.equal((await h.call('PATCH', `/baremetal/v1/nodes/${uuid}?reset_interfaces=true`, toIpmi, v(44))).status, 406);
  const reset = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}?reset_interfaces=true`, toIpmi);
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.equal(reset.body.management_interface, 'ipmitool');
  assert.equal(reset.body.console_interface, 'no-console');
  assert.equal(reset.body.vendor_interface, 'no-vendor');
  // Before 1.45 a driver change resets them (documented departure).
  const back = await h.call('PATCH', `/baremetal/v1/nodes/${uuid}`, [{ op: 'replace', path: '/driver', value: 'fake-hardware' }], v(44));
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.console_interface, 'fake');
});
