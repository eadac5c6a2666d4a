// Out-of-band inspection over Redfish (as Ironic's "redfish" inspect interface): CPUs and
// memory from the ComputerSystem summaries, CPU architecture from the first processor, the
// largest disk from SimpleStorage, and the NICs' MAC addresses from EthernetInterfaces.
import type { DriverContext, DriverNode, InspectInterface, InspectResult } from './interfaces.js';
import { RedfishError, redfishSettings, type RedfishClient, type RedfishClientPool } from './redfish-client.js';

type Res = Record<string, unknown>;
const ARCH: Record<string, string> = { 'x86-64': 'x86_64', x86: 'i686', 'ARM-A64': 'aarch64', 'ARM-A32': 'armv7', 'PowerISA': 'ppc64le' };

export class RedfishInspect implements InspectInterface {
  readonly name = 'redfish';
  constructor(private readonly pool: RedfishClientPool) {}

  validate(node: DriverNode): void {
    redfishSettings(node);
  }

  async inspect(node: DriverNode, ctx: DriverContext): Promise<InspectResult> {
    const client = this.pool.get(node);
    const sys = (await client.getSystem(ctx.signal)).body;
    const cpu = (sys.ProcessorSummary ?? {}) as Res;
    const mem = (sys.MemorySummary ?? {}) as Res;
    const cpus = Number(cpu.LogicalProcessorCount ?? cpu.Count);
    const gib = Number(mem.TotalSystemMemoryGiB);
    if (!Number.isFinite(cpus) || !Number.isFinite(gib)) {
      throw new RedfishError(`Redfish system at ${client.settings.address} reports no ProcessorSummary/MemorySummary to inspect`, null, { transient: false });
    }
    const properties: Record<string, unknown> = { cpus, memory_mb: Math.round(gib * 1024) };
    const arch = await this.arch(client, sys, ctx);
    if (arch) properties.cpu_arch = arch;
    const disk = await this.largestDiskBytes(client, sys, ctx);
    // Ironic reports the largest disk less 1 GiB, leaving room for partitioning.
    if (disk) properties.local_gb = Math.max(0, Math.floor(disk / 2 ** 30) - 1);
    return { result: 'done', properties, macs: await this.macs(client, sys, ctx) };
  }

  private async members(client: RedfishClient, link: unknown, ctx: DriverContext): Promise<Res[]> {
    const path = (link as { '@odata.id'?: string } | undefined)?.['@odata.id'];
    if (!path) return [];
    const coll = (await client.call('GET', path, undefined, {}, ctx.signal)).body;
    const out: Res[] = [];
    for (const m of (coll.Members as Array<{ '@odata.id': string }> | undefined) ?? []) {
      out.push((await client.call('GET', m['@odata.id'], undefined, {}, ctx.signal)).body);
    }
    return out;
  }

  private async arch(client: RedfishClient, sys: Res, ctx: DriverContext): Promise<string | undefined> {
    const first = (await this.members(client, sys.Processors, ctx))[0];
    const set = (first?.InstructionSet ?? first?.ProcessorArchitecture) as string | undefined;
    return set ? (ARCH[set] ?? set) : undefined;
  }

  private async largestDiskBytes(client: RedfishClient, sys: Res, ctx: DriverContext): Promise<number | undefined> {
    let best: number | undefined;
    for (const ctrl of await this.members(client, sys.SimpleStorage, ctx)) {
      for (const d of (ctrl.Devices as Array<{ CapacityBytes?: number }> | undefined) ?? []) {
        if (typeof d.CapacityBytes === 'number' && (best === undefined || d.CapacityBytes > best)) best = d.CapacityBytes;
      }
    }
    return best;
  }

  private async macs(client: RedfishClient, sys: Res, ctx: DriverContext): Promise<string[]> {
    const nics = await this.members(client, sys.EthernetInterfaces, ctx);
    return nics
      .map((n) => String(n.MACAddress ?? n.PermanentMACAddress ?? '').toLowerCase())
      .filter((m) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(m));
  }
}
