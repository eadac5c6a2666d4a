// The base root filesystem: debootstrap against the configured Debian mirror, kept as a tarball in
// the cache keyed by release, architecture, variant, mirror and package set, so that every later
// build with the same key starts from an unpack (a few seconds) instead of a bootstrap.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BootstackError } from '../common/errors.js';
import { run } from '../common/child-process.js';
import { ChrootMounts } from './mounts.js';

export interface BaseSpec {
  distro: 'debian';
  release: string;
  /** Debian architecture name (amd64, arm64). */
  arch: string;
  /** debootstrap --variant (minbase, buildd) or '' for the default. */
  variant: string;
  /** Extra packages given to debootstrap --include. */
  include: string[];
  /**
   * Packages the elements install (package-installs of pre-install.d and install.d), installed
   * with apt into the cached base so that a rebuild skips them (the kernel and its initramfs are
   * most of a build). Part of the cache key.
   */
  packages: string[];
  mirror: string;
  components: string[];
}

export class BaseCacheMissError extends BootstackError {
  constructor(readonly path: string, spec: BaseSpec) {
    super(
      409,
      'base_cache_miss',
      `--offline: no cached base for ${spec.distro} ${spec.release} ${spec.arch} ${spec.variant || 'default'} ` +
        `(with ${spec.packages.length} element packages) at ${path}; build once online to fill the cache`,
      { fields: { path, ...spec } },
    );
  }
}

export function cacheDir(): string {
  return process.env.BOOTSTACK_CACHE_DIR || join(homedir(), '.cache', 'bootstack');
}

export function baseKey(spec: BaseSpec): string {
  const canonical = JSON.stringify({
    distro: spec.distro,
    release: spec.release,
    arch: spec.arch,
    variant: spec.variant,
    include: [...new Set(spec.include)].sort(),
    packages: [...new Set(spec.packages)].sort(),
    mirror: spec.mirror,
    components: spec.components,
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function basePath(spec: BaseSpec, cache = cacheDir()): string {
  return join(cache, 'base', `${spec.distro}-${spec.release}-${spec.arch}-${spec.variant || 'default'}-${baseKey(spec)}.tar.zst`);
}

/** Debian's apt archive for this release and architecture, shared by builds (bind-mounted). */
export function aptCachePath(spec: BaseSpec, cache = cacheDir()): string {
  return join(cache, 'apt', `${spec.distro}-${spec.release}-${spec.arch}`);
}

export interface EnsureBaseResult {
  tarball: string;
  hit: boolean;
}

/** Returns the cached tarball, building it with debootstrap on a miss (unless offline). */
export async function ensureBase(
  spec: BaseSpec,
  opts: { offline: boolean; log: (line: string) => void; signal?: AbortSignal; cache?: string },
): Promise<EnsureBaseResult> {
  const tarball = basePath(spec, opts.cache);
  if (existsSync(tarball)) return { tarball, hit: true };
  if (opts.offline) throw new BaseCacheMissError(tarball, spec);
  mkdirSync(dirname(tarball), { recursive: true });
  const work = mkdtempSync(join(dirname(tarball), '.build-'));
  const root = join(work, 'root');
  const mounts = new ChrootMounts(root);
  try {
    const aptCache = aptCachePath(spec, opts.cache);
    mkdirSync(join(aptCache, 'partial'), { recursive: true });
    if (spec.packages.length) {
      // A package set is a layer on the plain debootstrap base, which is cached on its own and
      // shared by every package set.
      const plain = await ensureBase({ ...spec, packages: [] }, opts);
      await extractBase(plain.tarball, root, opts.signal);
      await installPackages(root, mounts, spec, aptCache, opts);
    } else {
      const args = [`--arch=${spec.arch}`, `--components=${spec.components.join(',')}`];
      if (spec.variant) args.push(`--variant=${spec.variant}`);
      if (spec.include.length) args.push(`--include=${[...new Set(spec.include)].sort().join(',')}`);
      args.push(spec.release, root, spec.mirror);
      opts.log(`debootstrap ${args.join(' ')}`);
      await run('debootstrap', args, { signal: opts.signal, timeoutMs: 30 * 60_000 });
      // Keep debootstrap's downloads: later package installs of the same release find them there.
      await run('sh', ['-c', 'cp -n "$1"/var/cache/apt/archives/*.deb "$2"/ 2>/dev/null || true', 'sh', root, aptCache]);
      await run('sh', ['-c', 'rm -f "$1"/var/cache/apt/archives/*.deb', 'sh', root]);
    }
    const partial = `${tarball}.${process.pid}.partial`;
    try {
      // pipefail: a failing tar must not leave a truncated archive that is then cached as good.
      await run('bash', ['-o', 'pipefail', '-c', 'tar --numeric-owner --xattrs -C "$1" -cf - . | zstd -q -T0 -3 -o "$2" -f', 'bash', root, partial], {
        signal: opts.signal,
      });
      renameSync(partial, tarball);
    } finally {
      rmSync(partial, { force: true });
    }
    return { tarball, hit: false };
  } finally {
    await mounts.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

/** apt-get install of the element packages inside the fresh base (daemons blocked, no fsync). */
async function installPackages(
  root: string,
  mounts: ChrootMounts,
  spec: BaseSpec,
  aptCache: string,
  opts: { log: (line: string) => void; signal?: AbortSignal },
): Promise<void> {
  const pkgs = [...new Set(spec.packages)].sort();
  opts.log(`base: apt-get install ${pkgs.join(' ')}`);
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  writeFileSync(join(root, 'etc/dpkg/dpkg.cfg.d/bootstack-unsafe-io'), 'force-unsafe-io\n');
  writeFileSync(join(root, 'etc/apt/sources.list'), `deb ${spec.mirror} ${spec.release} ${spec.components.join(' ')}\n`);
  if (existsSync('/etc/resolv.conf')) copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
  await mounts.mountSystem();
  await mounts.bind(aptCache, 'var/cache/apt/archives');
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C', HOME: '/root' };
  await run('chroot', [root, 'apt-get', '-q', 'update'], { env, signal: opts.signal, timeoutMs: 10 * 60_000 });
  await run('chroot', [root, 'apt-get', '-q', '-y', '--no-install-recommends', 'install', ...pkgs], {
    env,
    signal: opts.signal,
    timeoutMs: 30 * 60_000,
  });
  await mounts.cleanup();
  rmSync(join(root, 'usr/sbin/policy-rc.d'), { force: true });
  rmSync(join(root, 'etc/dpkg/dpkg.cfg.d/bootstack-unsafe-io'), { force: true });
  await run('sh', ['-c', 'rm -rf "$1"/var/lib/apt/lists/* && mkdir -p "$1"/var/lib/apt/lists/partial', 'sh', root]);
}

export async function extractBase(tarball: string, root: string, signal?: AbortSignal): Promise<void> {
  mkdirSync(root, { recursive: true });
  await run('sh', ['-c', 'zstd -q -d -c "$1" | tar --numeric-owner --xattrs -C "$2" -xpf -', 'sh', tarball, root], { signal });
}
