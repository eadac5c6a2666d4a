// devtest's stages in order, each a small module with explicit inputs and outputs (stage-*.ts),
// wired here to the settings, the injected dependencies and the outputs of the stages before it.
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import type { ImagesApi, LabApi, LabRequestInput, PivotFn } from './deps.js';
import type { DevtestLayout } from './layout.js';
import type { Stage, StageContext } from './runner.js';
import type { SeedControl } from './seed-process.js';
import { runImagesStage, type ImagesOutput } from './stage-images.js';
import { runLabStage, type LabOutput } from './stage-lab.js';
import { runOvercloudStage, type OvercloudOutput } from './stage-overcloud.js';
import { runHandoverStage } from './stage-handover.js';
import { runPivotStage, type PivotOutput } from './stage-pivot.js';
import { runReplaceStage } from './stage-replace.js';
import { runSeedStopStage } from './stage-seed-stop.js';
import { runSeedStage, type SeedOutput } from './stage-seed.js';
import { runSmokeStage, type SmokeFn } from './stage-smoke.js';
import { runUndercloudStage, type UndercloudOutput } from './stage-undercloud.js';
import { runUndercloudUpdateStage } from './stage-undercloud-update.js';

export const STAGES = [
  { name: 'lab', description: 'the virtual lab: QEMU machines behind a Redfish BMC on a private network' },
  { name: 'images', description: 'the deploy ramdisk, the managed sample image and the undercloud image (cached)' },
  { name: 'seed', description: 'the seed (bootstack serve), the lab enrolled and available, the images uploaded' },
  { name: 'undercloud', description: 'the seed deploys the undercloud (stack undercloud)' },
  { name: 'pivot', description: "the seed's records move to the undercloud" },
  { name: 'seed-stop', description: 'the seed stops; the undercloud owns the lab' },
  { name: 'handover', description: "the undercloud lists the seed's nodes, images, servers and stacks; its own machine active" },
  { name: 'overcloud', description: 'the undercloud deploys the overcloud demo (stack overcloud)' },
  { name: 'smoke', description: 'the overcloud demo answers: hostnames, a value written and read back' },
  { name: 'replace', description: 'the undercloud replaces the database machine (a stack update); the smoke test again' },
  { name: 'undercloud-update', description: 'the undercloud updates its own stack (log_level): re-rendered, restarted, every record kept' },
] as const;

export type StageName = (typeof STAGES)[number]['name'];
export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.name);
/** Stages that need root (network namespaces, QEMU, image builds, a seed with dnsmasq). */
export const ROOT_STAGES: ReadonlySet<StageName> = new Set(['lab', 'images', 'seed', 'seed-stop']);

/** The lab's request (nodes, memory, disk, cpus, firmware, accel) and the rest of devtest's settings. */
export interface DevtestSettings extends LabRequestInput {
  layout: DevtestLayout;
  /** templates/ of this checkout (undercloud.yaml, undercloud-env.yaml, overcloud-demo.yaml). */
  templatesDir: string;
  seedPort: number;
  webCount: number;
  stackTimeoutMinutes: number;
  undercloudElements: readonly string[];
}

export interface DevtestDeps {
  lab: LabApi;
  images: ImagesApi;
  clients: Clients;
  seed: SeedControl;
  pivot: PivotFn;
  smoke: SmokeFn;
}

/** The output of an earlier stage; a clear error when it is not done. */
export function need<T>(ctx: Pick<StageContext, 'outputs'>, stage: StageName, by: StageName): T {
  const v = ctx.outputs[stage];
  if (v === undefined || v === null) {
    throw new BootstackError(409, 'stage_not_done', `stage ${by} needs stage ${stage}, which is not done: run \`bootstack devtest --from ${stage}\``);
  }
  return v as T;
}

export function devtestStages(s: DevtestSettings, deps: DevtestDeps): Stage[] {
  const run: Record<StageName, Stage['run']> = {
    lab: (ctx) =>
      runLabStage({ dir: s.layout.lab, nodes: s.nodes, memoryMiB: s.memoryMiB, diskGiB: s.diskGiB, cpus: s.cpus, firmware: s.firmware, accel: s.accel }, deps, ctx),
    images: (ctx) => runImagesStage({ dir: s.layout.images, undercloudElements: s.undercloudElements }, deps, ctx),
    seed: (ctx) =>
      runSeedStage({ layout: s.layout, lab: need<LabOutput>(ctx, 'lab', 'seed'), images: need<ImagesOutput>(ctx, 'images', 'seed'), port: s.seedPort }, deps, ctx),
    undercloud: (ctx) =>
      runUndercloudStage(
        { layout: s.layout, templatesDir: s.templatesDir, lab: need<LabOutput>(ctx, 'lab', 'undercloud'), seed: need<SeedOutput>(ctx, 'seed', 'undercloud'), timeoutMinutes: s.stackTimeoutMinutes },
        deps,
        ctx,
      ),
    pivot: (ctx) =>
      runPivotStage({ layout: s.layout, seed: need<SeedOutput>(ctx, 'seed', 'pivot'), undercloud: need<UndercloudOutput>(ctx, 'undercloud', 'pivot') }, deps, ctx),
    handover: (ctx) =>
      runHandoverStage({ layout: s.layout, pivot: need<PivotOutput>(ctx, 'pivot', 'handover'), undercloud: need<UndercloudOutput>(ctx, 'undercloud', 'handover') }, deps, ctx),
    'seed-stop': (ctx) => runSeedStopStage({ layout: s.layout, undercloud: ctx.outputs.undercloud as UndercloudOutput | undefined }, deps, ctx),
    overcloud: (ctx) =>
      runOvercloudStage(
        {
          layout: s.layout,
          templatesDir: s.templatesDir,
          seed: need<SeedOutput>(ctx, 'seed', 'overcloud'),
          undercloud: need<UndercloudOutput>(ctx, 'undercloud', 'overcloud'),
          webCount: s.webCount,
          timeoutMinutes: s.stackTimeoutMinutes,
        },
        deps,
        ctx,
      ),
    smoke: (ctx) => runSmokeStage({ overcloud: need<OvercloudOutput>(ctx, 'overcloud', 'smoke') }, deps, ctx),
    replace: (ctx) => runReplaceStage({ overcloud: need<OvercloudOutput>(ctx, 'overcloud', 'replace'), timeoutMinutes: s.stackTimeoutMinutes }, deps, ctx),
    'undercloud-update': (ctx) =>
      runUndercloudUpdateStage({ layout: s.layout, undercloud: need<UndercloudOutput>(ctx, 'undercloud', 'undercloud-update'), timeoutMinutes: s.stackTimeoutMinutes }, deps, ctx),
  };
  return STAGES.map((st) => ({ name: st.name, description: st.description, run: run[st.name] }));
}
