// Fake inspection: reports the properties already on the node (or small defaults) at once.
import type { DriverContext, DriverNode, InspectInterface, InspectResult } from './interfaces.js';
import { FakeDelay } from './fake-delay.js';

export class FakeInspect implements InspectInterface {
  readonly name = 'fake';
  constructor(private readonly delay = new FakeDelay()) {}
  validate(): void {}
  async inspect(node: DriverNode, ctx: DriverContext): Promise<InspectResult> {
    await this.delay.wait(node, ctx);
    return {
      result: 'done',
      properties: { cpus: 1, memory_mb: 1024, local_gb: 10, cpu_arch: 'x86_64', ...node.properties },
    };
  }
}
