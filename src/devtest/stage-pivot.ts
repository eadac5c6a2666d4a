// Stage `pivot`: the seed's records move to the undercloud (nodes adopted as they are, images with
// their bytes, stacks with their resources) through the pivot (src/pivot/run.ts's runPivot,
// injected), which authenticates to the seed as its admin and to the undercloud with the token
// from the undercloud stack's outputs. What the seed holds is listed first (the `handover` stage
// compares the undercloud's records with it once the seed is gone).
import { mkdir } from 'node:fs/promises';
import type { Clients } from './clients.js';
import type { PivotFn } from './deps.js';
import { inventorySummary, takeInventory, type Inventory } from './inventory.js';
import type { DevtestLayout } from './layout.js';
import type { StageIo } from './stage-io.js';
import type { SeedOutput } from './stage-seed.js';
import type { UndercloudOutput } from './stage-undercloud.js';

export interface PivotStageInput {
  layout: DevtestLayout;
  seed: SeedOutput;
  undercloud: UndercloudOutput;
}

export interface PivotOutput {
  from: string;
  to: string;
  /** What runPivot returned. */
  report: unknown;
  /** The seed's records before the pivot, as the openstack CLI listed them. */
  seed_inventory: Inventory;
}

export async function runPivotStage(input: PivotStageInput, deps: { pivot: PivotFn; clients: Clients }, io: StageIo): Promise<PivotOutput> {
  await mkdir(input.layout.pivot, { recursive: true, mode: 0o700 });
  const seedInventory = await takeInventory(deps.clients, 'seed', io.signal);
  io.progress(`the seed holds ${inventorySummary(seedInventory)}`);
  io.progress(`pivot: ${input.seed.url} → ${input.undercloud.api_url}`);
  const report = await deps.pivot({
    from: { url: input.seed.url, username: 'admin', password: input.seed.admin_password, projectName: 'admin' },
    to: { url: input.undercloud.api_url, token: input.undercloud.pivot_token },
    stateDir: input.layout.pivot,
    onProgress: (step, detail) => io.progress(detail ? `${step}: ${detail}` : step),
    signal: io.signal,
  });
  return { from: input.seed.url, to: input.undercloud.api_url, report: report ?? null, seed_inventory: seedInventory };
}
