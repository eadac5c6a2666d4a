// IPMI boot device through ipmitool "chassis bootdev" / "chassis bootparam get 5".
import type { BootDevice, DriverContext, DriverNode, ManagementInterface } from './interfaces.js';
import { ipmiTarget, ipmitool, DEFAULT_IPMITOOL, type IpmitoolOptions } from './ipmitool.js';

const TO_IPMI: Record<BootDevice, string> = { pxe: 'pxe', disk: 'disk', cdrom: 'cdrom', bios: 'bios', safe: 'safe' };

export class IpmitoolManagement implements ManagementInterface {
  readonly name = 'ipmitool';
  constructor(private readonly options: IpmitoolOptions = DEFAULT_IPMITOOL) {}

  validate(node: DriverNode): void {
    ipmiTarget(node);
  }

  async getSupportedBootDevices(): Promise<BootDevice[]> {
    return ['pxe', 'disk', 'cdrom', 'bios', 'safe'];
  }

  async setBootDevice(node: DriverNode, device: BootDevice, persistent: boolean, ctx: DriverContext): Promise<void> {
    const args = ['chassis', 'bootdev', TO_IPMI[device]];
    if (persistent) args.push('options=persistent');
    await ipmitool(node, args, this.options, ctx);
  }

  async getBootDevice(node: DriverNode, ctx: DriverContext): Promise<{ boot_device: BootDevice | null; persistent: boolean | null }> {
    const out = await ipmitool(node, ['chassis', 'bootparam', 'get', '5'], this.options, ctx);
    const persistent = /Options apply to all future boots/i.test(out);
    const dev = /Force PXE/i.test(out)
      ? 'pxe'
      : /Force Boot from default Hard-Drive/i.test(out)
        ? 'disk'
        : /CD\/DVD/i.test(out)
          ? 'cdrom'
          : /BIOS Setup/i.test(out)
            ? 'bios'
            : null;
    return { boot_device: dev, persistent: dev ? persistent : null };
  }
}
