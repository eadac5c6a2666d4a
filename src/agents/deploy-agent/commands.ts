// The commands the conductor can send, by name. Each takes the command's params and the agent's
// context and returns a JSON-able result; a thrown error becomes a failed result with its message.
// Params are documented in docs/boot-deploy.md.
import { join } from 'node:path';
import { run } from '../../common/child-process.js';
import { appendConfigDrivePartition, partitionForImage } from './layout.js';
import { writeConfigDrive, type ConfigDriveContent } from './config-drive.js';
import { eraseDevice } from './erase.js';
import { inspect } from './inspect.js';
import { readPartitionTable, MiB, type PartitionInfo } from './disk.js';
import { chooseRootDevice, type RootDeviceHints } from './root-device-hints.js';
import { writeImage, type ChecksumAlgo, type WriteProgress } from './write-image.js';

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

export class CommandParamError extends Error {}

function str(params: Record<string, unknown>, key: string, required: true): string;
function str(params: Record<string, unknown>, key: string, required?: false): string | undefined;
function str(params: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = params[key];
  if (v === undefined || v === null) {
    if (required) throw new CommandParamError(`params.${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new CommandParamError(`params.${key} must be a string`);
  return v;
}

async function targetDevice(params: Record<string, unknown>, ctx: AgentContext): Promise<string> {
  const explicit = str(params, 'device');
  if (explicit) return explicit;
  if (ctx.device && params.root_device_hints === undefined) return ctx.device;
  const { disks } = await inspect(ctx.root);
  return devicePath(ctx.root, chooseRootDevice(disks, (params.root_device_hints ?? null) as RootDeviceHints | null).name);
}

/** Inventory names are /dev/<x>; under a test root (a fake /sys) the device is <root>/dev/<x>. */
function devicePath(root: string, name: string): string {
  return root === '/' ? name : join(root, name);
}

const ALGOS: readonly ChecksumAlgo[] = ['md5', 'sha256', 'sha512'];

export const COMMANDS: Record<string, CommandHandler> = {
  async inspect(_params, ctx) {
    return inspect(ctx.root);
  },

  async erase(params, ctx) {
    const listed = params.devices;
    let devices: string[];
    if (Array.isArray(listed)) devices = listed.map(String);
    else if (params.device !== undefined) devices = [str(params, 'device', true)];
    else devices = (await inspect(ctx.root)).disks.map((d) => devicePath(ctx.root, d.name));
    const results = [];
    for (const d of devices) results.push(await eraseDevice(d));
    return { devices: results };
  },

  async write_image(params, ctx) {
    const url = str(params, 'image_url', true);
    const checksum = str(params, 'checksum', true);
    const algo = (str(params, 'checksum_algo') ?? 'sha256') as ChecksumAlgo;
    if (!ALGOS.includes(algo)) throw new CommandParamError(`params.checksum_algo must be one of ${ALGOS.join(', ')}`);
    const type = str(params, 'image_type') ?? 'whole-disk';
    const device = await targetDevice(params, ctx);
    ctx.device = device;
    const common = { url, device, checksum, algo, signal: ctx.signal, onProgress: (p: WriteProgress) => { ctx.progress = p; ctx.onProgress?.(p); } };
    if (type === 'partition') {
      const imageSize = Number(params.image_size ?? 0);
      const rootBytes = Math.max(Number(params.root_mb ?? 0) * MiB, imageSize);
      if (!rootBytes) throw new CommandParamError('params.image_size or params.root_mb is required for a partition image');
      const layout = await partitionForImage(device, rootBytes);
      ctx.configDrive = layout.configDrive;
      const r = await writeImage({ ...common, offset: layout.root.start, limit: layout.root.size });
      return { ...r, image_type: type, root_partition: layout.root, config_drive_partition: layout.configDrive };
    }
    if (type !== 'whole-disk') throw new CommandParamError('params.image_type must be whole-disk or partition');
    const r = await writeImage(common);
    ctx.configDrive = undefined;
    return { ...r, image_type: type };
  },

  async write_config_drive(params, ctx) {
    const device = await targetDevice(params, ctx);
    if (typeof params.meta_data !== 'object' || params.meta_data === null) throw new CommandParamError('params.meta_data must be an object');
    let part = ctx.device === device ? ctx.configDrive : undefined;
    if (!part) {
      const table = await readPartitionTable(device);
      part = table?.partitions.find((p) => p.name === 'config-2') ?? (await appendConfigDrivePartition(device));
    }
    ctx.configDrive = part;
    const content: ConfigDriveContent = {
      meta_data: params.meta_data as Record<string, unknown>,
      network_data: params.network_data as Record<string, unknown> | undefined,
      user_data: typeof params.user_data === 'string' ? params.user_data : null,
      vendor_data: params.vendor_data as Record<string, unknown> | undefined,
      vendor_data2: params.vendor_data2 as Record<string, unknown> | undefined,
    };
    const { files } = await writeConfigDrive(device, part, content);
    return { device, partition: part, files };
  },

  async sync() {
    await run('sync', [], { timeoutMs: 300_000 });
    return { synced: true };
  },
};
