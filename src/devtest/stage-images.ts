// Stage `images`: the deploy ramdisk, the managed sample image (the overcloud demo's machines) and
// the undercloud image, each built once and then taken from the image cache while its inputs are
// unchanged; <dir>/images links to them.
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImagesApi } from './deps.js';
import type { StageIo } from './stage-io.js';

/**
 * The undercloud image's elements: `bootstack-undercloud` brings the rest (the managed sample
 * image's elements and the server, elements/bootstack-undercloud/element-deps).
 */
export const DEFAULT_UNDERCLOUD_ELEMENTS: readonly string[] = ['bootstack-undercloud'];

/** The images' names in the clouds (the overcloud demo's image parameter defaults to `sample`). */
export const SAMPLE_IMAGE_NAME = 'sample';
export const UNDERCLOUD_IMAGE_NAME = 'bootstack-undercloud';

export interface ImagesStageInput {
  /** <dir>/images */
  dir: string;
  undercloudElements: readonly string[];
}

export interface ImagesOutput {
  /** Links in <dir>/images. */
  kernel: string;
  initramfs: string;
  sample: string;
  undercloud: string;
  built: string[];
}

async function link(target: string, path: string): Promise<string> {
  await rm(path, { force: true });
  await symlink(target, path);
  return path;
}

export async function runImagesStage(input: ImagesStageInput, deps: { images: ImagesApi }, io: StageIo): Promise<ImagesOutput> {
  await mkdir(input.dir, { recursive: true });
  io.progress('the deploy ramdisk and the managed sample image (bootstack image samples)');
  const demo = await deps.images.demoImages({ log: io.progress, signal: io.signal });
  io.progress(`the undercloud image from ${input.undercloudElements.join(' ')}`);
  const uc = await deps.images.undercloudImage({ elements: input.undercloudElements, log: io.progress, signal: io.signal });
  const built = [...demo.built, ...(uc.cached ? [] : [UNDERCLOUD_IMAGE_NAME])];
  io.progress(built.length ? `built now: ${built.join(', ')}` : 'all from the cache');
  return {
    kernel: await link(demo.kernel, join(input.dir, 'deploy.kernel')),
    initramfs: await link(demo.initramfs, join(input.dir, 'deploy.initramfs')),
    sample: await link(demo.sample, join(input.dir, `${SAMPLE_IMAGE_NAME}.qcow2`)),
    undercloud: await link(uc.qcow2, join(input.dir, `${UNDERCLOUD_IMAGE_NAME}.qcow2`)),
    built,
  };
}
