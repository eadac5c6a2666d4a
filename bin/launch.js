// How the commands in bin/ start Bootstack from a checkout: the production build
// (dist/server/bootstack.mjs, made by `npm run build`) when there is one and no source file is
// newer than it, else the TypeScript sources through tsx (no build step needed). A stale build is
// never run: someone editing src/ gets their edit. BOOTSTACK_FROM_SOURCE=1 always runs the sources.
// Prints nothing: callers parse stdout.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const SERVER_DIR = join(REPO, 'dist', 'server');
/** Touched by every build, also when the content did not change (scripts/build-server.mjs). */
export const BUILD_STAMP = join(SERVER_DIR, 'build.json');

/** What a build is made from: the trees walked, and single files. */
const SOURCE_TREES = ['src', 'elements', 'templates'];
const SOURCE_FILES = ['package.json', 'package-lock.json', 'node_modules/.package-lock.json', 'scripts/build-server.mjs', 'scripts/bundle-agents.mjs'];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** The newest modification time (ms) of anything the build is made from. */
export function newestSourceMtime(repo = REPO) {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, mtime(p));
    }
    // A removed or renamed file shows only in its directory's time.
    newest = Math.max(newest, mtime(dir));
  };
  for (const t of SOURCE_TREES) walk(join(repo, t));
  for (const f of SOURCE_FILES) newest = Math.max(newest, mtime(join(repo, f)));
  return newest;
}

/**
 * The build to run, or undefined: none, made by another Node (the native addon's ABI), older than
 * the sources, or the sources are asked for.
 */
export function currentBuild(repo = REPO) {
  if (process.env.BOOTSTACK_FROM_SOURCE === '1') return undefined;
  const stamp = join(repo, 'dist', 'server', 'build.json');
  let info;
  try {
    info = JSON.parse(readFileSync(stamp, 'utf8'));
  } catch {
    return undefined;
  }
  if (info.node !== process.version) return undefined;
  if (newestSourceMtime(repo) > mtime(stamp)) return undefined;
  return join(repo, 'dist', 'server', 'bootstack.mjs');
}

/** Runs the bootstack CLI with these arguments (after `node <script>`). */
export async function launch(args) {
  const bundle = currentBuild();
  if (bundle) {
    // The bundle runs main(process.argv) when it is imported.
    process.argv.splice(2, process.argv.length, ...args);
    await import(pathToFileURL(bundle).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  await main([process.argv[0], process.argv[1], ...args]);
}
