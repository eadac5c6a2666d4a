// `bootstack devtest`'s public API for the command line (src/cli/devtest.ts wires the lab, the
// image builds and the pivot into it; see docs/devtest.md).
export { STAGES, STAGE_NAMES, ROOT_STAGES, devtestStages, need, type StageName, type DevtestSettings, type DevtestDeps } from './pipeline.js';
export { runStages, selectStages, UsageError, type Stage, type StageContext, type RunSummary, type StageSummary } from './runner.js';
export { runDevtest, reachLines, type DevtestSummary } from './devtest.js';
export { cleanDevtest, type CleanResult } from './clean.js';
export { DevtestLayout, defaultDevtestDir } from './layout.js';
export { readState, writeState, type DevtestState } from './state.js';
export { defaultReporter, LineReporter, formatSeconds, type Reporter } from './progress.js';
export { Clients, lineSplitter } from './clients.js';
export { seedProcess } from './seed-process.js';
export { cachedBuild } from './image-cache.js';
export { smokeTest, SmokeError } from './smoke.js';
export { DEFAULT_UNDERCLOUD_ELEMENTS, UNDERCLOUD_IMAGE_NAME, SAMPLE_IMAGE_NAME } from './stage-images.js';
export { machinesNeeded } from './stage-lab.js';
export type { LabApi, ImagesApi, PivotFn, PivotRequest, CommandRunner } from './deps.js';
