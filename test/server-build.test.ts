// The production build (scripts/build-server.mjs): built into a scratch directory, copied somewhere
// else (so nothing can come from the repository), it answers --version and --help, serves the
// identity API, loads its native addon from its own node_modules, finds its elements beside itself,
// starts its second program (the lab BMC), and hashes the image builder's code as the sources do.
// Then the bootstack-server element installs it into a stand-in image root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../src/common/child-process.js';
import { BUILTIN_ELEMENTS } from '../src/image-builder/build.js';
import { digestTree, isBuildCode, type Hash } from '../src/image-builder/inputs-digest.js';

const REPO = resolve(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const HOOK = join(BUILTIN_ELEMENTS, 'bootstack-server', 'extra-data.d', '50-bootstack-server');

let work: string;
let built: string;
let copy: string;
/** An environment with nothing pointing back at the repository. */
let env: NodeJS.ProcessEnv;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'bootstack-server-build-'));
  built = join(work, 'build', 'server');
  const out = await run(process.execPath, [join(REPO, 'scripts', 'build-server.mjs'), '--outdir', built, '--force'], { cwd: REPO, timeoutMs: 180_000 });
  assert.match(out.stdout, /built bootstack\.mjs/);
  copy = join(work, 'elsewhere', 'bootstack');
  cpSync(built, copy, { recursive: true });
  env = { PATH: process.env.PATH, HOME: work, BOOTSTACK_LOG_LEVEL: 'warn' };
});
after(() => rmSync(work, { recursive: true, force: true }));

test('the build directory: the bundles, package.json, build.json and only the native addon with what it requires', () => {
  for (const f of ['bootstack.mjs', 'bootstack.cjs', 'bmc-main.mjs', 'package.json', 'build.json']) assert.ok(existsSync(join(copy, f)), f);
  // V8 code caches of bootstack.cjs: for Node's defaults and for bootstack.service's NODE_OPTIONS.
  assert.equal(readdirSync(copy).filter((f) => f.endsWith('.cache')).length, 2);
  for (const d of ['elements', 'templates', 'agents']) assert.ok(statSync(join(copy, d)).isDirectory(), d);
  assert.ok(existsSync(join(copy, 'agents', 'deploy-agent')));
  assert.deepEqual(readdirSync(join(copy, 'node_modules')).sort(), ['better-sqlite3', 'bindings', 'file-uri-to-path']);
  assert.ok(existsSync(join(copy, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')));
  const pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { type: string; version: string };
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.version, VERSION);
  const info = JSON.parse(readFileSync(join(copy, 'build.json'), 'utf8')) as { node: string; modules: string; inputs: string };
  assert.equal(info.node, process.version);
  assert.equal(info.modules, process.versions.modules);
  assert.match(info.inputs, /^[0-9a-f]{64}$/);
  // One "’" in a comment would make V8 keep the whole source as UTF-16.
  assert.ok(!/[^\x00-\x7f]/.test(readFileSync(join(copy, 'bootstack.cjs'), 'latin1')), 'bootstack.cjs is ASCII');
});

test('the copy answers --version and --help without the repository', async () => {
  const version = await run(process.execPath, [join(copy, 'bootstack.mjs'), '--version'], { cwd: work, env });
  assert.equal(version.stdout, `${VERSION}\n`);
  assert.equal((await run(process.execPath, [join(copy, 'bootstack.mjs'), 'version'], { cwd: work, env })).stdout, `bootstack ${VERSION}\n`);
  const help = await run(process.execPath, [join(copy, 'bootstack.mjs'), '--help'], { cwd: work, env });
  for (const cmd of ['serve', 'image', 'lab', 'node', 'disk-image-create']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`), cmd);
  assert.match((await run(process.execPath, [join(copy, 'bootstack.mjs'), 'serve', '--help'], { cwd: work, env })).stdout, /--state-dir/);
});

test('the copy serves: GET /identity/v3 answers 200, and SQLite comes from the copy', async () => {
  const stateDir = join(work, 'state');
  const child = spawn(process.execPath, [join(copy, 'bootstack.mjs'), 'serve', '--state-dir', stateDir, '--port', '0', '--host', '127.0.0.1'], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  try {
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const m = /serving on (\S+)/.exec(out);
        if (m) res(m[1]!);
      });
      child.once('exit', (code) => rej(new Error(`serve exited (${code}):\n${err}`)));
    });
    const res = await fetch(`${url}/identity/v3`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: { id: string } };
    assert.match(body.version.id, /^v3/);
    // The addon the process loaded is the copy's; nothing is mapped from the repository.
    const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
    assert.ok(maps.includes(join(copy, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')), 'addon from the copy');
    assert.ok(!maps.includes(`${REPO}/`), 'nothing mapped from the repository');
    assert.ok(existsSync(join(stateDir, 'bootstack.sqlite')));
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
  assert.equal(child.exitCode, 0, err);
});

test('the copy finds its elements beside itself (an element only the copy has resolves)', async (t) => {
  const probe = join(copy, 'elements', 'probe-only-in-copy');
  mkdirSync(probe);
  writeFileSync(join(probe, 'element-deps'), 'vm\n');
  t.after(() => rmSync(probe, { recursive: true, force: true }));
  const out = join(work, 'image-out', 'x');
  // It gets as far as the element set: found, with its dependency, and no operating system.
  const r = await run(process.execPath, [join(copy, 'bootstack.mjs'), 'disk-image-create', '--offline', '-o', out, 'probe-only-in-copy'], { cwd: work, env, allowFailure: true });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /operating system/);
  const missing = await run(process.execPath, [join(copy, 'bootstack.mjs'), 'disk-image-create', '--offline', '-o', out, 'no-such-element'], { cwd: work, env, allowFailure: true });
  assert.match(missing.stderr, /Element 'no-such-element' not found/);
});

test('bmc-main.mjs, the lab BMC the CLI starts as its own process, runs from the copy', async () => {
  const r = await run(process.execPath, [join(copy, 'bmc-main.mjs')], { cwd: work, env, allowFailure: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /usage: bmc-main <lab-dir>/);
  const none = await run(process.execPath, [join(copy, 'bmc-main.mjs'), join(work, 'no-lab')], { cwd: work, env, allowFailure: true });
  assert.match(none.stderr, /no lab\.json/);
});

test("the bundle hashes the image builder's code as the sources do (the image caches are shared)", () => {
  const text = readFileSync(join(copy, 'bootstack.cjs'), 'utf8');
  const m = /builderCode:("(?:[^"\\]|\\.)*")/.exec(text);
  assert.ok(m, 'the build embeds the builder code digest');
  const embedded = JSON.parse(m[1]!) as string;
  let lines = '';
  digestTree({ update: (s: string) => (lines += s) } as unknown as Hash, join(REPO, 'src', 'image-builder'), isBuildCode);
  assert.equal(embedded, lines);
  assert.match(embedded, /^build\.ts \d+ [0-9a-f]{64}$/m);
});

test('build-server: a second build of unchanged sources says so and leaves the tree alone', async () => {
  const before = readFileSync(join(built, 'build.json'), 'utf8');
  const again = await run(process.execPath, [join(REPO, 'scripts', 'build-server.mjs'), '--outdir', built], { cwd: REPO, timeoutMs: 180_000 });
  // "up to date" from file times, or "unchanged" when some source was touched meanwhile; a
  // concurrent edit of the sources (other work in this checkout) may make it "built".
  assert.match(again.stdout, /up to date|unchanged|built/);
  if (!/built/.test(again.stdout)) assert.equal(readFileSync(join(built, 'build.json'), 'utf8'), before);
});

// ---------- the bootstack-server element ----------

function hookEnv(mnt: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, TMP_MOUNT_PATH: mnt, ...extra };
}

test('bootstack-server hook: a clear failure without a build, or with a Node of another ABI', async () => {
  const mnt = join(work, 'mnt-fail');
  mkdirSync(mnt);
  const missing = await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: join(work, 'nope'), DIB_BOOTSTACK_NODE: process.execPath }), allowFailure: true });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no server build at .*nope — run 'npm run build' first, or set DIB_BOOTSTACK_SERVER_DIR/);
  // A "node" that says it is Node 20 with another module ABI (what Debian 12's Node 18 would fail on sooner).
  const fake = join(work, 'fake-node');
  writeFileSync(
    fake,
    `#!/bin/sh\nif [ "$1" = -p ]; then echo "20.0.0 999 x64"; else exec ${JSON.stringify(process.execPath)} "$@"; fi\n`,
  );
  chmodSync(fake, 0o755);
  const abi = await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: built, DIB_BOOTSTACK_NODE: fake }), allowFailure: true });
  assert.equal(abi.code, 1);
  assert.match(abi.stderr, /ABI 999\) is not the Node the build .* was made with \(ABI \d+\)/);
  const old = join(work, 'old-node');
  writeFileSync(old, `#!/bin/sh\nif [ "$1" = -p ]; then echo "18.19.0 108 x64"; else exec ${JSON.stringify(process.execPath)} "$@"; fi\n`);
  chmodSync(old, 0o755);
  const eighteen = await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: built, DIB_BOOTSTACK_NODE: old }), allowFailure: true });
  assert.match(eighteen.stderr, /is Node 18\.19\.0; the server needs Node >= 20/);
  const arch = await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: built, DIB_BOOTSTACK_NODE: process.execPath, ARCH: 'riscv64' }), allowFailure: true });
  assert.match(arch.stderr, /the build in .* is for x64, the image for riscv64/);
  assert.deepEqual(readdirSync(mnt), [], 'nothing installed by a failed run');
});

test('bootstack-server hook: installs the build, its Node, the command and the enabled unit', async () => {
  const mnt = join(work, 'mnt');
  mkdirSync(mnt);
  const ok = await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: built, DIB_BOOTSTACK_NODE: process.execPath, ARCH: 'amd64' }) });
  assert.match(ok.stdout, new RegExp(`installed bootstack ${VERSION.replace(/\./g, '\\.')} from .* into /opt/bootstack with Node ${process.versions.node}`));
  const lib = join(mnt, 'opt/bootstack/lib');
  const node = join(mnt, 'opt/bootstack/bin/node');
  assert.equal(statSync(node).mode & 0o777, 0o755);
  assert.equal(statSync(node).size, statSync(process.execPath).size);
  assert.ok(existsSync(join(lib, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')));
  assert.ok(existsSync(join(lib, 'elements/bootstack-server/extra-data.d/50-bootstack-server')));
  // The installed copy runs with the installed Node.
  assert.equal((await run(node, [join(lib, 'bootstack.mjs'), '--version'], { cwd: mnt, env: { PATH: '/usr/bin:/bin' } })).stdout, `${VERSION}\n`);

  const wrapper = readFileSync(join(mnt, 'usr/local/bin/bootstack'), 'utf8');
  assert.equal(statSync(join(mnt, 'usr/local/bin/bootstack')).mode & 0o777, 0o755);
  assert.match(wrapper, /^exec \/opt\/bootstack\/bin\/node \/opt\/bootstack\/lib\/bootstack\.mjs "\$@"$/m);
  const unit = readFileSync(join(mnt, 'etc/systemd/system/bootstack.service'), 'utf8');
  for (const line of [
    'ExecStart=/usr/local/bin/bootstack serve --config /etc/bootstack/bootstack.yaml',
    'ConditionPathExists=/etc/bootstack/bootstack.yaml',
    'StateDirectory=bootstack',
    'WorkingDirectory=/var/lib/bootstack',
    'Restart=on-failure',
    'Environment=NODE_OPTIONS=--max-semi-space-size=2',
    'Environment=MALLOC_ARENA_MAX=2',
    'KillSignal=SIGTERM',
    'WantedBy=multi-user.target',
  ]) {
    assert.ok(unit.split('\n').includes(line), line);
  }
  const wants = join(mnt, 'etc/systemd/system/multi-user.target.wants/bootstack.service');
  assert.ok(lstatSync(wants).isSymbolicLink());
  assert.equal(readlinkSync(wants), '/etc/systemd/system/bootstack.service');
  assert.equal(statSync(join(mnt, 'var/lib/bootstack')).mode & 0o777, 0o700);

  // Again (a rebuilt image): the old tree is replaced, not merged.
  writeFileSync(join(lib, 'stale-file'), '');
  await run(HOOK, [], { env: hookEnv(mnt, { DIB_BOOTSTACK_SERVER_DIR: built, DIB_BOOTSTACK_NODE: process.execPath }) });
  assert.ok(!existsSync(join(lib, 'stale-file')));
});

test('bootstack-server: the unit passes systemd-analyze verify inside the installed root', async (t) => {
  const mnt = join(work, 'mnt');
  if (!existsSync('/usr/bin/systemd-analyze') || !existsSync(join(mnt, 'etc/systemd/system/bootstack.service'))) {
    t.skip('systemd-analyze or the installed root missing');
    return;
  }
  const unit = join(mnt, 'etc/systemd/system/bootstack.service');
  // verify resolves ExecStart on this host: check a copy whose command is the installed wrapper.
  const check = join(work, 'bootstack.service');
  writeFileSync(check, readFileSync(unit, 'utf8').replace('/usr/local/bin/bootstack', join(mnt, 'usr/local/bin/bootstack')).replace(/^WorkingDirectory=.*$/m, `WorkingDirectory=${work}`));
  const r = await run('systemd-analyze', ['verify', '--man=no', check], { allowFailure: true });
  const complaints = `${r.stdout}${r.stderr}`
    .split('\n')
    // Not about the unit: this host's own units, or systemd not being PID 1 here.
    .filter((l) => l.includes('bootstack.service') && !/Failed to (connect|initialize)|not running|Unit is bound to inactive/.test(l));
  assert.deepEqual(complaints, [], `${r.stdout}${r.stderr}`);
});

test('bootstack-server: package-installs and README are there', () => {
  const dir = join(BUILTIN_ELEMENTS, 'bootstack-server');
  assert.match(readFileSync(join(dir, 'package-installs.yaml'), 'utf8'), /^libstdc\+\+6:/m);
  assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /DIB_BOOTSTACK_SERVER_DIR/);
});
