// The fake interfaces can take time, so that tests and benchmarks see operations in flight
// (kill -9 mid-deploy). driver_info.fake_delay_ms on a node overrides the configured default.
import { sleep } from '../../common/sleep.js';
import type { DriverContext, DriverNode } from './interfaces.js';

export class FakeDelay {
  constructor(private readonly defaultMs = 0) {}

  wait(node: DriverNode, ctx: DriverContext): Promise<void> {
    const raw = node.driver_info.fake_delay_ms;
    const ms = raw === undefined || raw === null ? this.defaultMs : Number(raw);
    return Number.isFinite(ms) && ms > 0 ? sleep(ms, ctx.signal) : Promise.resolve();
  }
}
