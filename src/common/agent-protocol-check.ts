// Validators of the agent protocol (agent-protocol.ts): the agent checks the params it is given,
// the conductor checks what it queues. Parameter checks refuse exactly what the agent always
// refused, with the same messages, and coerce what it always coerced, so an older seed's commands
// are still run. Result checks look at each result's core fields (every agent version sent
// them; extras pass); the conductor applies them to inspect's result, the one that becomes node
// data, and the agent's tests to what its commands return.
import { AGENT_COMMANDS, CHECKSUM_ALGOS } from './agent-protocol.js';
import type { AgentCommandName, AgentCommandParams, AgentCommandResults, ChecksumAlgo, EraseParams, WriteConfigDriveParams, WriteImageParams } from './agent-protocol.js';

const NAMES: readonly string[] = AGENT_COMMANDS;
const ALGOS: readonly string[] = CHECKSUM_ALGOS;
const MiB = 1024 * 1024;

/** A malformed command or result; the message names the field (`params.image_url is required`). */
export class AgentProtocolError extends Error {}

export function isAgentCommand(name: unknown): name is AgentCommandName {
  return typeof name === 'string' && NAMES.includes(name);
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(p: Obj, key: string, required: true): string;
function str(p: Obj, key: string, required?: false): string | undefined;
function str(p: Obj, key: string, required = false): string | undefined {
  const v = p[key];
  // null is "not given": JSON has no undefined, and the agent always read it so.
  if (v === undefined || v === null) {
    if (required) throw new AgentProtocolError(`params.${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new AgentProtocolError(`params.${key} must be a string`);
  return v;
}

/** `device` and `root_device_hints` as given (hints: kept absent vs null, which the agent tells apart). */
function target(p: Obj): { device?: string; root_device_hints?: WriteImageParams['root_device_hints'] } {
  const device = str(p, 'device');
  return {
    ...(device === undefined ? {} : { device }),
    ...(p.root_device_hints === undefined ? {} : { root_device_hints: p.root_device_hints as WriteImageParams['root_device_hints'] }),
  };
}

function erase(p: Obj): EraseParams {
  if (Array.isArray(p.devices)) return { devices: p.devices.map(String) };
  if (p.device !== undefined) return { device: str(p, 'device', true) };
  return {};
}

function writeImage(p: Obj): WriteImageParams {
  const image_url = str(p, 'image_url', true);
  const checksum = str(p, 'checksum', true);
  const algo = str(p, 'checksum_algo') ?? 'sha256';
  if (!ALGOS.includes(algo)) throw new AgentProtocolError(`params.checksum_algo must be one of ${ALGOS.join(', ')}`);
  const type = str(p, 'image_type') ?? 'whole-disk';
  if (type !== 'whole-disk' && type !== 'partition') throw new AgentProtocolError('params.image_type must be whole-disk or partition');
  const out: WriteImageParams = { image_url, checksum, checksum_algo: algo as ChecksumAlgo, image_type: type, ...target(p) };
  if (p.image_size !== undefined && p.image_size !== null) out.image_size = Number(p.image_size);
  if (p.root_mb !== undefined && p.root_mb !== null) out.root_mb = Number(p.root_mb);
  if (type === 'partition' && !Math.max((out.root_mb ?? 0) * MiB, out.image_size ?? 0)) {
    throw new AgentProtocolError('params.image_size or params.root_mb is required for a partition image');
  }
  return out;
}

function writeConfigDrive(p: Obj): WriteConfigDriveParams {
  const where = target(p);
  if (!isObject(p.meta_data)) throw new AgentProtocolError('params.meta_data must be an object');
  // The optional parts were never refused: a wrong one ends up as what the drive's writer makes of it.
  return {
    ...where,
    meta_data: p.meta_data,
    network_data: p.network_data as Obj | undefined,
    user_data: typeof p.user_data === 'string' ? p.user_data : null,
    vendor_data: p.vendor_data as Obj | undefined,
    vendor_data2: p.vendor_data2 as Obj | undefined,
  };
}

/**
 * The params of command `name`, checked and typed. Throws AgentProtocolError naming the field;
 * an unknown name is refused too (`unknown command x`). Missing params count as `{}`.
 */
export function checkCommandParams<N extends AgentCommandName>(name: N, params: unknown): AgentCommandParams[N];
export function checkCommandParams(name: string, params: unknown): AgentCommandParams[AgentCommandName];
export function checkCommandParams(name: string, params: unknown): AgentCommandParams[AgentCommandName] {
  if (!isAgentCommand(name)) throw new AgentProtocolError(`unknown command ${name}`);
  const p = params ?? {};
  if (!isObject(p)) throw new AgentProtocolError('params must be an object');
  switch (name) {
    case 'erase':
      return erase(p);
    case 'write_image':
      return writeImage(p);
    case 'write_config_drive':
      return writeConfigDrive(p);
    default:
      return {}; // inspect and sync take none (extras were always ignored)
  }
}

function field(v: unknown, path: string, type: 'string' | 'number'): void {
  if (typeof v !== type) throw new AgentProtocolError(`${path} must be a ${type}`);
}

function list(r: Obj, key: string, optional: boolean): unknown[] {
  const v = r[key];
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) throw new AgentProtocolError(`result.${key} must be an array`);
  return v;
}

function itemOf(v: unknown, path: string): Obj {
  if (!isObject(v)) throw new AgentProtocolError(`${path} must be an object`);
  return v;
}

/**
 * A succeeded command's result, checked and typed: its core fields only (inspect: the parts the
 * inspector reads, each optional as it treats them; write_image: bytes and checksum; ...).
 * Throws AgentProtocolError naming the field.
 */
export function checkCommandResult<N extends AgentCommandName>(name: N, result: unknown): AgentCommandResults[N] {
  if (!isObject(result)) throw new AgentProtocolError('result must be an object');
  const r = result;
  switch (name as AgentCommandName) {
    case 'inspect':
      if (isObject(r.cpu) && r.cpu.count !== undefined) field(r.cpu.count, 'result.cpu.count', 'number');
      if (isObject(r.memory) && r.memory.physical_mb !== undefined) field(r.memory.physical_mb, 'result.memory.physical_mb', 'number');
      list(r, 'disks', true).forEach((d, i) => {
        const disk = itemOf(d, `result.disks[${i}]`);
        field(disk.name, `result.disks[${i}].name`, 'string');
        field(disk.size, `result.disks[${i}].size`, 'number');
      });
      list(r, 'interfaces', true).forEach((n, i) => field(itemOf(n, `result.interfaces[${i}]`).mac_address, `result.interfaces[${i}].mac_address`, 'string'));
      break;
    case 'erase':
      list(r, 'devices', false);
      break;
    case 'write_image':
      field(r.bytes, 'result.bytes', 'number');
      field(r.checksum, 'result.checksum', 'string');
      break;
    case 'write_config_drive':
      field(r.device, 'result.device', 'string');
      list(r, 'files', false);
      break;
    case 'sync':
      break;
    default:
      throw new AgentProtocolError(`unknown command ${name}`);
  }
  return r as unknown as AgentCommandResults[N];
}
