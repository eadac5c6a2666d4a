// The contract every ManagementInterface implementation passes: it lists supported boot
// devices, and a boot device set (once or persistent) reads back the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriverContext, DriverNode, ManagementInterface } from './interfaces.js';

export interface ManagementContractSetup {
  management: ManagementInterface;
  node: DriverNode;
  ctx: DriverContext;
}

export function managementContract(name: string, setup: () => Promise<ManagementContractSetup>): void {
  test(`${name}: management contract`, async (t) => {
    const { management, node, ctx } = await setup();
    await t.test('validate accepts the node', () => management.validate(node));
    await t.test('supports pxe and disk', async () => {
      const devices = await management.getSupportedBootDevices(node, ctx);
      assert.ok(devices.includes('pxe') && devices.includes('disk'), devices.join(','));
    });
    await t.test('pxe once reads back', async () => {
      await management.setBootDevice(node, 'pxe', false, ctx);
      assert.deepEqual(await management.getBootDevice(node, ctx), { boot_device: 'pxe', persistent: false });
    });
    await t.test('disk persistent reads back', async () => {
      await management.setBootDevice(node, 'disk', true, ctx);
      assert.deepEqual(await management.getBootDevice(node, ctx), { boot_device: 'disk', persistent: true });
    });
  });
}
