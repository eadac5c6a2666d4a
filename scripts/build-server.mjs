#!/usr/bin/env node
// The production build of Bootstack: the whole CLI (serve included) bundled by esbuild into one
// self-contained directory that runs with plain `node`, no tsx, no repository:
//   <out>/bootstack.mjs       the CLI, run as `node <out>/bootstack.mjs serve ...`: a small ESM
//                             loader that runs bootstack.cjs through a V8 code cache (below)
//   <out>/bootstack.cjs       the CLI's code (CommonJS, node20), the bundle itself
//   <out>/bootstack.cjs.cache V8's code cache of it, made by running the build once at build time
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

/**
 * Why the CLI is CommonJS behind a loader: V8 can cache the code it compiled for a script and
 * reuse it on the next start, but Node 20 offers that only for vm.Script (cachedData), not for ES
 * modules (module.enableCompileCache is Node 22). Parsing and compiling the 4 MiB bundle was ~15 %
 * of a start's CPU (docs/benchmarks/startup.md). The loader wraps the CommonJS bundle in a
 * function as Node's CommonJS loader would, strict like the ES module it replaces, and passes the
 * loader's own import.meta for the sources' import.meta (same directory, so same paths). A cache
 * that does not fit (another V8, other flags, a changed bundle) is rejected by V8 and the code is
 * compiled as without one. BOOTSTACK_WRITE_CODE_CACHE=1 writes the cache when the process exits,
 * with every function compiled by then; the build does that with `serve` until it answers.
 */
const LOADER = `#!/usr/bin/env node
// Bootstack's CLI, made by scripts/build-server.mjs: runs bootstack.cjs with V8's code cache.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'bootstack.cjs');
// V8 takes a cache only from a process with the same flags: one file per set of Node options.
const options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\\s+/)].filter(Boolean).sort().join(' ');
const cacheFile = join(dir, options ? 'bootstack.cjs.' + createHash('sha256').update(options).digest('hex').slice(0, 12) + '.cache' : 'bootstack.cjs.cache');
const writeCache = process.env.BOOTSTACK_WRITE_CODE_CACHE === '1';
let cachedData;
try {
  if (!writeCache) cachedData = readFileSync(cacheFile);
} catch {
  // No cache: V8 compiles the code as it runs.
}
// The bundle is ASCII only (the build makes it so), so latin1 is the cheapest exact decoding.
const source = readFileSync(file, 'latin1');
const script = new vm.Script('(function (exports, require, module, __filename, __dirname, __bootstackImportMeta) {"use strict";' + source + '\\n})', {
  // V8 (Node 20) keeps the name a cache was made under for the code it gives: made as plain
  // bootstack.cjs, stack traces name the file, not the directory the build was made in.
  filename: writeCache ? 'bootstack.cjs' : file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
if (writeCache) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dir, import.meta);
`;

/**
 * The Node options caches are made for: none, and those of bootstack.service
 * (elements/bootstack-server). A start with other options compiles without a cache.
 */
const CACHED_NODE_OPTIONS = ['', '--max-semi-space-size=2'];

/** The loader's name for the cache of these options (the same rule as in LOADER). */
function cacheName(options) {
  const key = options.split(/\s+/).filter(Boolean).sort().join(' ');
  return key ? `bootstack.cjs.${createHash('sha256').update(key).digest('hex').slice(0, 12)}.cache` : 'bootstack.cjs.cache';
}

/** How long the build's own `serve` may take to answer before the build gives up. */
const CACHE_SERVE_TIMEOUT_MS = 120_000;

/**
 * Runs `serve` from the new build until it answers, so the loader writes the code cache. The
 * process is stopped however this ends (answered, failed, timed out): a build leaves no server.
 */
async function writeCodeCache(work, nodeOptions) {
  const state = join(work, '.cache-state');
  const env = { ...process.env, BOOTSTACK_WRITE_CODE_CACHE: '1', NODE_OPTIONS: nodeOptions };
  if (!nodeOptions) delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [join(work, 'bootstack.mjs'), 'serve', '--state-dir', state, '--port', '0', '--host', '127.0.0.1'], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((res) => child.once('exit', (code) => res(code)));
  let timer;
  try {
    const url = await new Promise((res, rej) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /serving on (\S+)/.exec(out);
        if (m) res(m[1]);
      });
      child.once('exit', (code) => rej(new BuildError(`the build's serve exited (${code}) before serving:\n${err}`)));
      timer = setTimeout(() => rej(new BuildError(`the build's serve did not answer within ${CACHE_SERVE_TIMEOUT_MS / 1000} s:\n${err}`)), CACHE_SERVE_TIMEOUT_MS);
    });
    // One answered request: the functions that answer it are compiled, and cached, too.
    await fetch(`${url}/identity/v3`).then((r) => r.arrayBuffer());
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) fail(`the build's serve exited with ${code} after SIGTERM:\n${err}`);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(state, { recursive: true, force: true });
  }
  if (!existsSync(join(work, cacheName(nodeOptions)))) fail(`the code cache for NODE_OPTIONS='${nodeOptions}' was not written`);
}

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
        // CommonJS has no top-level await: a rejection is an unhandled one, which ends the
        // process with the error and status 1, as the awaited one did.
        contents: "import { main } from './src/cli/main.ts';\nvoid main(process.argv);\n",
        resolveDir: repo,
        loader: 'ts',
      }));
    },
  };
  await Promise.all([
    agents,
    build({
      ...common,
      format: 'cjs',
      // The loader gives require, __filename, __dirname and its import.meta (LOADER above).
      banner: undefined,
      define: { ...define, 'import.meta': '__bootstackImportMeta' },
      entryPoints: { bootstack: 'bootstack:cli' },
      outdir: work,
      outExtension: { '.js': '.cjs' },
      plugins: [cliEntry],
    }),
    build({
      ...common,
      entryPoints: { 'bmc-main': join(repo, 'src', 'lab', 'bmc-main.ts') },
      outdir: work,
      outExtension: { '.js': '.mjs' },
    }),
  ]);
  for (const name of ['bootstack.cjs', 'bmc-main.mjs']) asciiOnly(join(work, name));
  writeFileSync(join(work, 'bootstack.mjs'), LOADER);
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

  // One after the other: each is a start of the server, timed by nothing but the build.
  for (const options of CACHED_NODE_OPTIONS) await writeCodeCache(work, options);
  // The caches are made from the rest (and need not come out byte for byte the same each time).
  const inputs = treeDigest(work, new Set(['build.json', ...CACHED_NODE_OPTIONS.map(cacheName)]));
  const info = { name: pkg.name, version: pkg.version, node: process.version, modules: process.versions.modules, platform: process.platform, arch: process.arch, inputs };
  writeFileSync(join(work, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);

  const size = (statSync(join(work, 'bootstack.cjs')).size / 2 ** 20).toFixed(1);
  const cacheSize = (statSync(join(work, 'bootstack.cjs.cache')).size / 2 ** 20).toFixed(1);
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
    process.stdout.write(`${where}: built bootstack.mjs (loader) and bootstack.cjs (${size} MiB, code caches ${cacheSize} MiB each) for Node ${process.version} in ${ms} ms\n`);
  }
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  process.stderr.write(`build-server: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
