// IPMI power through ipmitool: "power status|on|off|soft|cycle".
import type { DriverContext, DriverNode, PowerInterface, PowerState, PowerTarget } from './interfaces.js';
import { sleep } from '../../common/sleep.js';
import { IpmiError, ipmiTarget, ipmitool, DEFAULT_IPMITOOL, type IpmitoolOptions } from './ipmitool.js';

export class IpmitoolPower implements PowerInterface {
  readonly name = 'ipmitool';
  constructor(
    private readonly options: IpmitoolOptions = DEFAULT_IPMITOOL,
    private readonly stateTimeoutMs = 60_000,
  ) {}

  validate(node: DriverNode): void {
    ipmiTarget(node);
  }

  async getPowerState(node: DriverNode, ctx: DriverContext): Promise<PowerState> {
    const out = await ipmitool(node, ['power', 'status'], this.options, ctx);
    if (/Power is on/i.test(out)) return 'power on';
    if (/Power is off/i.test(out)) return 'power off';
    throw new IpmiError(`unexpected answer to "power status" from ${ipmiTarget(node).address}: ${out.trim()}`);
  }

  async supportedPowerStates(): Promise<PowerTarget[]> {
    return ['power on', 'power off', 'rebooting', 'soft power off'];
  }

  async setPowerState(node: DriverNode, target: PowerTarget, ctx: DriverContext): Promise<void> {
    const current = await this.getPowerState(node, ctx);
    let want: PowerState;
    switch (target) {
      case 'power on':
        want = 'power on';
        if (current !== want) await ipmitool(node, ['power', 'on'], this.options, ctx);
        break;
      case 'power off':
        want = 'power off';
        if (current !== want) await ipmitool(node, ['power', 'off'], this.options, ctx);
        break;
      case 'soft power off':
        want = 'power off';
        if (current !== want) await ipmitool(node, ['power', 'soft'], this.options, ctx);
        break;
      case 'rebooting':
        want = 'power on';
        // Off then on, as Ironic's ipmitool driver does: "power cycle" is refused by BMCs whose
        // machine is off, and some simulators do not power back on after it.
        if (current === 'power on') {
          await ipmitool(node, ['power', 'off'], this.options, ctx);
          await this.waitFor(node, 'power off', target, ctx);
        }
        await ipmitool(node, ['power', 'on'], this.options, ctx);
        break;
      default:
        throw new IpmiError(`ipmitool power cannot do "${target}"`);
    }
    await this.waitFor(node, want, target, ctx);
  }

  private async waitFor(node: DriverNode, want: PowerState, target: PowerTarget, ctx: DriverContext): Promise<void> {
    const deadline = Date.now() + this.stateTimeoutMs;
    for (;;) {
      const now = await this.getPowerState(node, ctx);
      if (now === want) return;
      if (Date.now() > deadline) {
        throw new IpmiError(`BMC ${ipmiTarget(node).address} accepted "${target}" but the machine is still "${now}" after ${this.stateTimeoutMs} ms`);
      }
      await sleep(200, ctx.signal);
    }
  }
}
