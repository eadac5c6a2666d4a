// What an image is made from, as a hash, for the builds that are reused while their inputs are
// unchanged (the deploy ramdisk, the sample image): the files of the elements, and the builder's
// own code that a build runs. Both caches use these two, so a change to the builder (how the
// initramfs is packed, how the disk is laid out) rebuilds both, and nothing else does.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD } from '../common/paths.js';

export type Hash = ReturnType<typeof createHash>;

/** Every file below dir (sorted) as "path mode content-hash" lines; symlinks by their target. */
export function digestTree(h: Hash, dir: string, keep: (rel: string) => boolean = () => true): void {
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (keep(rel)) {
        const body = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : createHash('sha256').update(readFileSync(p)).digest('hex');
        h.update(`${rel} ${(st.mode & 0o7777).toString(8)} ${body}\n`);
      }
    }
  };
  walk(dir);
}

/**
 * Modules of this directory that a build does not run: tests, and the modules that only decide
 * whether to build (their element lists and variables are hashed by their callers). The boot
 * checker and the DIB comparison live in test/support/image-builder.
 */
const NOT_BUILD_CODE = new Set(['sample-image', 'deploy-ramdisk', 'demo-images', 'inputs-digest']);

/** Is this file (relative to the builder's directory) code that a build runs? */
export function isBuildCode(rel: string): boolean {
  if (rel.includes('testdata') || /\.test\.[jt]s$/.test(rel) || !/\.[jt]s$/.test(rel)) return false;
  return !NOT_BUILD_CODE.has(basename(rel).replace(/\.[jt]s$/, ''));
}

/**
 * The image builder's code (ts from source, js when built to dist) that a build runs. The
 * production build (dist/server) has no sources to read: it carries the same lines, digested from
 * them when it was built, so the sources and their bundle hash alike and share the caches.
 */
export function digestBuilderCode(h: Hash): void {
  if (BUILD) h.update(BUILD.builderCode);
  else digestTree(h, dirname(fileURLToPath(import.meta.url)), isBuildCode);
}
