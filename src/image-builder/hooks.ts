// Hooks as diskimage-builder runs them: each element's phase directories are merged into one
// directory per phase (a hook name that two elements both ship is an error), and a phase runs its
// executable files whose names match ^[0-9A-Za-z_-]+$ in `LANG=C sort -n` order. environment.d
// files (any name of [0-9A-Za-z_.-]) are sourced before every phase's hooks, in byte order.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../common/errors.js';
import type { Element } from './elements.js';
import { isDir, isExecutable, isFile, listDir } from './fs-checks.js';
import { sortN } from './sort-n.js';

export interface Phase {
  name: string;
  /** True when diskimage-builder runs this phase's hooks inside the image's chroot. */
  inChroot: boolean;
}

/** diskimage-builder's phase order (disk-image-create), and where each runs. */
export const PHASES: readonly Phase[] = [
  { name: 'root.d', inChroot: false },
  { name: 'extra-data.d', inChroot: false },
  { name: 'pre-install.d', inChroot: true },
  { name: 'install.d', inChroot: true },
  { name: 'post-install.d', inChroot: true },
  { name: 'post-root.d', inChroot: false },
  { name: 'block-device.d', inChroot: false },
  { name: 'pre-finalise.d', inChroot: false },
  { name: 'finalise.d', inChroot: true },
  { name: 'cleanup.d', inChroot: false },
];

export interface Hook {
  phase: string;
  name: string;
  element: string;
  path: string;
}

const HOOK_NAME = /^[0-9A-Za-z_-]+$/;
const ENV_NAME = /^[0-9A-Za-z_.-]+$/;

export interface HookSet {
  /** The merged hooks directory (diskimage-builder's TMP_HOOKS_PATH). */
  dir: string;
  /** "install.d/50-foo" → the element that shipped it. */
  origin: Map<string, string>;
}

/**
 * Copies every element's sub-directories (except tests/ and __pycache__/) into one directory, the
 * way diskimage-builder builds TMP_HOOKS_PATH: symlinks are copied as symlinks (so one that points
 * outside its element dangles and is not run), sub-directories merge, and a file name that two
 * elements both ship is an error.
 */
export function mergeHooks(elements: readonly Element[], dest: string): HookSet {
  const origin = new Map<string, string>();
  mkdirSync(dest, { recursive: true });
  for (const el of elements) {
    for (const dir of listDir(el.path)) {
      if (dir === 'tests' || dir === '__pycache__') continue;
      const full = join(el.path, dir);
      if (!isDir(full)) continue;
      const target = join(dest, dir);
      mkdirSync(target, { recursive: true });
      for (const name of listDir(full).filter((n) => !n.startsWith('.'))) {
        if (isFile(join(target, name))) {
          throw new ValidationError(
            `There is a duplicated hook in your elements: ${dir}/${name} is in both ${origin.get(`${dir}/${name}`) ?? '?'} and ${el.name}`,
            { file: join(full, name) },
          );
        }
        cpSync(join(full, name), join(target, name), { recursive: true, verbatimSymlinks: true, force: true });
        origin.set(`${dir}/${name}`, el.name);
      }
    }
  }
  return { dir: dest, origin };
}

function sortedHooks(set: HookSet, phase: string, pattern: RegExp, executable: boolean): Hook[] {
  const dir = join(set.dir, phase);
  return listDir(dir)
    .filter((n) => pattern.test(n) && isFile(join(dir, n)) && (!executable || isExecutable(join(dir, n))))
    .map((name) => ({ phase, name, element: set.origin.get(`${phase}/${name}`) ?? '?', path: join(dir, name) }));
}

/** The hooks a phase runs, in order. */
export function phaseHooks(set: HookSet, phase: string): Hook[] {
  const hooks = sortedHooks(set, phase, HOOK_NAME, true);
  const byName = new Map(hooks.map((h) => [h.name, h]));
  return sortN([...byName.keys()]).map((n) => byName.get(n)!);
}

/** Phase directories present in the merged set (any "*.d" except environment.d). */
export function phaseDirs(set: HookSet): string[] {
  return listDir(set.dir).filter((d) => d.endsWith('.d') && d !== 'environment.d' && isDir(join(set.dir, d)));
}

/** environment.d files, in the order they are sourced. */
export function environmentFiles(set: HookSet): Hook[] {
  // dib-run-parts sorts the full paths with `sort -n`; they share a prefix that starts with '/'
  // (no number), so the order is plain byte order of the names.
  return sortedHooks(set, 'environment.d', ENV_NAME, false).sort((a, b) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
}
