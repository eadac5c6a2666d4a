#!/usr/bin/env node
// The production build of Bootstack: the whole CLI (serve included) bundled by esbuild into one
// self-contained directory that runs with plain `node`, no tsx, no repository:
//   <out>/bootstack.mjs       the CLI (ESM, node20), run as `node <out>/bootstack.mjs serve ...`
//   <out>/bmc-main.mjs        the lab's detached Redfish BMC, which `lab up` starts as a process
//   <out>/*.mjs.map, *.mjs.LEGAL.txt   source maps (node --enable-source-maps), licence notices
//   <out>/package.json        type module, the version
//   <out>/node_modules/       only what cannot be bundled: better-sqlite3 (a native addon) and the
//                             modules it requires at run time (bindings → file-uri-to-path)
//   <out>/elements/ templates/ agents/   the data the code finds beside itself (src/common/paths.ts)
//   <out>/build.json          version, Node ABI, and a hash of everything above
// Copy the directory anywhere (the bootstack-server element installs it in images).
//   node scripts/build-server.mjs [--outdir DIR] [--force]      (default dist/server)
// Nothing is done when no source is newer than the build (bin/launch.js says which files count;
// --force builds anyway). The directory is replaced whole and only when its content changes
// (other processes may be running from it): the new tree is written beside it and renamed into
// place. build.json's time is set to when this build started reading the sources, so a file
// edited during the build still makes it stale.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newestSourceMtime } from '../bin/launch.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--outdir');
const outdir = i > 0 ? resolve(process.argv[i + 1]) : join(repo, 'dist', 'server');
const force = process.argv.includes('--force');
const started = performance.now();
const startedAt = new Date();
const where = relative(process.cwd(), outdir) || '.';

/**
 * The packages copied into <out>/node_modules, with the files each needs at run time.
 * better-sqlite3's lib/ requires only 'bindings' (its other dependency, prebuild-install, runs at
 * npm install time); bindings requires 'file-uri-to-path'.
 */
const NATIVE_PACKAGES = {
  'better-sqlite3': ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'],
  bindings: ['package.json', 'LICENSE.md', 'bindings.js'],
  'file-uri-to-path': ['package.json', 'LICENSE', 'index.js'],
};
/** Left to the bundle's require() at run time: the native addon, and pg's optional native client. */
const EXTERNAL = ['better-sqlite3', 'pg-native'];

// Bundled CommonJS dependencies call require() for Node's modules, and a few read __dirname.
const BANNER = [
  '#!/usr/bin/env node',
  "import { createRequire as __bootstackCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bootstackFileURLToPath } from 'node:url';",
  "import { dirname as __bootstackDirname } from 'node:path';",
  'const require = __bootstackCreateRequire(import.meta.url);',
  'const __filename = __bootstackFileURLToPath(import.meta.url);',
  'const __dirname = __bootstackDirname(__filename);',
].join('\n');

class BuildError extends Error {}
function fail(message) {
  throw new BuildError(message);
}

/** Every file below dir as sorted "path mode sha256" lines: the build's identity. */
function treeDigest(dir, skip) {
  const h = createHash('sha256');
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      if (skip.has(rel)) continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(`${rel} ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}\n`);
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** Plain-ASCII stand-ins for the non-ASCII characters that the bundled comments use most. */
const ASCII = { '\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"', '\u2013': '-', '\u2014': '-', '\u2192': '->', '\u2190': '<-', '\u2026': '...', '\u00a7': 'S', '\u00d7': 'x', '\u2264': '<=', '\u2265': '>=' };

/**
 * Makes a bundle pure ASCII. esbuild escapes every non-ASCII character of the code (charset
 * ascii) but copies comments as they are, and one "’" in a comment makes V8 hold the whole 5 MiB
 * source as a two-byte string: ~6 MiB more RSS and a slower parse. Only comments can change here.
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  if (!/[^\x00-\x7f]/.test(text)) return;
  writeFileSync(file, text.replace(/[^\x00-\x7f]/g, (c) => ASCII[c] ?? '?'));
}

/**
 * The lines src/image-builder/inputs-digest.ts hashes for the builder's code, computed here with
 * that module's own functions, so the bundle (which has no sources to read) hashes the same.
 */
async function builderCodeLines(work) {
  const helper = join(work, 'inputs-digest.mjs');
  await build({
    entryPoints: [join(repo, 'src', 'image-builder', 'inputs-digest.ts')],
    outfile: helper,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  const { digestTree, isBuildCode } = await import(pathToFileURL(helper).href);
  let lines = '';
  digestTree({ update: (s) => (lines += s) }, join(repo, 'src', 'image-builder'), isBuildCode);
  rmSync(helper);
  return lines;
}

/** Runs a command, resolving to its stderr; rejects with it when the command fails. */
function runQuiet(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(err) : reject(new BuildError(`${basename(args[0] ?? cmd)} failed (${code}):\n${err}`))));
  });
}

function readInfo(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

const existing = readInfo(outdir);
if (!force && existing?.node === process.version && newestSourceMtime(repo) <= statSync(join(outdir, 'build.json')).mtimeMs) {
  process.stdout.write(`${where}: up to date\n`);
  process.exit(0);
}

const { build } = await import('esbuild');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const work = join(dirname(outdir), `.${basename(outdir)}.tmp-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
try {
  const define = { __BOOTSTACK_BUILD__: JSON.stringify({ builderCode: await builderCodeLines(work) }) };
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: EXTERNAL,
    define,
    banner: { js: BANNER },
    // Licence notices of the bundled packages go to <name>.mjs.LEGAL.txt, kept whole.
    legalComments: 'external',
    // Without comments and indentation the source V8 keeps is a third smaller (less RSS, faster
    // parse); names are kept, and <name>.mjs.map gives file:line (node --enable-source-maps).
    minifyWhitespace: true,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  };
  // The agents bundle in a process of their own, beside the two esbuild builds.
  const agents = runQuiet(process.execPath, [join(repo, 'scripts', 'bundle-agents.mjs'), '--outdir', join(work, 'agents')]);
  // One esbuild run for both programs (each file is parsed once); the CLI's entry is two lines
  // that exist only here: src/cli/main.ts exports main() without calling it.
  const cliEntry = {
    name: 'cli-entry',
    setup(b) {
      b.onResolve({ filter: /^bootstack:cli$/ }, () => ({ path: 'cli', namespace: 'bootstack' }));
      b.onLoad({ filter: /.*/, namespace: 'bootstack' }, () => ({
        contents: "import { main } from './src/cli/main.ts';\nawait main(process.argv);\n",
        resolveDir: repo,
        loader: 'ts',
      }));
    },
  };
  await Promise.all([
    agents,
    build({
      ...common,
      entryPoints: { bootstack: 'bootstack:cli', 'bmc-main': join(repo, 'src', 'lab', 'bmc-main.ts') },
      outdir: work,
      outExtension: { '.js': '.mjs' },
      plugins: [cliEntry],
    }),
  ]);
  for (const name of ['bootstack.mjs', 'bmc-main.mjs']) asciiOnly(join(work, name));
  chmodSync(join(work, 'bootstack.mjs'), 0o755);
  writeFileSync(
    join(work, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, private: true, type: 'module', engines: pkg.engines, bin: { bootstack: 'bootstack.mjs' } }, null, 2)}\n`,
  );

  for (const [name, files] of Object.entries(NATIVE_PACKAGES)) {
    const from = join(repo, 'node_modules', name);
    for (const f of files) {
      if (!existsSync(join(from, f))) fail(`${join(from, f)} is missing: run 'npm ci' (better-sqlite3 builds its addon at install time)`);
      cpSync(join(from, f), join(work, 'node_modules', name, f), { recursive: true });
    }
  }
  // The addon must load from the copy, with nothing from the repository's node_modules.
  const probe = spawnSync(process.execPath, ['-e', "const D = require(process.argv[1]); new D(':memory:').prepare('select 1').get();", join(work, 'node_modules', 'better-sqlite3')], {
    cwd: work,
    encoding: 'utf8',
  });
  if (probe.status !== 0) fail(`the copied better-sqlite3 does not load:\n${probe.stderr}`);

  for (const dir of ['elements', 'templates']) cpSync(join(repo, dir), join(work, dir), { recursive: true, verbatimSymlinks: true });

  const inputs = treeDigest(work, new Set(['build.json']));
  const info = { name: pkg.name, version: pkg.version, node: process.version, modules: process.versions.modules, platform: process.platform, arch: process.arch, inputs };
  writeFileSync(join(work, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);

  const size = (statSync(join(work, 'bootstack.mjs')).size / 2 ** 20).toFixed(1);
  const ms = Math.round(performance.now() - started);
  utimesSync(join(work, 'build.json'), startedAt, startedAt);
  const current = readInfo(outdir);
  if (current?.inputs === inputs && current.node === info.node) {
    utimesSync(join(outdir, 'build.json'), startedAt, startedAt);
    process.stdout.write(`${where}: unchanged (${ms} ms)\n`);
  } else {
    // Swap: the old tree out of the way, the new one in; a process starting in between finds no
    // build and bin/bootstack.js runs the sources.
    const old = `${work}.old`;
    if (existsSync(outdir)) renameSync(outdir, old);
    try {
      renameSync(work, outdir);
    } catch (err) {
      // Another build of the same sources put its tree there first: keep that one.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    }
    rmSync(old, { recursive: true, force: true });
    process.stdout.write(`${where}: built bootstack.mjs (${size} MiB) for Node ${process.version} in ${ms} ms\n`);
  }
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  process.stderr.write(`build-server: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
