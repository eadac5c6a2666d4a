// The image the lab deploys to its machines: a small Debian that boots under SeaBIOS and OVMF, reads
// its config drive on first boot (hostname, root's SSH keys, network; DHCP otherwise), makes its
// own SSH host keys, runs sshd and has a login prompt on the serial console.
// buildSampleImage() builds it once and reuses the result while its inputs are unchanged: the
// builder only caches the debootstrap base, and a full build (~1 min warm) is too slow to repeat for
// every lab demo or test run.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir } from './base.js';
import { BUILTIN_ELEMENTS, buildImage, type OutputType } from './build.js';
import { acquireDirLock } from './dir-lock.js';
import { digestBuilderCode, digestTree } from './inputs-digest.js';
import { resolveElements } from './elements.js';

export const SAMPLE_IMAGE_ELEMENTS: readonly string[] = ['debian-minimal', 'vm', 'config-drive', 'openssh-server', 'serial-console'];

const TYPES: OutputType[] = ['raw', 'qcow2'];
const NAME = 'sample';

export interface SampleImage {
  raw: string;
  qcow2: string;
  manifest: string;
  /** true when the outputs of an earlier build with the same inputs were reused. */
  cached: boolean;
  /** sha256 over everything the build depends on (see inputsKey). */
  key: string;
  /** Seconds spent (build or cache check). */
  seconds: number;
}

export interface SampleImageOptions {
  /** DIB_* variables for the hooks (default: the DIB_* of process.env). Part of the cache key. */
  env?: Record<string, string>;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Rebuild even when the inputs are unchanged. */
  force?: boolean;
}

export function defaultSampleImageDir(): string {
  return join(cacheDir(), 'images', NAME);
}

/**
 * What decides the image: the element set and every file of the elements it expands to, the
 * builder's own code (outputs, hooks), the output types and the DIB_* variables. A change to any of
 * them means a rebuild. (A newer Debian mirror does not: the base is cached by package set too.)
 */
export function inputsKey(env: Record<string, string>): string {
  const h = createHash('sha256');
  h.update(`elements ${SAMPLE_IMAGE_ELEMENTS.join(' ')}\ntypes ${TYPES.join(',')}\n`);
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`env ${k}=${v}\n`);
  for (const e of resolveElements(SAMPLE_IMAGE_ELEMENTS, [BUILTIN_ELEMENTS])) {
    h.update(`element ${e.name}\n`);
    digestTree(h, e.path);
  }
  digestBuilderCode(h);
  return h.digest('hex');
}

interface Stamp {
  key: string;
  outputs: Array<{ path: string; bytes: number }>;
}

function readStamp(path: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function stampValid(stamp: Stamp | undefined, key: string): boolean {
  if (!stamp || stamp.key !== key || !stamp.outputs.length) return false;
  return stamp.outputs.every((o) => existsSync(o.path) && statSync(o.path).size === o.bytes);
}

function sampleEnv(env?: Record<string, string>): Record<string, string> {
  return env ?? (Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('DIB_') && v !== undefined)) as Record<string, string>);
}

function paths(dir: string) {
  const prefix = join(resolve(dir), NAME);
  return { prefix, raw: `${prefix}.raw`, qcow2: `${prefix}.qcow2`, manifest: `${prefix}.manifest.json`, stamp: `${prefix}.inputs.json` };
}

/**
 * The outputs in outDir when an earlier build had the same inputs and its files are still there
 * with the sizes it recorded; undefined when a build is needed. Does not wait for a running build.
 */
export function cachedSampleImage(outDir: string = defaultSampleImageDir(), env?: Record<string, string>): SampleImage | undefined {
  const p = paths(outDir);
  const key = inputsKey(sampleEnv(env));
  if (!stampValid(readStamp(p.stamp), key)) return undefined;
  return { raw: p.raw, qcow2: p.qcow2, manifest: p.manifest, cached: true, key, seconds: 0 };
}

/**
 * Builds the sample image into outDir (default ~/.cache/bootstack/images/sample) as sample.raw and
 * sample.qcow2, unless a build with the same inputs is already there. Concurrent callers wait for
 * each other. Needs root (the image builder does).
 */
export async function buildSampleImage(outDir: string = defaultSampleImageDir(), opts: SampleImageOptions = {}): Promise<SampleImage> {
  const started = Date.now();
  mkdirSync(resolve(outDir), { recursive: true });
  const env = sampleEnv(opts.env);
  const p = paths(outDir);
  const release = await acquireDirLock(join(resolve(outDir), `.${NAME}.lock`), {
    signal: opts.signal,
    onWait: () => opts.log?.(`waiting for another build of the sample image in ${outDir}`),
  });
  try {
    const hit = opts.force ? undefined : cachedSampleImage(outDir, env);
    if (hit) {
      opts.log?.(`sample image: inputs unchanged (${hit.key.slice(0, 12)}), reusing ${p.raw}`);
      return { ...hit, seconds: (Date.now() - started) / 1000 };
    }
    const key = inputsKey(env);
    // A stale stamp must never vouch for outputs a failed rebuild may have half-replaced.
    rmSync(p.stamp, { force: true });
    const r = await buildImage({ elements: [...SAMPLE_IMAGE_ELEMENTS], output: p.prefix, types: TYPES, env, log: opts.log, signal: opts.signal });
    const stamp: Stamp = { key, outputs: r.outputs.map((o) => ({ path: o.path, bytes: o.bytes })) };
    writeFileSync(`${p.stamp}.partial`, JSON.stringify(stamp, null, 2) + '\n');
    renameSync(`${p.stamp}.partial`, p.stamp);
    return { raw: p.raw, qcow2: p.qcow2, manifest: p.manifest, cached: false, key, seconds: (Date.now() - started) / 1000 };
  } finally {
    release();
  }
}
