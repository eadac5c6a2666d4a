// Stage `pivot`: the seed's records move to the undercloud (nodes adopted as they are, images with
// their bytes, stacks with their resources) through the pivot (src/pivot/run.ts's runPivot,
// injected), which authenticates to the seed as its admin and to the undercloud with the token
// from the undercloud stack's outputs.
import { mkdir } from 'node:fs/promises';
import type { PivotFn } from './deps.js';
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
}

export async function runPivotStage(input: PivotStageInput, deps: { pivot: PivotFn }, io: StageIo): Promise<PivotOutput> {
  await mkdir(input.layout.pivot, { recursive: true, mode: 0o700 });
  io.progress(`pivot: ${input.seed.url} → ${input.undercloud.api_url}`);
  const report = await deps.pivot({
    from: { url: input.seed.url, username: 'admin', password: input.seed.admin_password, projectName: 'admin' },
    to: { url: input.undercloud.api_url, token: input.undercloud.pivot_token },
    stateDir: input.layout.pivot,
    onProgress: (step, detail) => io.progress(detail ? `${step}: ${detail}` : step),
    signal: io.signal,
  });
  return { from: input.seed.url, to: input.undercloud.api_url, report: report ?? null };
}
