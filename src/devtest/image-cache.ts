// An image built once and reused while its inputs are unchanged, the rule the sample image and
// the deploy ramdisk follow (src/image-builder/sample-image.ts): a stamp file beside the outputs
// records the inputs' key and each output's size; a lookup trusts the outputs only when the key
// matches and every output is there with its size. The stamp is removed before a rebuild and
// written (atomically) after it, so a failed build never leaves a stamp vouching for half-written
// files. Concurrent builders of one image wait for each other through a lock the caller provides.
// The key and the build are the caller's (src/cli/devtest.ts computes them with the image builder).
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';

export interface Stamp {
  key: string;
  outputs: Array<{ path: string; bytes: number }>;
}

export interface CachedBuild {
  /** Where the image lives (e.g. ~/.cache/bootstack/images/bootstack-undercloud). */
  dir: string;
  /** File name prefix of the outputs (and of the stamp: <name>.inputs.json). */
  name: string;
  /** What decides the image (elements, their files, the builder's code, ...), as a hash. */
  key: () => Promise<string> | string;
  /** Builds into <dir>/<name>.*, returning the outputs it wrote. */
  build: (prefix: string) => Promise<Array<{ path: string; bytes: number }>>;
  /** Takes the image's lock; returns its release. */
  lock: (path: string) => Promise<() => void>;
  force?: boolean;
  log?: (line: string) => void;
}

export interface CachedImage {
  prefix: string;
  outputs: Array<{ path: string; bytes: number }>;
  key: string;
  cached: boolean;
}

async function readStamp(path: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

export function stampValid(stamp: Stamp | undefined, key: string): stamp is Stamp {
  if (!stamp || stamp.key !== key || !Array.isArray(stamp.outputs) || stamp.outputs.length === 0) return false;
  return stamp.outputs.every((o) => existsSync(o.path) && statSync(o.path).size === o.bytes);
}

export async function cachedBuild(c: CachedBuild): Promise<CachedImage> {
  const dir = resolve(c.dir);
  await mkdir(dir, { recursive: true });
  const prefix = join(dir, c.name);
  const stampPath = `${prefix}.inputs.json`;
  const release = await c.lock(join(dir, `.${c.name}.lock`));
  try {
    const key = await c.key();
    const stamp = await readStamp(stampPath);
    if (!c.force && stampValid(stamp, key)) {
      c.log?.(`${c.name}: inputs unchanged (${key.slice(0, 12)}), reusing ${prefix}.*`);
      return { prefix, outputs: stamp.outputs, key, cached: true };
    }
    c.log?.(`${c.name}: ${c.force ? 'rebuilding as asked' : stamp ? 'inputs changed' : 'not built yet'}; building`);
    await rm(stampPath, { force: true });
    const outputs = await c.build(prefix);
    await writeFileAtomic(stampPath, JSON.stringify({ key, outputs } satisfies Stamp, null, 2) + '\n');
    return { prefix, outputs, key, cached: false };
  } finally {
    release();
  }
}
