// Fake management: remembers the boot device per node in memory, and answers consoleLog with a
// fixed text (FAKE_CONSOLE_LOG, or what a test put in `consoles` for the node).
import { BOOT_DEVICES, tailBytes, type BootDevice, type DriverContext, type DriverNode, type ManagementInterface } from './interfaces.js';
import { FakeDelay } from './fake-delay.js';

/** What every fake node's serial console says, unless a test sets FakeManagement.consoles. */
export const FAKE_CONSOLE_LOG = [
  'Bootstack fake console',
  'fake BIOS: booting from disk',
  'fake OS: started',
  'fake login: ',
].join('\n') + '\n';

export class FakeManagement implements ManagementInterface {
  readonly name = 'fake';
  readonly bootDevices = new Map<string, { boot_device: BootDevice; persistent: boolean }>();
  /** Console text per node uuid; FAKE_CONSOLE_LOG for the others. */
  readonly consoles = new Map<string, string>();

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
    // Until one is set, the fake machine network-boots (as Ironic's fake management reports).
    return this.bootDevices.get(node.uuid) ?? { boot_device: 'pxe', persistent: false };
  }

  async consoleLog(node: DriverNode, _ctx: DriverContext, maxBytes: number): Promise<string> {
    return tailBytes(this.consoles.get(node.uuid) ?? FAKE_CONSOLE_LOG, maxBytes);
  }
}
