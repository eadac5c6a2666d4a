// The small driver interfaces a hardware type is made of (Ironic's drivers/base.py, cut down).
// Each interface has several implementations, one per file, and a shared contract suite that
// every implementation runs. The conductor only ever talks to these interfaces.
import type { Logger } from 'pino';
import { BootstackError } from '../../common/errors.js';

export type PowerState = 'power on' | 'power off';
/** What PUT /states/power may ask for. */
export type PowerTarget = 'power on' | 'power off' | 'rebooting' | 'soft power off' | 'soft rebooting';
export const POWER_TARGETS: readonly PowerTarget[] = ['power on', 'power off', 'rebooting', 'soft power off', 'soft rebooting'];

/** Ironic's boot device names. */
export type BootDevice = 'pxe' | 'disk' | 'cdrom' | 'bios' | 'safe';
export const BOOT_DEVICES: readonly BootDevice[] = ['pxe', 'disk', 'cdrom', 'bios', 'safe'];

/** What a driver sees of a node: identity, its BMC settings and the bits of state it needs. */
export interface DriverNode {
  uuid: string;
  name: string | null;
  driver_info: Record<string, unknown>;
  properties: Record<string, unknown>;
  instance_info: Record<string, unknown>;
  power_state: string | null;
  boot_mode: string | null;
}

export interface DriverContext {
  log: Logger;
  /** Aborted when the server stops; long waits end early. */
  signal?: AbortSignal;
  /** The node's other interfaces (Ironic's task.driver), for boot/deploy work that needs power. */
  driver?: { power: PowerInterface; management: ManagementInterface; boot: BootInterface };
  /** Adds a step to the node's timeline (history, event type "deploy"). */
  record?: (event: string) => Promise<void>;
}

interface BaseInterface {
  /** Implementation name as the API shows it ("redfish", "ipmitool", "fake"). */
  readonly name: string;
  /** Throws a ValidationError naming the driver_info field that is missing or wrong. */
  validate(node: DriverNode): void;
}

export interface PowerInterface extends BaseInterface {
  getPowerState(node: DriverNode, ctx: DriverContext): Promise<PowerState>;
  /** Returns once the machine has reached the target (or throws). */
  setPowerState(node: DriverNode, target: PowerTarget, ctx: DriverContext): Promise<void>;
  supportedPowerStates(node: DriverNode, ctx: DriverContext): Promise<PowerTarget[]>;
}

export interface ManagementInterface extends BaseInterface {
  getSupportedBootDevices(node: DriverNode, ctx: DriverContext): Promise<BootDevice[]>;
  setBootDevice(node: DriverNode, device: BootDevice, persistent: boolean, ctx: DriverContext): Promise<void>;
  getBootDevice(node: DriverNode, ctx: DriverContext): Promise<{ boot_device: BootDevice | null; persistent: boolean | null }>;
  /**
   * Optional (the read-only part of Ironic's console interface): the last `maxBytes` bytes of the
   * machine's serial console output, as text. Throws ConsoleUnavailableError when the BMC has none.
   */
  consoleLog?(node: DriverNode, ctx: DriverContext, maxBytes: number): Promise<string>;
}

/** How much console output is read when the caller does not say, and the most it may ask for. */
export const CONSOLE_LOG_DEFAULT_BYTES = 64 * 1024;
export const CONSOLE_LOG_MAX_BYTES = 1024 * 1024;

/** 501: this node's BMC (or its management interface) offers no serial console log. */
export class ConsoleUnavailableError extends BootstackError {
  constructor(message: string, node?: string) {
    super(501, 'console_not_available', message, { fields: node ? { node } : {} });
  }
}

/** "name (uuid)" or the uuid: how console errors name a node. */
export function nodeLabel(node: Pick<DriverNode, 'uuid' | 'name'>): string {
  return node.name ? `${node.name} (${node.uuid})` : node.uuid;
}

/** The last `maxBytes` bytes of `text` (UTF-8), not starting inside a character. */
export function tailBytes(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let start = buf.length - maxBytes;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}

/** Gets a machine ready to boot the deploy ramdisk or its instance (dnsmasq/iPXE later). */
export interface BootInterface extends BaseInterface {
  prepareRamdisk(node: DriverNode, ctx: DriverContext): Promise<void>;
  cleanUpRamdisk(node: DriverNode, ctx: DriverContext): Promise<void>;
  prepareInstance(node: DriverNode, ctx: DriverContext): Promise<void>;
  cleanUpInstance(node: DriverNode, ctx: DriverContext): Promise<void>;
}

/**
 * "done": the step finished in-process. "wait": the machine continues on its own (agent) and the
 * node waits in "wait call-back" / "clean wait" until the agent calls back or the timeout fires.
 */
export type StepResult = 'done' | 'wait';

export interface CleanStep {
  interface: string;
  step: string;
  args?: Record<string, unknown>;
}

export interface DeployInterface extends BaseInterface {
  deploy(node: DriverNode, ctx: DriverContext): Promise<StepResult>;
  tearDown(node: DriverNode, ctx: DriverContext): Promise<void>;
  /** Automated cleaning when steps is null, manual cleaning with the given steps otherwise. */
  clean(node: DriverNode, steps: CleanStep[] | null, ctx: DriverContext): Promise<StepResult>;
  /**
   * Interfaces that return "wait": the remote part (the agent's commands), run by the conductor
   * while the node is in "wait call-back" / "clean wait", without the node's lock. Throws with
   * the failed step; ctx.signal aborts when the node leaves the wait state.
   */
  awaitAgent?(node: DriverNode, phase: AgentPhase, ctx: DriverContext): Promise<void>;
  /** After awaitAgent succeeded, under the lock (deploying/cleaning again): boot to disk, power. */
  complete?(node: DriverNode, phase: AgentPhase, ctx: DriverContext): Promise<void>;
}

export type AgentPhase = 'deploy' | 'clean';

export interface InspectResult {
  result: StepResult;
  /** Discovered properties (cpus, memory_mb, local_gb, cpu_arch) merged into node.properties. */
  properties?: Record<string, unknown>;
  /** MAC addresses found, to create ports for. */
  macs?: string[];
}

export interface InspectInterface extends BaseInterface {
  inspect(node: DriverNode, ctx: DriverContext): Promise<InspectResult>;
  /** In-band inspection: the agent's part while the node is in "inspect wait" (see DeployInterface.awaitAgent). */
  awaitAgent?(node: DriverNode, ctx: DriverContext): Promise<InspectResult>;
  /** After awaitAgent, under the lock: boot cleaned up, machine off. */
  complete?(node: DriverNode, ctx: DriverContext): Promise<void>;
}

export interface InterfaceKinds {
  power: PowerInterface;
  management: ManagementInterface;
  boot: BootInterface;
  deploy: DeployInterface;
  inspect: InspectInterface;
}
export type InterfaceKind = keyof InterfaceKinds;
export const INTERFACE_KINDS: readonly InterfaceKind[] = ['boot', 'deploy', 'inspect', 'management', 'power'];

/** Reads a string from driver_info, or undefined. */
export function infoString(node: DriverNode, key: string): string | undefined {
  const v = node.driver_info[key];
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

