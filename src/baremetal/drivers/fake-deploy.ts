// Fake deploy (Ironic's "fake" deploy interface): deploying finishes at once (deploying →
// active, no call-back wait) and cleaning does nothing. Honours the fake delay.
import type { CleanStep, DeployInterface, DriverContext, DriverNode, StepResult } from './interfaces.js';
import { FakeDelay } from './fake-delay.js';

export class FakeDeploy implements DeployInterface {
  readonly name = 'fake';
  constructor(private readonly delay = new FakeDelay()) {}
  validate(): void {}
  async deploy(node: DriverNode, ctx: DriverContext): Promise<StepResult> {
    await this.delay.wait(node, ctx);
    return 'done';
  }
  async tearDown(node: DriverNode, ctx: DriverContext): Promise<void> {
    await this.delay.wait(node, ctx);
  }
  async clean(node: DriverNode, _steps: CleanStep[] | null, ctx: DriverContext): Promise<StepResult> {
    await this.delay.wait(node, ctx);
    return 'done';
  }
}
