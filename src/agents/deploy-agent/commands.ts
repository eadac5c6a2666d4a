// The commands the conductor can send, by name. Each takes the command's params and the agent's
// context and returns a JSON-able result; a thrown error becomes a failed result with its message.
// Names, params and results are declared once, in src/common/agent-protocol.ts (documented in
// docs/boot-deploy.md); params are checked there before a handler sees them.
import { join } from 'node:path';
import { run } from '../../common/child-process.js';
import { checkCommandParams } from '../../common/agent-protocol-check.js';
import type { AgentCommandName, AgentCommandParams, AgentCommandResults, TargetParams } from '../../common/agent-protocol.js';
import { appendConfigDrivePartition, partitionForImage } from './layout.js';
import { writeConfigDrive, type ConfigDriveContent } from './config-drive.js';
import { eraseDevice } from './erase.js';
import { inspect } from './inspect.js';
import { readPartitionTable, MiB, type PartitionInfo } from './disk.js';
import { chooseRootDevice, type RootDeviceHints } from './root-device-hints.js';
import { writeImage, type WriteProgress } from './write-image.js';

export interface AgentContext {
  /** Root of /proc and /sys (a fake tree in tests). */
  root: string;
  /** The disk chosen by write_image, reused by write_config_drive. */
  device?: string;
  configDrive?: PartitionInfo;
  /** Progress of a running write, sent with heartbeats. */
  progress?: WriteProgress;
  onProgress?: (p: WriteProgress) => void;
  signal?: AbortSignal;
}

export type CommandHandler = (params: Record<string, unknown>, ctx: AgentContext) => Promise<unknown>;

/** Each handler gets its checked params and must return its declared result (the compiler holds it to the protocol). */
type Handlers = { [N in AgentCommandName]: (params: AgentCommandParams[N], ctx: AgentContext) => Promise<AgentCommandResults[N]> };

async function targetDevice(params: TargetParams, ctx: AgentContext): Promise<string> {
  const explicit = params.device;
  if (explicit) return explicit;
  if (ctx.device && params.root_device_hints === undefined) return ctx.device;
  const { disks } = await inspect(ctx.root);
  return devicePath(ctx.root, chooseRootDevice(disks, (params.root_device_hints ?? null) as RootDeviceHints | null).name);
}

/** Inventory names are /dev/<x>; under a test root (a fake /sys) the device is <root>/dev/<x>. */
function devicePath(root: string, name: string): string {
  return root === '/' ? name : join(root, name);
}

const HANDLERS: Handlers = {
  async inspect(_params, ctx) {
    return inspect(ctx.root);
  },

  async erase(params, ctx) {
    let devices: string[];
    if (params.devices) devices = params.devices;
    else if (params.device !== undefined) devices = [params.device];
    else devices = (await inspect(ctx.root)).disks.map((d) => devicePath(ctx.root, d.name));
    const results = [];
    for (const d of devices) results.push(await eraseDevice(d));
    return { devices: results };
  },

  async write_image(params, ctx) {
    const { image_url: url, checksum } = params;
    const algo = params.checksum_algo ?? 'sha256';
    const type = params.image_type ?? 'whole-disk';
    const device = await targetDevice(params, ctx);
    ctx.device = device;
    const common = { url, device, checksum, algo, signal: ctx.signal, onProgress: (p: WriteProgress) => { ctx.progress = p; ctx.onProgress?.(p); } };
    if (type === 'partition') {
      const rootBytes = Math.max((params.root_mb ?? 0) * MiB, params.image_size ?? 0); // not 0: checked with the params
      const layout = await partitionForImage(device, rootBytes);
      ctx.configDrive = layout.configDrive;
      const r = await writeImage({ ...common, offset: layout.root.start, limit: layout.root.size });
      return { ...r, image_type: type, root_partition: layout.root, config_drive_partition: layout.configDrive };
    }
    const r = await writeImage(common);
    ctx.configDrive = undefined;
    return { ...r, image_type: type };
  },

  async write_config_drive(params, ctx) {
    const device = await targetDevice(params, ctx);
    let part = ctx.device === device ? ctx.configDrive : undefined;
    if (!part) {
      const table = await readPartitionTable(device);
      part = table?.partitions.find((p) => p.name === 'config-2') ?? (await appendConfigDrivePartition(device));
    }
    ctx.configDrive = part;
    const content: ConfigDriveContent = {
      meta_data: params.meta_data,
      network_data: params.network_data,
      user_data: params.user_data ?? null,
      vendor_data: params.vendor_data,
      vendor_data2: params.vendor_data2,
    };
    const { files } = await writeConfigDrive(device, part, content);
    return { device, partition: part, files };
  },

  async sync() {
    await run('sync', [], { timeoutMs: 300_000 });
    return { synced: true };
  },
};

/** The handlers by wire name, taking the params as they came (checked here, before the handler runs). */
export const COMMANDS: Record<string, CommandHandler> = Object.fromEntries(
  Object.entries(HANDLERS).map(([name, handler]) => [
    name,
    (params: Record<string, unknown>, ctx: AgentContext) => (handler as (p: unknown, c: AgentContext) => Promise<unknown>)(checkCommandParams(name, params), ctx),
  ]),
);
