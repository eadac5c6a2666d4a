// The contract every ManagementInterface implementation passes: it lists supported boot
// devices, and a boot device set (once or persistent) reads back the same. An implementation
// with consoleLog returns at most the bytes asked for, or refuses with a 501 naming the node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleUnavailableError, type DriverContext, type DriverNode, type ManagementInterface } from '../../../src/baremetal/drivers/interfaces.js';

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
    if (management.consoleLog) {
      await t.test('consoleLog gives at most maxBytes of text, or a 501 naming the node', async () => {
        try {
          const text = await management.consoleLog!(node, ctx, 16);
          assert.equal(typeof text, 'string');
          assert.ok(Buffer.byteLength(text) <= 16, JSON.stringify(text));
        } catch (err) {
          assert.ok(err instanceof ConsoleUnavailableError, String(err));
          assert.equal(err.status, 501);
          assert.ok(err.message.includes(node.uuid), err.message);
        }
      });
    }
  });
}
