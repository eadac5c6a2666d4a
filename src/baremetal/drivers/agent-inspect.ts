// The "agent" inspect interface (in-band inspection): the node network-boots the deploy ramdisk,
// its agent runs "inspect" (CPUs, memory, disks, NICs from /proc and /sys) and we map that to
// Ironic's properties: cpus, cpu_arch, memory_mb, local_gb (root disk size in GiB minus one, as
// Ironic), plus a port for every NIC's MAC. The machine is powered off afterwards.
import type { BlockDevice, Inventory as AgentInventory, NetworkInterface } from '../../common/agent-protocol.js';
import { AgentProtocolError, checkCommandResult } from '../../common/agent-protocol-check.js';
import { BootstackError } from '../../common/errors.js';
import type { Provisioning } from '../provisioning.js';
import { bootRamdisk, step, waitForLookup } from './direct-deploy.js';
import type { DriverContext, DriverNode, InspectInterface, InspectResult } from './interfaces.js';

/** The inspect result (src/common/agent-protocol.ts) as read here: only these parts, each optional. */
interface Inventory {
  cpu?: Partial<Pick<AgentInventory['cpu'], 'count' | 'architecture'>>;
  memory?: Partial<Pick<AgentInventory['memory'], 'physical_mb'>>;
  disks?: Array<Pick<BlockDevice, 'name' | 'size'>>;
  interfaces?: Array<Pick<NetworkInterface, 'mac_address'> & Partial<Pick<NetworkInterface, 'physical'>>>;
}

const GiB = 1024 ** 3;

/** The disk Ironic would deploy to: the root_device name hint when there is one, else the smallest of at least 4 GiB. */
export function rootDisk(disks: Inventory['disks'], hints: unknown): { name: string; size: number } | undefined {
  const list = disks ?? [];
  const name = hints && typeof hints === 'object' ? (hints as Record<string, unknown>).name : undefined;
  if (typeof name === 'string') {
    const want = name.startsWith('/dev/') ? name : `/dev/${name}`;
    const hit = list.find((d) => d.name === want);
    if (hit) return hit;
  }
  return [...list].filter((d) => d.size >= 4 * GiB).sort((a, b) => a.size - b.size)[0];
}

export function inventoryToProperties(inv: Inventory, hints: unknown): InspectResult {
  const root = rootDisk(inv.disks, hints);
  const properties: Record<string, unknown> = {};
  if (inv.cpu?.count) properties.cpus = inv.cpu.count;
  if (inv.cpu?.architecture) properties.cpu_arch = inv.cpu.architecture;
  if (inv.memory?.physical_mb) properties.memory_mb = inv.memory.physical_mb;
  if (root) properties.local_gb = Math.max(0, Math.floor(root.size / GiB) - 1);
  const macs = (inv.interfaces ?? []).filter((i) => i.physical !== false).map((i) => i.mac_address);
  return { result: 'done', properties, macs };
}

export class AgentInspect implements InspectInterface {
  readonly name = 'agent';

  constructor(private readonly provisioning: Provisioning) {}

  validate(): void {
    this.provisioning.get();
  }

  async inspect(node: DriverNode, ctx: DriverContext): Promise<InspectResult> {
    await bootRamdisk(node, ctx);
    return { result: 'wait' };
  }

  async awaitAgent(node: DriverNode, ctx: DriverContext): Promise<InspectResult> {
    const links = this.provisioning.get();
    const signal = ctx.signal ?? new AbortController().signal;
    await waitForLookup(links, node, signal);
    const raw = await step(links, node, 'inspect', {}, signal);
    let inv: Inventory;
    try {
      inv = checkCommandResult('inspect', raw); // it becomes the node's properties and ports
    } catch (err) {
      if (!(err instanceof AgentProtocolError)) throw err;
      throw new BootstackError(500, 'agent_command_failed', `agent command inspect returned a malformed inventory: ${err.message}`);
    }
    return inventoryToProperties(inv, node.properties.root_device);
  }

  async complete(node: DriverNode, ctx: DriverContext): Promise<void> {
    await ctx.driver?.boot.cleanUpRamdisk(node, ctx);
    await ctx.driver?.power.setPowerState(node, 'power off', ctx);
    await ctx.record?.('inspection done; powered off');
  }
}
