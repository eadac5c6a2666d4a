// RedfishManagement.consoleLog against the fixture BMCs: the OEM serial console resource when
// the system advertises it (tail asked for and enforced), a 501 naming the node when it does not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../common/logging.js';
import { FixtureBmc, loadFixture, type FixtureName } from '../../../test/support/baremetal/redfish-fixture-bmc.js';
import { redfishNode } from '../../../test/support/baremetal/redfish-contract.js';
import { RedfishClientPool } from './redfish-client.js';
import { RedfishManagement } from './redfish-management.js';
import { ConsoleUnavailableError } from './interfaces.js';

const bmcs: FixtureBmc[] = [];
after(async () => {
  await Promise.all(bmcs.map((b) => b.stop()));
});

async function startBmc(name: FixtureName, session = false) {
  const bmc = new FixtureBmc(loadFixture(name), 'root', 'calvin');
  bmcs.push(bmc);
  const url = await bmc.start();
  const node = redfishNode({ name: `console-${name}`, baseUrl: url, username: 'root', password: 'calvin', authType: session ? 'session' : 'basic' });
  return { bmc, node };
}

const ctx = { log: createLogger({ level: 'silent' }) };
const mgmt = new RedfishManagement(new RedfishClientPool({ timeoutMs: 2000, retries: 1, backoffMs: 10 }));

test('a BMC advertising Oem.Bootstack.SerialConsole: the tail of the log, never more than asked', async () => {
  // Real iLOs carry an Oem.Hpe section: the link is found beside a vendor's OEM properties.
  const { bmc, node } = await startBmc('hpe-ilo', true);
  bmc.system.Oem = { Hpe: { PostState: 'FinishedPost' } };
  bmc.serialConsole = 'iPXE 1.21\nBooting from disk\nlogin: \u00e9\n';
  assert.ok((bmc.system.Oem as Record<string, unknown>).Hpe, 'vendor OEM kept');
  assert.equal(await mgmt.consoleLog(node, ctx, 1024 * 1024), bmc.serialConsole);
  assert.equal(await mgmt.consoleLog(node, ctx, 10), 'login: \u00e9\n');
  // 2 bytes from the end starts inside "é": the partial character is dropped.
  assert.equal(await mgmt.consoleLog(node, ctx, 2), '\n');
  bmc.serialConsole = '';
  assert.equal(await mgmt.consoleLog(node, ctx, 64), '');
});

test('a BMC without the OEM resource: 501 naming the node and saying the BMC has no serial console log', async () => {
  for (const name of ['dell-idrac', 'supermicro'] as const) {
    const { node, bmc } = await startBmc(name);
    const err = await mgmt.consoleLog(node, ctx, 1024).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConsoleUnavailableError, String(err));
    assert.equal(err.status, 501);
    assert.match(err.message, new RegExp(`Node console-${name} \\(${node.uuid}\\) has no console log: the Redfish BMC at ${bmc.url.replace(/\./g, '\\.')} offers no serial console log`));
  }
});

test('wrong credentials are the Redfish error, not a missing console', async () => {
  const { bmc, node } = await startBmc('dell-idrac');
  bmc.serialConsole = 'x';
  node.driver_info.redfish_password = 'wrong';
  await assert.rejects(mgmt.consoleLog(node, ctx, 10), /rejected the credentials/);
});
