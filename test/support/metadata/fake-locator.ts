// A named fake InstanceLocator for tests: a fixed table from source address to instance.
import type { InstanceContent } from '../../../src/common/instance-metadata.js';
import type { InstanceLocator, LocatedInstance } from '../../../src/metadata/instances.js';

export class FakeInstanceLocator implements InstanceLocator {
  readonly asked: string[] = [];
  constructor(private readonly byIp: Record<string, { nodeId: string; content: InstanceContent }>) {}

  async locate(ip: string): Promise<LocatedInstance> {
    this.asked.push(ip);
    return this.byIp[ip] ?? { refused: 'unknown address (fake)' };
  }
}
