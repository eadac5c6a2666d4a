// The "ipxe" boot interface: the node network-boots the deploy ramdisk through our dnsmasq and a
// per-node iPXE script carrying a one-time boot secret (src/boot, reached through Provisioning),
// and boots its instance from disk afterwards.
import { BadRequestError } from '../../common/errors.js';
import type { Provisioning } from '../provisioning.js';
import type { BootInterface, DriverContext, DriverNode } from './interfaces.js';
import { nodeBootMode } from './boot-mode.js';

export class IpxeBoot implements BootInterface {
  readonly name = 'ipxe';

  constructor(
    private readonly provisioning: Provisioning,
    /** The node's pxe-enabled port MACs. */
    private readonly macsOf: (nodeUuid: string) => Promise<string[]>,
  ) {}

  validate(): void {
    this.provisioning.get();
  }

  async prepareRamdisk(node: DriverNode, ctx: DriverContext): Promise<void> {
    const macs = await this.macsOf(node.uuid);
    if (!macs.length) {
      throw new BadRequestError(`Node ${node.uuid} has no port with pxe_enabled; enrol the MAC of its provisioning NIC before it can network-boot.`);
    }
    const firmware = nodeBootMode(node) === 'uefi' ? 'uefi' : 'bios';
    await this.provisioning.get().boot.prepare({ nodeId: node.uuid, macs, firmware });
    await ctx.driver?.management.setBootDevice(node, 'pxe', false, ctx);
    await ctx.record?.(`network boot of the deploy ramdisk prepared for ${macs.join(', ')} (${firmware === 'uefi' ? 'UEFI' : 'BIOS'}); boot device pxe`);
  }

  async cleanUpRamdisk(node: DriverNode): Promise<void> {
    await this.provisioning.get().boot.cleanUp(node.uuid);
  }

  async prepareInstance(node: DriverNode, ctx: DriverContext): Promise<void> {
    await ctx.driver?.management.setBootDevice(node, 'disk', true, ctx);
    await ctx.record?.('boot device set to disk (persistent)');
  }

  async cleanUpInstance(): Promise<void> {}
}
