// Redfish management: boot source override (target, Once/Continuous, UEFI/Legacy) by PATCH on
// the ComputerSystem, with If-Match set to the ETag read just before, as BMCs that guard
// concurrent edits require. The serial console log, read-only, where the BMC offers one as the
// lab BMC's OEM resource (ComputerSystem Oem.Bootstack.SerialConsole; docs/lab.md).
import { ValidationError } from '../../common/errors.js';
import { maskSecretText } from '../secrets.js';
import { ConsoleUnavailableError, nodeLabel, tailBytes, type BootDevice, type DriverContext, type DriverNode, type ManagementInterface } from './interfaces.js';
import { nodeBootMode } from './boot-mode.js';
import { RedfishError, redfishSettings, type RedfishClientPool } from './redfish-client.js';

const TO_REDFISH: Record<BootDevice, string> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup', safe: 'Hdd' };
const FROM_REDFISH: Record<string, BootDevice> = { Pxe: 'pxe', Hdd: 'disk', Cd: 'cdrom', BiosSetup: 'bios' };

/** The boot mode to request from the BMC (see boot-mode.ts for where it is read from). */
export function requestedBootMode(node: DriverNode): 'UEFI' | 'Legacy' | undefined {
  const mode = nodeBootMode(node);
  if (mode === 'uefi') return 'UEFI';
  if (mode === 'bios') return 'Legacy';
  return undefined;
}

export class RedfishManagement implements ManagementInterface {
  readonly name = 'redfish';
  constructor(private readonly pool: RedfishClientPool) {}

  validate(node: DriverNode): void {
    redfishSettings(node);
  }

  async getSupportedBootDevices(node: DriverNode, ctx: DriverContext): Promise<BootDevice[]> {
    const sys = await this.pool.get(node).getSystem(ctx.signal);
    const allowed = this.allowedTargets(sys.body);
    return (Object.keys(TO_REDFISH) as BootDevice[]).filter((d) => d !== 'safe' && allowed.includes(TO_REDFISH[d]));
  }

  async setBootDevice(node: DriverNode, device: BootDevice, persistent: boolean, ctx: DriverContext): Promise<void> {
    const client = this.pool.get(node);
    const sys = await client.getSystem(ctx.signal);
    const target = TO_REDFISH[device];
    const allowed = this.allowedTargets(sys.body);
    if (!allowed.includes(target)) {
      throw new ValidationError(`boot device "${device}" (Redfish "${target}") is not offered by this BMC, which allows ${allowed.join(', ')}`, {
        path: 'boot_device',
      });
    }
    const boot: Record<string, string> = { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: persistent ? 'Continuous' : 'Once' };
    const mode = requestedBootMode(node);
    const current = (sys.body.Boot ?? {}) as Record<string, unknown>;
    // Only send the mode when it changes: several BMCs refuse a PATCH that names it needlessly.
    if (mode && current.BootSourceOverrideMode !== mode) boot.BootSourceOverrideMode = mode;
    const headers: Record<string, string> = sys.etag ? { 'if-match': sys.etag } : {};
    await client.call('PATCH', await client.systemPath(ctx.signal), { Boot: boot }, headers, ctx.signal);
  }

  async getBootDevice(node: DriverNode, ctx: DriverContext): Promise<{ boot_device: BootDevice | null; persistent: boolean | null }> {
    const sys = await this.pool.get(node).getSystem(ctx.signal);
    const boot = (sys.body.Boot ?? {}) as Record<string, unknown>;
    const enabled = boot.BootSourceOverrideEnabled;
    if (enabled === 'Disabled' || enabled === undefined) return { boot_device: null, persistent: null };
    const dev = FROM_REDFISH[String(boot.BootSourceOverrideTarget)];
    return { boot_device: dev ?? null, persistent: enabled === 'Continuous' };
  }

  async consoleLog(node: DriverNode, ctx: DriverContext, maxBytes: number): Promise<string> {
    const client = this.pool.get(node);
    const sys = await client.getSystem(ctx.signal);
    const link = serialConsoleLink(sys.body);
    const where = `the Redfish BMC at ${maskSecretText(client.settings.address)}`;
    if (!link) {
      throw new ConsoleUnavailableError(
        `Node ${nodeLabel(node)} has no console log: ${where} offers no serial console log (its ComputerSystem has no Oem.Bootstack.SerialConsole link; real BMCs give serial output over IPMI Serial-over-LAN or vendor tools, not Redfish)`,
        node.uuid,
      );
    }
    const res = await client.call('GET', `${link}?tail=${Math.max(1, Math.floor(maxBytes))}`, undefined, {}, ctx.signal);
    const data = res.body.Data;
    if (typeof data !== 'string') throw new RedfishError(`${where} answered GET ${link} without a Data string`, res.status);
    // A BMC that ignored ?tail still gives no more than was asked for.
    return tailBytes(data, maxBytes);
  }

  private allowedTargets(system: Record<string, unknown>): string[] {
    const boot = (system.Boot ?? {}) as Record<string, unknown>;
    const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (Array.isArray(allowed)) return allowed.map(String);
    if (!('BootSourceOverrideTarget' in boot)) {
      throw new RedfishError('this Redfish system does not support boot source override (no Boot.BootSourceOverrideTarget)', null);
    }
    return ['Pxe', 'Hdd', 'Cd', 'BiosSetup'];
  }
}

/** The path of the system's OEM serial console resource, when it advertises one. */
function serialConsoleLink(system: Record<string, unknown>): string | undefined {
  const oem = (system.Oem ?? {}) as Record<string, unknown>;
  const bootstack = (oem.Bootstack ?? {}) as Record<string, unknown>;
  const id = (bootstack.SerialConsole as { '@odata.id'?: unknown } | undefined)?.['@odata.id'];
  if (typeof id !== 'string' || !id) return undefined;
  // An absolute URL is reduced to its path: the client talks to the BMC's configured address.
  return id.replace(/^https?:\/\/[^/]+/, '').split('?')[0];
}
