// BMC failures through the API: unreachable, wrong credentials, 500s and a hanging BMC put the
// node in the right state with a last_error an operator understands, and a retry works once
// the problem is fixed. BMC passwords appear in neither API output nor logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startBaremetal, waitForNode, type Harness, type Loose } from './baremetal-helpers.js';
import { FixtureBmc, loadFixture } from './support/baremetal/redfish-fixture-bmc.js';

const PASSWORD = 'Very-Secret-BMC-pw-1';
let h: Harness;
let bmc: FixtureBmc;
const logLines: string[] = [];

before(async () => {
  bmc = new FixtureBmc(loadFixture('dell-idrac'), 'root', PASSWORD);
  await bmc.start();
  h = await startBaremetal({
    config: { redfish: { timeout: 0.5, retries: 1, backoff: 0.01, power_state_timeout: 2, power_state_poll: 0.05 } },
    logLines,
  });
});
after(async () => {
  await h.stop();
  await bmc.stop();
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function redfishNode(name: string, info: Record<string, unknown>): Promise<string> {
  const res = await h.call('POST', '/baremetal/v1/nodes', {
    name,
    driver: 'redfish',
    driver_info: { redfish_username: 'root', redfish_password: PASSWORD, redfish_auth_type: 'basic', ...info },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.driver_info.redfish_password, '******');
  return res.body.uuid;
}

const settled = (n: Loose) => n.reservation === null && n.target_provision_state === null && n.target_power_state === null;

test('unreachable BMC: manage falls back to enroll with the reason; fixed address, retry works', async () => {
  const id = await redfishNode('unreachable', { redfish_address: `http://127.0.0.1:${await closedPort()}` });
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  const failed = await waitForNode(h, id, (n) => n.provision_state === 'enroll' && settled(n) && n.last_error);
  assert.match(failed.last_error, /^Failed to get power state for node .*: Redfish BMC at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
  await h.call('PATCH', `/baremetal/v1/nodes/${id}`, [{ op: 'replace', path: '/driver_info/redfish_address', value: bmc.url }]);
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  const ok = await waitForNode(h, id, (n) => n.provision_state === 'manageable' && settled(n));
  assert.equal(ok.last_error, null);
  assert.equal(ok.power_state, 'power off');
});

test('wrong credentials: enroll with a last_error naming the fields to check; fixed password, retry works', async () => {
  const id = await redfishNode('badcreds', { redfish_address: bmc.url, redfish_password: 'not-it' });
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  const failed = await waitForNode(h, id, (n) => n.provision_state === 'enroll' && settled(n) && n.last_error);
  assert.match(failed.last_error, /rejected the credentials \(HTTP 401\); check driver_info redfish_username and redfish_password/);
  await h.call('PATCH', `/baremetal/v1/nodes/${id}`, [{ op: 'replace', path: '/driver_info/redfish_password', value: PASSWORD }]);
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  await waitForNode(h, id, (n) => n.provision_state === 'manageable' && settled(n));
});

test('BMC answering 500: power action fails, power state unchanged, last_error set; retry works', async () => {
  const id = await redfishNode('errors', { redfish_address: bmc.url });
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  await waitForNode(h, id, (n) => n.provision_state === 'manageable' && settled(n));
  bmc.fault = 'error500';
  assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${id}/states/power`, { target: 'power on' })).status, 202);
  const failed = await waitForNode(h, id, (n) => settled(n) && n.last_error);
  assert.equal(failed.power_state, 'power off');
  assert.match(failed.last_error, /^Failed to change power state to "power on" for node .*HTTP 500: The request failed due to an internal service error/);
  assert.equal(bmc.powerState, 'Off');
  bmc.fault = 'none';
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/power`, { target: 'power on' });
  const ok = await waitForNode(h, id, (n) => settled(n) && n.power_state === 'power on');
  assert.equal(ok.last_error, null);
  assert.equal(bmc.powerState, 'On');
});

test('hanging BMC: the timeout ends the operation with a clear reason; retry works', async () => {
  const id = await redfishNode('hangs', { redfish_address: bmc.url });
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
  await waitForNode(h, id, (n) => n.provision_state === 'manageable' && settled(n));
  bmc.fault = 'hang';
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/power`, { target: 'power off' });
  const failed = await waitForNode(h, id, (n) => settled(n) && n.last_error);
  assert.match(failed.last_error, /did not answer GET .* within 500 ms/);
  assert.equal(failed.power_state, 'power on');
  bmc.fault = 'none';
  await h.call('PUT', `/baremetal/v1/nodes/${id}/states/power`, { target: 'power off' });
  await waitForNode(h, id, (n) => settled(n) && n.power_state === 'power off');
  const hist = await h.call('GET', `/baremetal/v1/nodes/${id}/history?detail=true`);
  assert.ok(hist.body.history.some((e: Loose) => e.severity === 'ERROR' && /did not answer/.test(e.event)));
});

test('the BMC password is in no API answer and no log line', async () => {
  const list = await h.call('GET', '/baremetal/v1/nodes/detail');
  assert.ok(!JSON.stringify(list.body).includes(PASSWORD));
  for (const n of list.body.nodes) {
    const hist = await h.call('GET', `/baremetal/v1/nodes/${n.uuid}/history?detail=true`);
    assert.ok(!JSON.stringify(hist.body).includes(PASSWORD));
  }
  assert.ok(logLines.length > 10, 'logs were captured');
  assert.ok(!logLines.join('').includes(PASSWORD), 'password leaked into logs');
});
