// One image build, phase by phase, as disk-image-create does it: resolve elements, merge their
// hooks, unpack the cached base, run root.d … cleanup.d (chroot phases inside the image with proc,
// sys, dev and the shared apt cache mounted), then write the requested outputs with checksums and a
// package manifest. Whatever happens — hook failure, error, abort (Ctrl-C) — `finally` kills what
// still runs in the work directory, unmounts everything under it and removes it.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { run } from '../common/child-process.js';
import { ValidationError } from '../common/errors.js';
import { aptCachePath, cacheDir, ensureBase, extractBase, type BaseSpec } from './base.js';
import { resolveElements, type Element } from './elements.js';
import { environmentFiles, mergeHooks, PHASES, phaseHooks, type HookSet } from './hooks.js';
import { IN_TARGET, installRunner, runHook, type HookRun } from './hook-runner.js';
import { ChrootMounts, killUnder, unmountUnder } from './mounts.js';
import {
  findKernel,
  fileSize,
  makeExt4,
  makeInitramfs,
  makeQcow2,
  makeTar,
  makeWholeDisk,
  newUuid,
  rootSizeFor,
  treeBytes,
  writeChecksum,
} from './outputs.js';
import { PACKAGE_HOOK_NAMES, squashPackageInstalls, type PhasePackages } from './package-installs.js';
import { compareSortN } from './sort-n.js';
import { acquireDirLock } from './dir-lock.js';
import { AGENTS_DIR, ELEMENTS_DIR, INSTALL_ROOT, SERVER_DIR } from '../common/paths.js';

export const BUILTIN_ELEMENTS = ELEMENTS_DIR;
export const OUTPUT_TYPES = ['raw', 'qcow2', 'tar', 'partition', 'initramfs'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

export interface BuildOptions {
  elements: string[];
  /** Output path prefix (disk-image-create -o); extensions are added per type. */
  output: string;
  types: OutputType[];
  arch?: string;
  /** Whole-disk size in bytes. */
  imageSize?: number;
  /** Extra packages installed in install.d (-p). */
  packages?: string[];
  /** Extra element directories, searched before the built-in elements. */
  elementsPath?: string[];
  offline?: boolean;
  verbose?: boolean;
  /** DIB_* and other variables passed to hooks (default: the DIB_* of process.env). */
  env?: Record<string, string>;
  cacheDir?: string;
  signal?: AbortSignal;
  /** Progress lines; verbose hook output goes to `write`. */
  log?: (line: string) => void;
  write?: (chunk: string) => void;
}

export interface BuildOutput {
  type: string;
  path: string;
  bytes: number;
  sha256: string;
}

export interface BuildResult {
  elements: string[];
  baseCacheHit: boolean;
  outputs: BuildOutput[];
  manifest: string;
  timings: Record<string, number>;
}

const UNSAFE_IO = 'etc/dpkg/dpkg.cfg.d/bootstack-unsafe-io';

const DEBIAN_ARCH: Record<string, string> = { amd64: 'amd64', x86_64: 'amd64', arm64: 'arm64', aarch64: 'arm64' };

interface BaseDecl {
  element: Element;
  spec: { method?: string; distro?: string; variant?: string; include?: string[] };
}

function findBaseDecl(elements: readonly Element[]): BaseDecl {
  const decls = elements
    .filter((e) => existsSync(join(e.path, 'bootstack-base.yaml')))
    .map((e) => ({ element: e, spec: parseYaml(readFileSync(join(e.path, 'bootstack-base.yaml'), 'utf8')) as BaseDecl['spec'] }));
  if (decls.length !== 1) {
    throw new ValidationError(
      decls.length
        ? `more than one base element: ${decls.map((d) => d.element.name).join(', ')}`
        : 'no base element (one with bootstack-base.yaml, such as debian-minimal) in the element set',
    );
  }
  const d = decls[0]!;
  if ((d.spec.method ?? 'debootstrap') !== 'debootstrap') {
    throw new ValidationError(`unsupported base method ${d.spec.method}`, { file: join(d.element.path, 'bootstack-base.yaml') });
  }
  return d;
}

/** Sources the environment.d files in bash and returns the resulting environment. */
async function evaluateEnvironment(set: HookSet, env: Record<string, string>, files: string[]): Promise<Record<string, string>> {
  const script = 'set -eu; for f in $BOOTSTACK_ENV_FILES; do source "$TMP_HOOKS_PATH/environment.d/$f"; done; env -0';
  const r = await run('bash', ['-c', script], {
    env: { ...env, TMP_HOOKS_PATH: set.dir, BOOTSTACK_ENV_FILES: files.join(' ') },
  });
  const out: Record<string, string> = {};
  for (const pair of r.stdout.split('\0')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/**
 * The packages worth baking into the cached base: what pre-install.d and install.d install and no
 * phase removes again. The package-installs hooks still run at their places (then as no-ops).
 */
function packagesForBase(packages: Map<string, PhasePackages>): string[] {
  const removed = new Set([...packages.values()].flatMap((p) => p.uninstall));
  return ['pre-install.d', 'install.d']
    .flatMap((phase) => packages.get(phase)?.install ?? [])
    .filter((p) => !removed.has(p));
}

function elementYaml(elements: readonly Element[]): string {
  return elements.map((e) => `${e.name}: ${e.path}`).join('\n') + '\n';
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? (() => {});
  const write = opts.write ?? (() => {});
  const timings: Record<string, number> = {};
  const started = Date.now();
  const mark = (name: string, since: number) => (timings[name] = (Date.now() - since) / 1000);
  const arch = DEBIAN_ARCH[opts.arch ?? 'amd64'];
  if (!arch) throw new ValidationError(`unsupported architecture ${opts.arch}`, { path: 'arch' });
  const elementsPath = [...(opts.elementsPath ?? []), BUILTIN_ELEMENTS];
  const elements = resolveElements(opts.elements, elementsPath);
  log(`elements: ${elements.map((e) => e.name).join(' ')}`);
  const cache = opts.cacheDir ?? cacheDir();
  const outPrefix = resolve(opts.output);
  mkdirSync(dirname(outPrefix), { recursive: true });

  const work = mkdtempSync(join(tmpdir(), 'bootstack-image-'));
  const root = join(work, 'mnt');
  const mounts = new ChrootMounts(root);
  let releaseLock = () => {};
  try {
    const hooks = mergeHooks(elements, join(work, 'hooks'));
    installRunner(hooks.dir);
    const envFiles = environmentFiles(hooks).map((h) => h.name);
    const passed = opts.env ?? Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('DIB_') && v !== undefined)) as Record<string, string>;
    const baseEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      LC_ALL: 'C',
      LANG: 'C',
      ...passed,
      ARCH: arch,
      IMAGE_NAME: outPrefix,
      IMAGE_ELEMENT: elements.map((e) => e.name).join(' '),
      IMAGE_ELEMENT_YAML: elementYaml(elements),
      ELEMENTS_PATH: elementsPath.join(':'),
      TMP_BUILD_DIR: work,
      TMP_MOUNT_PATH: root,
      TARGET_ROOT: root,
      TMP_IMAGE_DIR: work,
      DIB_OFFLINE: opts.offline ? '1' : (passed.DIB_OFFLINE ?? ''),
      DIB_INIT_SYSTEM: passed.DIB_INIT_SYSTEM ?? 'systemd',
      DIB_ROOT_LABEL: passed.DIB_ROOT_LABEL ?? 'cloudimg-rootfs',
      DIB_IMAGE_CACHE: join(cache, 'dib'),
      DIB_DEBUG_TRACE: passed.DIB_DEBUG_TRACE ?? '0',
      DEBIAN_FRONTEND: 'noninteractive',
      BOOTSTACK_ROOT: INSTALL_ROOT,
      // Where the bootstack-agents, deploy-ramdisk and bootstack-server hooks find what they install
      // (common/paths.ts: the repository's dist/ or the production build), unless the caller says.
      DIB_BOOTSTACK_AGENTS_DIR: passed.DIB_BOOTSTACK_AGENTS_DIR ?? AGENTS_DIR,
      DIB_BOOTSTACK_SERVER_DIR: passed.DIB_BOOTSTACK_SERVER_DIR ?? SERVER_DIR,
      DIB_BOOTSTACK_NODE: passed.DIB_BOOTSTACK_NODE ?? process.execPath,
    };
    if (opts.imageSize !== undefined) baseEnv.DIB_IMAGE_SIZE = String(opts.imageSize / 1024 ** 3);
    const evaluated = await evaluateEnvironment(hooks, baseEnv, envFiles);

    // Base root file system.
    let t = Date.now();
    const packages = squashPackageInstalls(elements, evaluated);
    const basePackages = packagesForBase(packages);
    if (opts.packages?.length) {
      const entry = packages.get('install.d') ?? { install: [], uninstall: [] };
      entry.install.push(...opts.packages);
      packages.set('install.d', entry);
    }
    const decl = findBaseDecl(elements);
    const spec: BaseSpec = {
      distro: 'debian',
      release: evaluated.DIB_RELEASE || 'bookworm',
      arch,
      variant: decl.spec.variant ?? 'minbase',
      include: decl.spec.include ?? [],
      packages: basePackages,
      mirror: evaluated.DIB_DISTRIBUTION_MIRROR || 'http://deb.debian.org/debian',
      components: (evaluated.DIB_DEBIAN_COMPONENTS || 'main').split(',').filter((c) => c),
    };
    const aptCache = aptCachePath(spec, cache);
    const aptLists = join(aptCache, 'lists');
    mkdirSync(dirname(aptCache), { recursive: true });
    releaseLock = await acquireDirLock(`${aptCache}.lock`, {
      signal: opts.signal,
      onWait: () => log(`waiting for another build using ${aptCache}`),
    });
    const base = await ensureBase(spec, { offline: !!opts.offline, log, signal: opts.signal, cache });
    log(`base: ${base.hit ? 'cache hit' : 'built'} ${base.tarball}`);
    await extractBase(base.tarball, root, opts.signal);
    mark('base', t);

    // What the chroot needs: DNS for apt, no daemons started by package scripts, the hooks.
    const resolvSaved = join(work, 'resolv.conf.orig');
    if (existsSync(join(root, 'etc/resolv.conf'))) renameSync(join(root, 'etc/resolv.conf'), resolvSaved);
    if (existsSync('/etc/resolv.conf')) copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
    writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    // No fsync per unpacked file during the build (the kernel's thousands of modules): the image
    // is written out whole at the end anyway. diskimage-builder does the same.
    mkdirSync(join(root, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
    writeFileSync(join(root, UNSAFE_IO), 'force-unsafe-io\n');
    mkdirSync(join(aptLists, 'partial'), { recursive: true });


    const ctx = { root, hooksDir: hooks.dir, workDir: work, env: baseEnv, envFiles, verbose: !!opts.verbose, signal: opts.signal, write };
    for (const phase of PHASES) {
      opts.signal?.throwIfAborted();
      const list: HookRun[] = phaseHooks(hooks, phase.name).map((h) => ({
        phase: phase.name,
        name: h.name,
        element: h.element,
        hostPath: h.path,
        inChroot: phase.inChroot,
      }));
      const pk = packages.get(phase.name);
      const names = PACKAGE_HOOK_NAMES[phase.name];
      if (pk && names && phase.inChroot) {
        const tool = ['bin/install-packages'];
        if (pk.install.length) list.push({ phase: phase.name, name: names.install, element: 'package-installs', hostPath: `install-packages ${pk.install.join(' ')}`, inChroot: true, argv: [...tool, ...pk.install] });
        if (pk.uninstall.length) list.push({ phase: phase.name, name: names.uninstall, element: 'package-installs', hostPath: `install-packages -u ${pk.uninstall.join(' ')}`, inChroot: true, argv: [...tool, '-u', ...pk.uninstall] });
        list.sort((a, b) => compareSortN(a.name, b.name));
      }
      if (phase.inChroot && list.length && !existsSync(join(root, IN_TARGET, 'bootstack-run-hook'))) {
        await mounts.mountSystem();
        // apt's downloads and package lists live in the cache, so that a rebuild (and --offline)
        // finds them, and the image keeps neither.
        await mounts.bind(aptCache, 'var/cache/apt/archives');
        await mounts.bind(aptLists, 'var/lib/apt/lists');
        await mounts.bind(hooks.dir, IN_TARGET, true);
      }
      if (phase.name === 'cleanup.d') await mounts.cleanup();
      if (!list.length) continue;
      t = Date.now();
      log(`[${phase.name}] ${list.length} hook${list.length === 1 ? '' : 's'}${phase.inChroot ? ' (in chroot)' : ''}`);
      for (const hook of list) {
        const h0 = Date.now();
        await runHook(hook, ctx);
        log(`  ${hook.name} (${hook.element}) ${((Date.now() - h0) / 1000).toFixed(1)}s`);
      }
      mark(phase.name, t);
    }
    await mounts.cleanup();

    // Leave the image as the base had it.
    rmSync(join(root, 'usr/sbin/policy-rc.d'), { force: true });
    rmSync(join(root, UNSAFE_IO), { force: true });
    rmSync(join(root, 'etc/resolv.conf'), { force: true });
    if (existsSync(resolvSaved)) renameSync(resolvSaved, join(root, 'etc/resolv.conf'));
    rmSync(join(root, IN_TARGET), { recursive: true, force: true });

    const manifestPackages = await listPackages(root);
    t = Date.now();
    const outputs = await writeOutputs(opts, outPrefix, root, work, baseEnv, log);
    mark('outputs', t);
    const manifest = `${outPrefix}.manifest.json`;
    writeFileSync(
      manifest,
      JSON.stringify({ elements: elements.map((e) => e.name), base: { ...spec, cacheHit: base.hit }, packages: manifestPackages, outputs }, null, 2) + '\n',
    );
    timings.total = (Date.now() - started) / 1000;
    return { elements: elements.map((e) => e.name), baseCacheHit: base.hit, outputs, manifest, timings };
  } finally {
    const c0 = Date.now();
    await killUnder(work);
    await unmountUnder(work);
    rmSync(work, { recursive: true, force: true });
    releaseLock();
    log(`cleaned up ${work} (${((Date.now() - c0) / 1000).toFixed(1)}s)`);
  }
}

async function listPackages(root: string): Promise<Array<{ name: string; version: string }>> {
  if (!existsSync(join(root, 'var/lib/dpkg/status'))) return [];
  const r = await run('dpkg-query', ['--admindir', join(root, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Version}\n']);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l)
    .map((l) => {
      const [name = '', version = ''] = l.split(' ');
      return { name, version };
    });
}

export async function writeOutputs(
  opts: BuildOptions,
  prefix: string,
  root: string,
  work: string,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<BuildOutput[]> {
  // Every output is written to `<path>.partial` and renamed into place only once all of them are
  // made, so a failing or interrupted build leaves no half-written files under the final names.
  const made: Array<{ type: string; path: string }> = [];
  const part = (path: string) => `${path}.partial`;
  const done = (type: string, path: string) => {
    made.push({ type, path });
  };
  const types = new Set(opts.types);
  const rootLabel = env.DIB_ROOT_LABEL ?? 'cloudimg-rootfs';
  const kernel = findKernel(root);
  const cmdline =
    `root=LABEL=${rootLabel} ro ` + (env.DIB_BOOTLOADER_DEFAULT_CMDLINE ?? 'console=tty0 console=ttyS0,115200 no_timer_check');

  try {
    if (types.has('tar')) {
      await makeTar(root, part(`${prefix}.tar`));
      done('tar', `${prefix}.tar`);
    }
    // The ramdisk element leaves a tree for the initramfs; build it whenever it is there.
    const ramdiskTree = join(root, 'var/lib/bootstack/ramdisk');
    if (types.has('initramfs') || existsSync(ramdiskTree)) {
      if (!existsSync(ramdiskTree)) throw new ValidationError('output type initramfs needs the ramdisk element');
      if (!kernel) throw new ValidationError('the ramdisk element installed no kernel in /boot');
      await makeInitramfs(ramdiskTree, part(`${prefix}.initramfs`));
      done('initramfs', `${prefix}.initramfs`);
      copyFileSync(kernel.kernel, part(`${prefix}.kernel`));
      done('kernel', `${prefix}.kernel`);
    }
    const wantDisk = types.has('raw') || types.has('qcow2');
    if (types.has('partition') || wantDisk) {
      if (!kernel) throw new ValidationError('raw, qcow2 and partition outputs need a kernel in /boot (add the vm element)');
    }
    if (types.has('partition') && kernel) {
      const bytes = rootSizeFor(await treeBytes(root));
      await makeExt4(root, part(`${prefix}.partition.raw`), { bytes, label: rootLabel, uuid: newUuid() });
      done('partition', `${prefix}.partition.raw`);
      copyFileSync(kernel.kernel, part(`${prefix}.vmlinuz`));
      done('vmlinuz', `${prefix}.vmlinuz`);
      if (kernel.initrd) {
        copyFileSync(kernel.initrd, part(`${prefix}.initrd`));
        done('initrd', `${prefix}.initrd`);
      }
    }
    if (wantDisk && kernel) {
      const raw = types.has('raw') ? part(`${prefix}.raw`) : join(work, 'disk.raw');
      await makeWholeDisk({ root, out: raw, kernel, cmdline, rootLabel, rootUuid: newUuid(), sizeBytes: opts.imageSize });
      if (types.has('qcow2')) {
        await makeQcow2(raw, part(`${prefix}.qcow2`));
        done('qcow2', `${prefix}.qcow2`);
      }
      if (types.has('raw')) done('raw', `${prefix}.raw`);
    }
    const outputs: BuildOutput[] = [];
    for (const { type, path } of made) {
      renameSync(part(path), path);
      const sha256 = await writeChecksum(path);
      outputs.push({ type, path, bytes: fileSize(path), sha256 });
      log(`output ${type}: ${path} (${(fileSize(path) / 1024 / 1024).toFixed(1)} MiB)`);
    }
    return outputs;
  } finally {
    // On success nothing is left under these names; on failure this removes the half-written files.
    for (const path of [`${prefix}.tar`, `${prefix}.initramfs`, `${prefix}.kernel`, `${prefix}.partition.raw`, `${prefix}.vmlinuz`, `${prefix}.initrd`, `${prefix}.raw`, `${prefix}.qcow2`]) {
      rmSync(part(path), { force: true });
    }
  }
}
