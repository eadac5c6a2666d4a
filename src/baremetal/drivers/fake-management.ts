// Fake management: remembers the boot device per node in memory.
import { BOOT_DEVICES, type BootDevice, type DriverContext, type DriverNode, type ManagementInterface } from './interfaces.js';
import { FakeDelay } from './fake-delay.js';

export class FakeManagement implements ManagementInterface {
  readonly name = 'fake';
  readonly bootDevices = new Map<string, { boot_device: BootDevice; persistent: boolean }>();

  constructor(private readonly delay = new FakeDelay()) {}

  validate(): void {}

  async getSupportedBootDevices(): Promise<BootDevice[]> {
    return [...BOOT_DEVICES];
  }

  async setBootDevice(node: DriverNode, device: BootDevice, persistent: boolean, ctx: DriverContext): Promise<void> {
    await this.delay.wait(node, ctx);
    this.bootDevices.set(node.uuid, { boot_device: device, persistent });
  }

  async getBootDevice(node: DriverNode): Promise<{ boot_device: BootDevice | null; persistent: boolean | null }> {
    return this.bootDevices.get(node.uuid) ?? { boot_device: null, persistent: null };
  }
}
