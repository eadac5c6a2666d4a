// `bootstack devtest clean` (and the end of a run without --keep): stops what devtest started — the
// seed by its pid file, only if the pid still runs that seed's command line — takes the lab down
// (the undercloud's and the overcloud's machines with it), and removes what devtest made in its
// directory, then the directory if nothing else is in it. The image cache stays.
import { readdir, rm, rmdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { LabApi } from './deps.js';
import type { DevtestLayout } from './layout.js';
import type { SeedControl, StopResult } from './seed-process.js';
import { seedFiles } from './stage-seed.js';

export interface CleanResult {
  dir: string;
  seed: StopResult;
  lab: 'removed' | 'none';
  /** Whether the directory itself is gone (other files in it are kept, and so is it). */
  dirRemoved: boolean;
  kept: string[];
}

export async function cleanDevtest(layout: DevtestLayout, deps: { lab: LabApi; seed: SeedControl }, progress: (m: string) => void = () => undefined): Promise<CleanResult> {
  const seed = existsSync(layout.seedDir) ? await deps.seed.stop(seedFiles(layout)) : 'not running';
  if (seed !== 'not running') progress(`the seed ${seed === 'killed' ? 'was killed (it ignored SIGTERM for 10 s)' : 'stopped'}`);
  const lab = (await deps.lab.down({ dir: layout.lab, onProgress: progress })) ? 'removed' : 'none';
  if (lab === 'removed') progress(`the lab in ${layout.lab} is down`);
  for (const path of layout.made()) await rm(path, { recursive: true, force: true });
  let kept: string[] = [];
  let dirRemoved = false;
  try {
    kept = await readdir(layout.dir);
    if (kept.length === 0) {
      await rmdir(layout.dir);
      dirRemoved = true;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    dirRemoved = true;
  }
  return { dir: layout.dir, seed, lab, dirRemoved, kept };
}
