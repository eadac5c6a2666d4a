// What devtest's stages consume from the rest of Bootstack, declared here and injected by
// src/cli/devtest.ts (devtest imports only itself and src/common): the lab, the image builds and
// the pivot. Stages run external commands (the openstack CLI, `bootstack node import`, ssh-keygen)
// through a CommandRunner, so tests give them fakes.
import type { RunOptions, RunResult } from '../common/child-process.js';

export interface LabMachine {
  name: string;
  mac: string;
}

/** The lab after `up`, as the stages after it need it. */
export interface LabInfo {
  dir: string;
  instackenv: string;
  seedInterface: string;
  seedAddress: string;
  prefixLength: number;
  cidr: string;
  namespace: string;
  bridge: string;
  accel: string;
  machines: LabMachine[];
}

export interface LabRequestInput {
  nodes: number;
  memoryMiB: number;
  diskGiB: number;
  cpus: number;
  firmware: string;
  accel: string;
}

export interface LabApi {
  up(request: LabRequestInput, o: { dir: string; onProgress: (message: string) => void }): Promise<LabInfo>;
  /** Removes the lab in `dir`; false when there was none. */
  down(o: { dir: string; onProgress?: (message: string) => void }): Promise<boolean>;
}

export interface BuiltImages {
  kernel: string;
  initramfs: string;
  /** The managed sample image (qcow2). */
  sample: string;
  /** Which were built now (the rest came from the cache). */
  built: string[];
}

export interface ImagesApi {
  /** The deploy ramdisk and the managed sample image, from the cache when their inputs are unchanged. */
  demoImages(o: { log: (line: string) => void; signal: AbortSignal }): Promise<BuiltImages>;
  /** The undercloud image from `elements` (qcow2), from the cache when its inputs are unchanged. */
  undercloudImage(o: { elements: readonly string[]; log: (line: string) => void; signal: AbortSignal }): Promise<{ qcow2: string; cached: boolean }>;
}

/** The pivot as src/pivot/run.ts is to provide it (`runPivot`). */
export interface PivotRequest {
  from: { url: string; username: string; password: string; projectName?: string };
  to: { url: string; token: string };
  stateDir: string;
  onProgress?: (step: string, detail?: string) => void;
  signal?: AbortSignal;
}
export type PivotFn = (opts: PivotRequest) => Promise<unknown>;

export type CommandRunner = (command: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;
