// The contract every PowerInterface implementation passes (run by each implementation's test):
// it reads a state, turns the machine on and off (idempotently), reboots, and agrees with an
// independent observer of the machine when the test has one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriverContext, DriverNode, PowerInterface, PowerState } from '../../../src/baremetal/drivers/interfaces.js';

export interface PowerContractSetup {
  power: PowerInterface;
  node: DriverNode;
  ctx: DriverContext;
  /** Reads the machine's state without the driver (the simulator's own record), if possible. */
  observe?: () => Promise<PowerState>;
}

export function powerContract(name: string, setup: () => Promise<PowerContractSetup>): void {
  test(`${name}: power contract`, async (t) => {
    const s = await setup();
    const { power, node, ctx } = s;
    const check = async (want: PowerState) => {
      assert.equal(await power.getPowerState(node, ctx), want);
      if (s.observe) assert.equal(await s.observe(), want);
    };
    await t.test('validate accepts the node', () => power.validate(node));
    await t.test('reads a power state', async () => {
      assert.ok(['power on', 'power off'].includes(await power.getPowerState(node, ctx)));
    });
    await t.test('supports on and off', async () => {
      const supported = await power.supportedPowerStates(node, ctx);
      assert.ok(supported.includes('power on') && supported.includes('power off'), supported.join(','));
    });
    await t.test('power on, twice', async () => {
      await power.setPowerState(node, 'power on', ctx);
      await check('power on');
      await power.setPowerState(node, 'power on', ctx);
      await check('power on');
    });
    await t.test('power off, twice', async () => {
      await power.setPowerState(node, 'power off', ctx);
      await check('power off');
      await power.setPowerState(node, 'power off', ctx);
      await check('power off');
    });
    await t.test('reboot leaves it on', async () => {
      await power.setPowerState(node, 'power on', ctx);
      await power.setPowerState(node, 'rebooting', ctx);
      await check('power on');
      await power.setPowerState(node, 'power off', ctx);
      await check('power off');
    });
  });
}
