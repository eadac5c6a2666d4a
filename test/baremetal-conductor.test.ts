// The conductor: wait-state timeouts and abort, the agent call-back entry point, periodic power
// sync (out-of-band changes recorded, repeated failures → maintenance and back), concurrency
// limits, inspection, adoption and manual cleaning — with named test drivers where the fakes
// never wait or fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startBaremetal, waitForNode, faultMessage, type Harness, type Loose } from './baremetal-helpers.js';
import { defaultRegistry } from '../src/baremetal/drivers/default-registry.js';
import { FakePower } from '../src/baremetal/drivers/fake-power.js';
import { FixtureBmc, loadFixture } from './support/baremetal/redfish-fixture-bmc.js';
import type { DeployInterface, DriverNode, StepResult } from '../src/baremetal/drivers/interfaces.js';

/** A deploy interface whose deploy hands over to an agent (returns "wait"), like the real one will. */
class AgentLikeDeploy implements DeployInterface {
  readonly name = 'fake';
  validate(): void {}
  async deploy(): Promise<StepResult> {
    return 'wait';
  }
  async tearDown(): Promise<void> {}
  async clean(): Promise<StepResult> {
    return 'wait';
  }
}

/** A deploy interface that counts how many deploys run at once. */
class CountingDeploy implements DeployInterface {
  readonly name = 'fake';
  running = 0;
  max = 0;
  validate(): void {}
  async deploy(): Promise<StepResult> {
    this.running++;
    this.max = Math.max(this.max, this.running);
    await new Promise((r) => setTimeout(r, 100));
    this.running--;
    return 'done';
  }
  async tearDown(): Promise<void> {}
  async clean(): Promise<StepResult> {
    return 'done';
  }
}

/** Fake power that can be told to fail reads. */
class BrokenPower extends FakePower {
  broken = false;
  override async getPowerState(node: DriverNode, ctx: Parameters<FakePower['getPowerState']>[1]) {
    if (this.broken) throw new Error('BMC does not answer');
    return super.getPowerState(node, ctx);
  }
}

async function available(h: Harness, name: string): Promise<string> {
  const res = await h.call('POST', '/baremetal/v1/nodes', { name, driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
  assert.equal(res.status, 201);
  return res.body.uuid;
}

test('wait states time out into their failed state; abort and the agent call-back work', async () => {
  const h = await startBaremetal({
    config: { conductor: { deploy_callback_timeout: 0.4, clean_callback_timeout: 0.4, check_interval: 0.1 } },
    registry: (c) => defaultRegistry(c).register('deploy', new AgentLikeDeploy()),
  });
  try {
    const slow = await available(h, 'waits');
    await h.call('PUT', `/baremetal/v1/nodes/${slow}/states/provision`, { target: 'active' });
    const waiting = await waitForNode(h, slow, (n) => n.provision_state === 'wait call-back');
    assert.equal(waiting.target_provision_state, 'active');
    assert.equal(waiting.reservation, null);
    const failed = await waitForNode(h, slow, (n) => n.provision_state === 'deploy failed');
    assert.match(failed.last_error, /Timeout reached while waiting in "wait call-back" for node .* \(limit 0.4 s/);

    const aborted = await available(h, 'aborts');
    await h.call('PUT', `/baremetal/v1/nodes/${aborted}/states/provision`, { target: 'active' });
    await waitForNode(h, aborted, (n) => n.provision_state === 'wait call-back');
    assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${aborted}/states/provision`, { target: 'abort' })).status, 202);
    const n = await waitForNode(h, aborted, (x) => x.provision_state === 'deploy failed');
    assert.match(n.last_error, /wait call-back aborted by request/);

    const called = await available(h, 'calls-back');
    await h.call('PUT', `/baremetal/v1/nodes/${called}/states/provision`, { target: 'active' });
    await waitForNode(h, called, (x) => x.provision_state === 'wait call-back');
    await h.service.conductor.continueFromWait(called, 'done');
    assert.equal((await waitForNode(h, called, (x) => x.provision_state === 'active')).last_error, null);

    // Cleaning waits too, and times out to "clean failed".
    await h.call('PUT', `/baremetal/v1/nodes/${called}/states/provision`, { target: 'deleted' });
    await waitForNode(h, called, (x) => x.provision_state === 'clean wait');
    const cf = await waitForNode(h, called, (x) => x.provision_state === 'clean failed');
    assert.match(cf.last_error, /"clean wait"/);
  } finally {
    await h.stop();
  }
});

test('time the seed was down does not count: a node that waited before the conductor started gets the whole limit again', async () => {
  // Taken before the conductor starts: the limit counts from its start, which is no earlier than
  // this (taken after startBaremetal, a slow start made the check fail though the code was right).
  const started = Date.now();
  const h = await startBaremetal({
    config: { conductor: { deploy_callback_timeout: 2.5, check_interval: 0.1 } },
    registry: (c) => defaultRegistry(c).register('deploy', new AgentLikeDeploy()),
  });
  try {
    const id = await available(h, 'waited-through-a-restart');
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'active' });
    await waitForNode(h, id, (n) => n.provision_state === 'wait call-back');
    // As if it had entered the wait an hour ago, before this conductor (seed) started.
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    await sql`UPDATE baremetal_nodes SET provision_updated_at = ${longAgo} WHERE uuid = ${id}`.execute(h.database.db);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await h.call('GET', `/baremetal/v1/nodes/${id}`)).body.provision_state, 'wait call-back', 'timed out on time the conductor was not running');
    const failed = await waitForNode(h, id, (n) => n.provision_state === 'deploy failed');
    assert.ok(Date.now() - started >= 2500);
    assert.match(failed.last_error, /Timeout reached while waiting in "wait call-back"/);
  } finally {
    await h.stop();
  }
});

test('power sync records out-of-band changes; repeated failures set maintenance, recovery clears it', async () => {
  const power = new BrokenPower();
  const h = await startBaremetal({
    config: { conductor: { sync_power_state_interval: 0, power_failure_limit: 2 } },
    registry: (c) => defaultRegistry(c).register('power', power),
  });
  try {
    const id = await available(h, 'synced');
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/power`, { target: 'power off' });
    await waitForNode(h, id, (n) => n.power_state === 'power off' && !n.reservation);
    power.machines.set(id, 'power on'); // someone pressed the button
    const stats = await h.service.conductor.syncPowerStates();
    assert.ok(stats.changed >= 1);
    assert.equal((await h.call('GET', `/baremetal/v1/nodes/${id}`)).body.power_state, 'power on');
    const hist = await h.call('GET', `/baremetal/v1/nodes/${id}/history`);
    assert.ok(hist.body.history.some((e: Loose) => e.event === 'Power state changed out of band: "power off" -> "power on"' && e.severity === 'WARNING'));

    power.broken = true;
    await h.service.conductor.syncPowerStates();
    assert.equal((await h.call('GET', `/baremetal/v1/nodes/${id}`)).body.maintenance, false);
    await h.service.conductor.syncPowerStates();
    const broken = (await h.call('GET', `/baremetal/v1/nodes/${id}`)).body;
    assert.equal(broken.maintenance, true);
    assert.equal(broken.fault, 'power failure');
    assert.match(broken.maintenance_reason, /Power state sync failed \(2\/2\): BMC does not answer/);
    power.broken = false;
    await h.service.conductor.syncPowerStates();
    const healed = (await h.call('GET', `/baremetal/v1/nodes/${id}`)).body;
    assert.equal(healed.maintenance, false);
    assert.equal(healed.fault, null);
  } finally {
    await h.stop();
  }
});

test('the periodic power sync runs on its own', async () => {
  const h = await startBaremetal({ config: { conductor: { sync_power_state_interval: 0.1 } } });
  try {
    const id = await available(h, 'periodic');
    const fake = h.service.registry.get('power', 'fake') as FakePower;
    fake.machines.set(id, 'power on');
    await waitForNode(h, id, (n) => n.power_state === 'power on');
  } finally {
    await h.stop();
  }
});

test('no more operations run at once than conductor.workers', async () => {
  const deploy = new CountingDeploy();
  const h = await startBaremetal({ config: { conductor: { workers: 2 } }, registry: (c) => defaultRegistry(c).register('deploy', deploy) });
  try {
    const ids = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => available(h, `limited-${i}`)));
    await Promise.all(ids.map((id) => h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'active' })));
    for (const id of ids) await waitForNode(h, id, (n) => n.provision_state === 'active' && !n.reservation);
    assert.equal(deploy.max, 2);
  } finally {
    await h.stop();
  }
});

test('inspection, adoption and manual cleaning', async () => {
  const h = await startBaremetal();
  try {
    const id = await available(h, 'inspected');
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
    await waitForNode(h, id, (n) => n.provision_state === 'manageable' && !n.reservation);
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'inspect' });
    const ins = await waitForNode(h, id, (n) => n.provision_state === 'manageable' && !n.reservation && n.inspection_finished_at);
    assert.equal(ins.properties.cpu_arch, 'x86_64');
    assert.ok(ins.inspection_started_at);

    const noSteps = await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'clean' });
    assert.equal(noSteps.status, 400);
    assert.match(faultMessage(noSteps.body), /clean_steps/);
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'clean', clean_steps: [{ interface: 'deploy', step: 'erase_devices_metadata' }] });
    await waitForNode(h, id, (n) => n.provision_state === 'manageable' && !n.reservation);

    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'adopt' });
    await waitForNode(h, id, (n) => n.provision_state === 'active' && !n.reservation);
    const hist = await h.call('GET', `/baremetal/v1/nodes/${id}/history`);
    const events = hist.body.history.map((e: Loose) => e.event);
    for (const e of ['manageable -> inspecting (inspect)', 'manageable -> cleaning (clean)', 'cleaning -> manageable (manage)', 'adopting -> active (done)']) {
      assert.ok(events.includes(e), `${e} missing from ${events.join(' | ')}`);
    }
    const locked = await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'bogus' });
    assert.equal(locked.status, 400);
  } finally {
    await h.stop();
  }
});

test('inspecting a redfish node fills its properties and creates its ports', async () => {
  const bmc = new FixtureBmc(loadFixture('dell-idrac'), 'root', 'calvin');
  await bmc.start();
  const h = await startBaremetal();
  try {
    const r = await h.call('POST', '/baremetal/v1/nodes', {
      name: 'rf-inspect',
      driver: 'redfish',
      driver_info: { redfish_address: bmc.url, redfish_username: 'root', redfish_password: 'calvin' },
    });
    assert.equal(r.body.inspect_interface, 'redfish');
    await h.call('PUT', '/baremetal/v1/nodes/rf-inspect/states/provision', { target: 'manage' });
    await waitForNode(h, 'rf-inspect', (n) => n.provision_state === 'manageable' && !n.reservation);
    await h.call('PUT', '/baremetal/v1/nodes/rf-inspect/states/provision', { target: 'inspect' });
    const n = await waitForNode(h, 'rf-inspect', (x) => x.provision_state === 'manageable' && !x.reservation && x.inspection_finished_at);
    assert.deepEqual(n.properties, { cpus: 32, memory_mb: 196608, cpu_arch: 'x86_64', local_gb: 1787 });
    const ports = await h.call('GET', '/baremetal/v1/ports?node=rf-inspect');
    assert.deepEqual(ports.body.ports.map((p: Loose) => p.address).sort(), ['b0:26:28:00:00:01', 'b0:26:28:00:00:02']);
  } finally {
    await h.stop();
    await bmc.stop();
  }
});

test('an error outside the driver work (history insert failing) moves a transient node to its failed state', async () => {
  const h = await startBaremetal();
  try {
    const id = await available(h, 'crash-outside-work');
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'active' });
    await waitForNode(h, id, (n) => n.provision_state === 'active' && !n.reservation);
    // The "deleting -> cleaning" history row fails to insert: runProvision throws outside work().
    await sql`CREATE TRIGGER fail_cleaning_history BEFORE INSERT ON baremetal_node_history WHEN NEW.event LIKE '%-> cleaning%' BEGIN SELECT RAISE(ABORT, 'injected history failure'); END`.execute(h.database.db);
    assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'deleted' })).status, 202);
    const n = await waitForNode(h, id, (x) => !x.reservation && x.provision_state !== 'active' && x.provision_state !== 'deleting');
    assert.equal(n.provision_state, 'clean failed');
    assert.equal(n.target_provision_state, null);
    assert.match(n.last_error, /^Internal error in the conductor: .*injected history failure/);
  } finally {
    await h.stop();
  }
});
