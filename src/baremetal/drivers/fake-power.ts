// Fake power: every action succeeds (after the optional fake delay). The "hardware" state is
// kept per node in memory so a test can change it behind the conductor's back (out-of-band).
import type { DriverContext, DriverNode, PowerInterface, PowerState, PowerTarget } from './interfaces.js';
import { FakeDelay } from './fake-delay.js';

export class FakePower implements PowerInterface {
  readonly name = 'fake';
  /** The simulated machines' power, by node uuid. */
  readonly machines = new Map<string, PowerState>();

  constructor(private readonly delay = new FakeDelay()) {}

  validate(): void {}

  async getPowerState(node: DriverNode, ctx: DriverContext): Promise<PowerState> {
    await this.delay.wait(node, ctx);
    return this.machines.get(node.uuid) ?? (node.power_state === 'power on' ? 'power on' : 'power off');
  }

  async setPowerState(node: DriverNode, target: PowerTarget, ctx: DriverContext): Promise<void> {
    await this.delay.wait(node, ctx);
    this.machines.set(node.uuid, target === 'power off' || target === 'soft power off' ? 'power off' : 'power on');
  }

  async supportedPowerStates(): Promise<PowerTarget[]> {
    return ['power on', 'power off', 'rebooting', 'soft power off', 'soft rebooting'];
  }
}
