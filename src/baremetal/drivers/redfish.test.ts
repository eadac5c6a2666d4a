// Redfish power and management against three vendor-shaped fixture BMCs (basic and session
// auth), then the vendor differences and every failure the driver must explain.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../common/child-process.js';
import { createLogger } from '../../common/logging.js';
import { FIXTURES, FixtureBmc, loadFixture } from '../../../test/support/baremetal/redfish-fixture-bmc.js';
import { redfishContractSuite, redfishNode } from '../../../test/support/baremetal/redfish-contract.js';
import { RedfishClientPool } from './redfish-client.js';
import { RedfishPower } from './redfish-power.js';
import { RedfishManagement } from './redfish-management.js';
import { RedfishInspect } from './redfish-inspect.js';
import type { DriverNode, PowerState } from './interfaces.js';

const bmcs: FixtureBmc[] = [];
after(async () => {
  await Promise.all(bmcs.map((b) => b.stop()));
});

async function startBmc(name: (typeof FIXTURES)[number]): Promise<FixtureBmc> {
  const bmc = new FixtureBmc(loadFixture(name), 'root', 'calvin');
  await bmc.start();
  bmcs.push(bmc);
  return bmc;
}

const observe = (bmc: FixtureBmc) => async (): Promise<PowerState> => (bmc.powerState === 'On' ? 'power on' : 'power off');

// The contract, per vendor shape and auth mode. Suites are declared at load time.
for (const name of FIXTURES) {
  for (const authType of ['basic', 'session'] as const) {
    if (authType === 'session' && !loadFixture(name).quirks.sessions) continue;
    const bmc = new FixtureBmc(loadFixture(name), 'root', 'calvin');
    bmcs.push(bmc);
    const url = await bmc.start();
    redfishContractSuite({ name: `${name} (${authType})`, baseUrl: url, username: 'root', password: 'calvin', authType, observe: observe(bmc) });
  }
}

const ctx = { log: createLogger({ level: 'silent' }) };
const fast = new RedfishClientPool({ timeoutMs: 300, retries: 2, backoffMs: 10 });
const power = new RedfishPower(fast, { stateTimeoutMs: 2000, pollMs: 20 });
const mgmt = new RedfishManagement(fast);

function node(url: string, extra: Record<string, unknown> = {}): DriverNode {
  const n = redfishNode({ name: 'n', baseUrl: url, username: 'root', password: 'calvin' });
  n.driver_info = { ...n.driver_info, ...extra };
  return n;
}

test('the ResetType is chosen from what the BMC advertises (inline or ActionInfo)', async () => {
  const dell = await startBmc('dell-idrac');
  const smc = await startBmc('supermicro');
  dell.powerState = 'On';
  smc.powerState = 'On';
  await power.setPowerState(node(dell.url), 'rebooting', ctx);
  await power.setPowerState(node(smc.url), 'soft power off', ctx);
  assert.deepEqual(dell.resets, ['ForceRestart']);
  assert.deepEqual(smc.resets, ['GracefulShutdown']);
  assert.deepEqual(await power.supportedPowerStates(node(smc.url), ctx), ['power on', 'power off', 'soft power off', 'rebooting', 'soft rebooting']);
});

test('boot override: target, Once/Continuous, UEFI mode only when it changes, If-Match from the ETag', async () => {
  const ilo = await startBmc('hpe-ilo');
  const uefi = { ...node(ilo.url), boot_mode: 'uefi' };
  await mgmt.setBootDevice(uefi, 'pxe', true, ctx);
  const first = ilo.patches.at(-1)!;
  assert.ok(first.ifMatch?.startsWith('W/"'), 'If-Match sent from @odata.etag');
  assert.deepEqual(first.body, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Continuous', BootSourceOverrideMode: 'UEFI' } });
  await mgmt.setBootDevice(uefi, 'disk', false, ctx);
  assert.deepEqual(ilo.patches.at(-1)!.body, { Boot: { BootSourceOverrideTarget: 'Hdd', BootSourceOverrideEnabled: 'Once' } });
  assert.equal(ilo.boot.BootSourceOverrideMode, 'UEFI');
  const smc = await startBmc('supermicro');
  await assert.rejects(mgmt.setBootDevice(node(smc.url), 'cdrom', false, ctx), /"cdrom".*not offered by this BMC/);
  assert.deepEqual(await mgmt.getSupportedBootDevices(node(smc.url), ctx), ['pxe', 'disk', 'bios']);
});

test('a BMC with several systems needs redfish_system_id, and uses it', async () => {
  const dell = await startBmc('dell-idrac');
  const coll = dell.resources.get('/redfish/v1/Systems')!;
  const second = structuredClone(dell.system);
  second['@odata.id'] = '/redfish/v1/Systems/System.Embedded.2';
  dell.resources.set('/redfish/v1/Systems/System.Embedded.2', second);
  coll.Members = [{ '@odata.id': '/redfish/v1/Systems/System.Embedded.1' }, { '@odata.id': '/redfish/v1/Systems/System.Embedded.2' }];
  await assert.rejects(power.getPowerState(node(dell.url), ctx), /has 2 systems.*set driver_info redfish_system_id/);
  assert.equal(await power.getPowerState(node(dell.url, { redfish_system_id: 'System.Embedded.1' }), ctx), 'power off');
});

test('failures are explained: unreachable, wrong credentials, 500s, hanging, and retries recover flaky BMCs', async () => {
  const closed = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(power.getPowerState(node(`http://127.0.0.1:${closed}`), ctx), /Redfish BMC at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\) after 3 attempts/);

  const dell = await startBmc('dell-idrac');
  await assert.rejects(power.getPowerState(node(dell.url, { redfish_password: 'wrong' }), ctx), /rejected the credentials \(HTTP 401\); check driver_info redfish_username and redfish_password/);

  dell.fault = 'error500';
  await assert.rejects(power.getPowerState(node(dell.url), ctx), /HTTP 500: The request failed due to an internal service error.*after 3 attempts/);

  dell.fault = 'hang';
  await assert.rejects(power.getPowerState(node(dell.url), ctx), /did not answer GET \/redfish\/v1\/.* within 300 ms/);

  dell.fault = 'flaky';
  dell.flakyCount = 2;
  assert.equal(await power.getPowerState(node(dell.url), ctx), 'power off');
});

test('a reset the BMC refuses is reported with the BMC\'s own message', async () => {
  const ilo = await startBmc('hpe-ilo');
  ilo.powerState = 'On';
  const n = node(ilo.url);
  // Bypass the driver's own "already on" check to provoke the vendor's refusal.
  const client = fast.get(n);
  await assert.rejects(client.call('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset/', { ResetType: 'On' }), /HTTP 400: The operation On is not allowed/);
});

test('validate names the missing field', () => {
  assert.throws(() => power.validate({ ...node('http://x'), driver_info: {} }), /driver_info\.redfish_address: is required/);
  assert.throws(() => power.validate(node('http://x', { redfish_auth_type: 'kerberos' })), /redfish_auth_type/);
});

test('TLS: a self-signed BMC is refused by default, accepted with its CA bundle or with verification off', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bm-tls-'));
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { timeoutMs: 30_000 });
    const bmc = new FixtureBmc(loadFixture('dell-idrac'), 'root', 'calvin');
    bmcs.push(bmc);
    const url = await bmc.start({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
    assert.ok(url.startsWith('https://'));
    await assert.rejects(power.getPowerState(node(url), ctx), /presented a TLS certificate that was not accepted \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\); set driver_info redfish_verify_ca/);
    assert.equal(await power.getPowerState(node(url, { redfish_verify_ca: join(dir, 'cert.pem') }), ctx), 'power off');
    assert.equal(await power.getPowerState(node(url, { redfish_verify_ca: false }), ctx), 'power off');
    assert.throws(() => power.validate(node(url, { redfish_verify_ca: join(dir, 'missing.pem') })), /CA bundle .* does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redfish inspection: CPUs, memory, architecture, largest disk and MACs', async () => {
  const dell = await startBmc('dell-idrac');
  const res = await new RedfishInspect(fast).inspect(node(dell.url), ctx);
  assert.deepEqual(res, {
    result: 'done',
    properties: { cpus: 32, memory_mb: 196608, cpu_arch: 'x86_64', local_gb: 1787 },
    macs: ['b0:26:28:00:00:01', 'b0:26:28:00:00:02'],
  });
  // A BMC without the summaries cannot be inspected, and says so.
  const smc = await startBmc('supermicro');
  await assert.rejects(new RedfishInspect(fast).inspect(node(smc.url), ctx), /reports no ProcessorSummary\/MemorySummary/);
});
