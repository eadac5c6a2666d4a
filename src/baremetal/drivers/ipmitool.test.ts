// IPMI power through the real ipmitool against OpenIPMI's ipmi_sim: the power contract, the
// boot device, wrong credentials and an unreachable BMC, and the password never on argv.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../common/logging.js';
import { startIpmiSim } from '../../../test/support/baremetal/ipmi-sim.js';
import { IpmitoolPower } from './ipmitool-power.js';
import { IpmitoolManagement } from './ipmitool-management.js';
import { powerContract } from '../../../test/support/baremetal/power-contract.js';
import type { DriverNode } from './interfaces.js';

const sim = await startIpmiSim();
after(() => sim.stop());

// A wrapper that records the argv ipmitool was given, to prove the password is not on it.
const wrapper = join(sim.dir, 'ipmitool-wrapper.sh');
writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> "${sim.dir}/argv.log"\nexec ipmitool "$@"\n`);
chmodSync(wrapper, 0o755);

const options = { retries: 1, timeoutSeconds: 1, command: wrapper };
const ctx = { log: createLogger({ level: 'silent' }) };
const node = (info: Record<string, unknown> = {}): DriverNode => ({
  uuid: 'ipmi-node',
  name: 'ipmi-0',
  driver_info: { ipmi_address: '127.0.0.1', ipmi_port: sim.port, ipmi_username: sim.username, ipmi_password: sim.password, ipmi_cipher_suite: '3', ...info },
  properties: {},
  instance_info: {},
  power_state: null,
  boot_mode: null,
});

powerContract('ipmitool against ipmi_sim', async () => ({
  power: new IpmitoolPower(options, 10_000),
  node: node(),
  ctx,
  observe: async () => sim.power(),
}));

test('boot device pxe is set through chassis bootdev and read back', async () => {
  const mgmt = new IpmitoolManagement(options);
  await mgmt.setBootDevice(node(), 'pxe', false, ctx);
  assert.equal(readFileSync(join(sim.dir, 'boot'), 'utf8').trim(), 'pxe');
  assert.equal((await mgmt.getBootDevice(node(), ctx)).boot_device, 'pxe');
});

test('wrong password and unreachable BMC give errors that say what to check', async () => {
  const power = new IpmitoolPower(options, 2000);
  await assert.rejects(power.getPowerState(node({ ipmi_password: 'wrong' }), ctx), (err: Error) => {
    assert.match(err.message, /IPMI command "power status" to 127\.0\.0\.1:\d+ failed: .*(check driver_info ipmi_username and ipmi_password|are the credentials right)/);
    return true;
  });
  await assert.rejects(power.getPowerState(node({ ipmi_port: 1 }), ctx), /127\.0\.0\.1:1 failed/);
  assert.throws(() => power.validate(node({ ipmi_address: '' })), /driver_info\.ipmi_address/);
});

test('the password is passed through the environment, never on the command line', () => {
  const argv = readFileSync(join(sim.dir, 'argv.log'), 'utf8');
  assert.ok(argv.includes('-E'));
  assert.ok(!argv.includes(sim.password), 'password appeared in argv');
  assert.ok(!argv.includes('wrong'));
});
