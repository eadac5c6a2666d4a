// Redfish power: ComputerSystem.PowerState and the ComputerSystem.Reset action, with the
// ResetType chosen from what this BMC advertises (AllowableValues or its ActionInfo).
import type { DriverContext, DriverNode, PowerInterface, PowerState, PowerTarget } from './interfaces.js';
import { sleep } from '../../common/sleep.js';
import { RedfishError, redfishSettings, type RedfishClient, type RedfishClientPool } from './redfish-client.js';

/** For each target, the ResetTypes that achieve it, in order of preference. */
const RESET_PREFERENCES: Record<PowerTarget, string[]> = {
  'power on': ['On', 'ForceOn'],
  'power off': ['ForceOff'],
  'soft power off': ['GracefulShutdown'],
  rebooting: ['ForceRestart', 'PowerCycle'],
  'soft rebooting': ['GracefulRestart'],
};

/** What the Redfish schema allows when a BMC does not advertise a list. */
const SCHEMA_DEFAULT = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'ForceOn', 'PushPowerButton', 'PowerCycle'];

interface ResetAction {
  target: string;
  allowed: string[];
}

export interface RedfishPowerOptions {
  /** How long to wait for the system to reach the requested state after a reset. */
  stateTimeoutMs: number;
  pollMs: number;
}

export class RedfishPower implements PowerInterface {
  readonly name = 'redfish';

  constructor(
    private readonly pool: RedfishClientPool,
    private readonly options: RedfishPowerOptions = { stateTimeoutMs: 60_000, pollMs: 1000 },
  ) {}

  validate(node: DriverNode): void {
    redfishSettings(node);
  }

  async getPowerState(node: DriverNode, ctx: DriverContext): Promise<PowerState> {
    const sys = await this.pool.get(node).getSystem(ctx.signal);
    return toPowerState(sys.body.PowerState, this.pool.get(node));
  }

  async supportedPowerStates(node: DriverNode, ctx: DriverContext): Promise<PowerTarget[]> {
    const action = await this.resetAction(this.pool.get(node), ctx);
    return (Object.keys(RESET_PREFERENCES) as PowerTarget[]).filter((t) => RESET_PREFERENCES[t].some((r) => action.allowed.includes(r)));
  }

  async setPowerState(node: DriverNode, target: PowerTarget, ctx: DriverContext): Promise<void> {
    const client = this.pool.get(node);
    const action = await this.resetAction(client, ctx);
    const resetType = RESET_PREFERENCES[target].find((r) => action.allowed.includes(r));
    const want: PowerState = target === 'power off' || target === 'soft power off' ? 'power off' : 'power on';
    if (!resetType) {
      if (target === 'rebooting' && action.allowed.includes('ForceOff') && action.allowed.includes('On')) {
        // No restart verb: off then on is the same thing.
        await this.setPowerState(node, 'power off', ctx);
        await this.setPowerState(node, 'power on', ctx);
        return;
      }
      throw new RedfishError(
        `Redfish BMC at ${client.settings.address} offers no ResetType for "${target}" (it allows ${action.allowed.join(', ')})`,
        null,
      );
    }
    if (target === 'power on' || target === 'power off' || target === 'soft power off') {
      // Asking an already-on machine to turn on is an error on some BMCs: do nothing instead.
      if ((await this.getPowerState(node, ctx)) === want) return;
    }
    await client.call('POST', action.target, { ResetType: resetType }, {}, ctx.signal);
    await this.waitFor(node, want, ctx);
  }

  private async waitFor(node: DriverNode, want: PowerState, ctx: DriverContext): Promise<void> {
    const deadline = Date.now() + this.options.stateTimeoutMs;
    let last: PowerState | undefined;
    for (;;) {
      last = await this.getPowerState(node, ctx);
      if (last === want) return;
      if (Date.now() >= deadline) {
        throw new RedfishError(
          `Redfish BMC at ${this.pool.get(node).settings.address} accepted the reset but the system is still "${last}" after ${this.options.stateTimeoutMs} ms (wanted "${want}")`,
          null,
        );
      }
      await sleep(this.options.pollMs, ctx.signal);
    }
  }

  private async resetAction(client: RedfishClient, ctx: DriverContext): Promise<ResetAction> {
    const sys = await client.getSystem(ctx.signal);
    const actions = (sys.body.Actions ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const reset = actions['#ComputerSystem.Reset'];
    if (!reset || typeof reset.target !== 'string') {
      throw new RedfishError(`Redfish system ${await client.systemPath(ctx.signal)} at ${client.settings.address} has no #ComputerSystem.Reset action`, null);
    }
    let allowed = reset['ResetType@Redfish.AllowableValues'] as string[] | undefined;
    const info = reset['@Redfish.ActionInfo'];
    if (!allowed && typeof info === 'string') {
      const res = await client.call('GET', info, undefined, {}, ctx.signal);
      const params = (res.body.Parameters as Array<{ Name?: string; AllowableValues?: string[] }> | undefined) ?? [];
      allowed = params.find((p) => p.Name === 'ResetType')?.AllowableValues;
    }
    return { target: reset.target, allowed: allowed ?? SCHEMA_DEFAULT };
  }
}

function toPowerState(value: unknown, client: RedfishClient): PowerState {
  // PoweringOn counts as on and PoweringOff as off, as Ironic reports the direction of travel.
  if (value === 'On' || value === 'PoweringOn') return 'power on';
  if (value === 'Off' || value === 'PoweringOff') return 'power off';
  throw new RedfishError(`Redfish BMC at ${client.settings.address} reported an unknown PowerState ${JSON.stringify(value)}`, null);
}
