// The two images the lab demo, the acceptance test and the deploy benchmark need: the deploy
// ramdisk (kernel + initramfs with the Node agent) and the Debian sample image (raw + qcow2).
// Each is built once and reused while its inputs are unchanged (see deploy-ramdisk.ts and
// sample-image.ts); a caller that only needs the paths pays a checksum check, not a build.
import { buildDeployRamdisk, defaultDeployRamdiskDir } from './deploy-ramdisk.js';
import { buildSampleImage, defaultSampleImageDir } from './sample-image.js';

export interface DemoImages {
  kernel: string;
  initramfs: string;
  raw: string;
  qcow2: string;
  /** Which of the two were built now (the rest came from the cache). */
  built: Array<'deploy-ramdisk' | 'sample' | 'sample-cloud-init'>;
  seconds: number;
}

export async function ensureDemoImages(o: { log?: (line: string) => void; signal?: AbortSignal; force?: boolean } = {}): Promise<DemoImages> {
  const started = Date.now();
  // One after the other: both builds are mostly one core of package installs and compression,
  // and the machines this runs on have two.
  const ramdisk = await buildDeployRamdisk(defaultDeployRamdiskDir(), { log: o.log, signal: o.signal, force: o.force });
  const sample = await buildSampleImage(defaultSampleImageDir(), { log: o.log, signal: o.signal, force: o.force });
  const built: DemoImages['built'] = [];
  if (ramdisk.built) built.push('deploy-ramdisk');
  if (!sample.cached) built.push('sample');
  return { kernel: ramdisk.kernel, initramfs: ramdisk.initramfs, raw: sample.raw, qcow2: sample.qcow2, built, seconds: (Date.now() - started) / 1000 };
}
