// `npm run bench -- image-build [--skip-dib] [--skip-cold]`: cold build (empty cache: debootstrap
// and every package downloaded) and warm rebuild (cache hit) of `debian-minimal vm` to qcow2, then
// Debian's disk-image-create (python3-diskimage-builder) with the same elements on the same machine.
// Reports wall times, the ratios and output sizes (raw, qcow2, initramfs).
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { buildImage } from '../src/image-builder/build.js';

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t = Date.now();
  const value = await fn();
  return { seconds: (Date.now() - t) / 1000, value };
}

function size(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** The last error lines of a failed disk-image-create run, and how far it got. */
function dibFailure(log: string): string {
  const lines = log.split('\n');
  const reached = lines.filter((l) => /Running hooks from .*\/([a-z-]+\.d)/.test(l)).map((l) => /([a-z-]+\.d)\s*$/.exec(l)?.[1]);
  const errors = lines.filter((l) => /ERROR|error|failed|Failure/i.test(l)).slice(-4);
  return `phases run: ${reached.join(' ')}; ${errors.join(' | ')}`;
}

export default async function bench(args: string[]): Promise<Record<string, unknown>> {
  const out = mkdtempSync(join(tmpdir(), 'bootstack-bench-image-'));
  const result: Record<string, unknown> = { machine: '2 cores, 24 GiB, Debian 12, Node 20' };
  try {
    const coldCache = join(out, 'cold-cache');
    const log = (l: string) => process.stderr.write(`${l}\n`);
    if (!args.includes('--skip-cold')) {
      const cold = await timed(() =>
        buildImage({ elements: ['debian-minimal', 'vm'], output: join(out, 'cold'), types: ['qcow2', 'raw'], cacheDir: coldCache, env: {}, log }),
      );
      result.coldSeconds = cold.seconds;
      result.coldPhases = cold.value.timings;
    }
    // Warm: the cache of the cold run (or the user's cache with --skip-cold), built once more.
    const warmCache = args.includes('--skip-cold') ? undefined : coldCache;
    const warm = await timed(() =>
      buildImage({ elements: ['debian-minimal', 'vm'], output: join(out, 'warm'), types: ['qcow2', 'raw'], cacheDir: warmCache, env: {}, log }),
    );
    result.warmSeconds = warm.seconds;
    result.warmBaseCacheHit = warm.value.baseCacheHit;
    result.warmPhases = warm.value.timings;
    result.sizes = { raw: size(join(out, 'warm.raw')), qcow2: size(join(out, 'warm.qcow2')) };
    const rd = await timed(() => buildImage({ elements: ['debian-minimal', 'ramdisk'], output: join(out, 'rd'), types: ['initramfs'], cacheDir: warmCache, env: {}, log }));
    // The ramdisk package set is its own base layer: built here on the cached plain base.
    result.ramdiskSeconds = rd.seconds;
    (result.sizes as Record<string, unknown>).initramfs = size(join(out, 'rd.initramfs'));

    if (!args.includes('--skip-dib')) {
      const dibOut = join(out, 'dib');
      const dib = await timed(() =>
        run('disk-image-create', ['-o', join(dibOut, 'dib-vm'), '-t', 'qcow2', 'debian-minimal', 'vm'], {
          // The same mirror and suite as ours (DIB 3.13's default security source for bookworm is
          // wrong: <mirror> bookworm/updates).
          env: {
            HOME: process.env.HOME ?? '/root',
            PATH: '/usr/bin:/usr/sbin:/bin:/sbin',
            DIB_RELEASE: 'bookworm',
            DIB_APT_SOURCES_CONF: 'default:deb http://deb.debian.org/debian bookworm main',
            DIB_IMAGE_CACHE: join(out, 'dib-cache'),
            TMPDIR: out,
          },
          allowFailure: true,
          timeoutMs: 60 * 60_000,
        }),
      );
      const ok = dib.value.code === 0;
      result.dib = {
        ok,
        seconds: dib.seconds,
        exitCode: dib.value.code,
        error: ok ? undefined : dibFailure(`${dib.value.stdout}\n${dib.value.stderr}`),
        qcow2Bytes: ok ? size(join(dibOut, 'dib-vm.qcow2')) : null,
        files: ok ? readdirSync(dibOut) : [],
      };
      if (ok && typeof result.coldSeconds === 'number') result.coldVsDibRatio = Number((result.coldSeconds / dib.seconds).toFixed(2));
      if (ok) result.warmVsDibRatio = Number((warm.seconds / dib.seconds).toFixed(2));
    }
    return result;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
