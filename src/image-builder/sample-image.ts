// The images the lab deploys to its machines, built once and reused while their inputs are unchanged:
// the builder only caches the debootstrap base, and a full build (~1 min warm) is too slow to
// repeat for every lab demo or test run. Two variants share one cache rule:
// - `default` (sample): a small Debian that boots under SeaBIOS and OVMF, reads its config drive
//   on first boot (hostname, root's SSH keys, network; DHCP otherwise; user_data scripts), makes its
//   own SSH host keys, runs sshd, has a login prompt on the serial console, and is a managed
//   machine (os-collect-config, os-refresh-config, os-apply-config, heat-config) with one sample
//   os-apply-config template;
// - `cloud-init` (sample-cloud-init): the same but first boot by Debian's cloud-init instead of
//   the config-drive element, for templates written for cloud images.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir } from './base.js';
import { BUILTIN_ELEMENTS, buildImage, type OutputType } from './build.js';
import { ValidationError } from '../common/errors.js';
import { bundleAgents } from './deploy-ramdisk.js';
import { acquireDirLock } from './dir-lock.js';
import { digestBuilderCode, digestTree } from './inputs-digest.js';
import { resolveElements } from './elements.js';

export const SAMPLE_IMAGE_ELEMENTS: readonly string[] = [
  'debian-minimal',
  'vm',
  'config-drive',
  'openssh-server',
  'serial-console',
  'bootstack-managed',
  'bootstack-sample-config',
];
export const SAMPLE_CLOUD_INIT_ELEMENTS: readonly string[] = ['debian-minimal', 'vm', 'cloud-init', 'openssh-server', 'serial-console'];

export type SampleVariant = 'default' | 'cloud-init';
/** Each variant's file name prefix (and cache directory name) and elements. */
export const SAMPLE_VARIANTS: Readonly<Record<SampleVariant, { name: string; elements: readonly string[] }>> = {
  default: { name: 'sample', elements: SAMPLE_IMAGE_ELEMENTS },
  'cloud-init': { name: 'sample-cloud-init', elements: SAMPLE_CLOUD_INIT_ELEMENTS },
};

const TYPES: OutputType[] = ['raw', 'qcow2'];
/** Where bootstack-agents takes the bundle from; the bundle's content is hashed, not this path. */
const AGENTS_DIR_VAR = 'DIB_BOOTSTACK_AGENTS_DIR';

export interface SampleImage {
  variant: SampleVariant;
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
  /** Which image (default: `default`, the lab's sample). */
  variant?: SampleVariant;
  /** DIB_* variables for the hooks (default: the DIB_* of process.env). Part of the cache key. */
  env?: Record<string, string>;
  /**
   * The agent bundle for images with bootstack-agents (default: DIB_BOOTSTACK_AGENTS_DIR of env,
   * else src/agents bundled afresh into a scratch directory). Its content is part of the key.
   */
  agentsDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Rebuild even when the inputs are unchanged. */
  force?: boolean;
}

export function defaultSampleImageDir(variant: SampleVariant = 'default'): string {
  return join(cacheDir(), 'images', SAMPLE_VARIANTS[variant].name);
}

function resolved(variant: SampleVariant) {
  return resolveElements(SAMPLE_VARIANTS[variant].elements, [BUILTIN_ELEMENTS]);
}

/** Does the variant install the agent bundle (so that the bundle is one of its inputs)? */
export function variantUsesAgents(variant: SampleVariant): boolean {
  return resolved(variant).some((e) => e.name === 'bootstack-agents');
}

/**
 * What decides the image: the element set and every file of the elements it expands to, the
 * builder's own code (outputs, hooks), the output types, the DIB_* variables and, when the image
 * carries the agents, the bundle's files. A change to any of them means a rebuild. (A newer Debian
 * mirror does not: the base is cached by package set too.)
 */
export function inputsKey(env: Record<string, string>, o: { variant?: SampleVariant; agentsDir?: string } = {}): string {
  const variant = o.variant ?? 'default';
  const h = createHash('sha256');
  h.update(`elements ${SAMPLE_VARIANTS[variant].elements.join(' ')}\ntypes ${TYPES.join(',')}\n`);
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))) if (k !== AGENTS_DIR_VAR) h.update(`env ${k}=${v}\n`);
  for (const e of resolved(variant)) {
    h.update(`element ${e.name}\n`);
    digestTree(h, e.path);
  }
  digestBuilderCode(h);
  if (variantUsesAgents(variant)) {
    if (!o.agentsDir) throw new ValidationError(`the ${SAMPLE_VARIANTS[variant].name} image carries the agents: its inputs key needs the bundle (agentsDir)`, { path: 'agentsDir' });
    h.update('agents\n');
    digestTree(h, o.agentsDir);
  }
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

function paths(dir: string, variant: SampleVariant) {
  const prefix = join(resolve(dir), SAMPLE_VARIANTS[variant].name);
  return { prefix, raw: `${prefix}.raw`, qcow2: `${prefix}.qcow2`, manifest: `${prefix}.manifest.json`, stamp: `${prefix}.inputs.json` };
}

/**
 * Runs fn with the agent bundle the variant needs (undefined when it needs none): the caller's, or
 * src/agents bundled into a scratch directory under outDir that is removed afterwards.
 */
async function withAgents<T>(outDir: string, variant: SampleVariant, given: string | undefined, fn: (agentsDir?: string) => Promise<T>): Promise<T> {
  if (!variantUsesAgents(variant)) return fn(undefined);
  if (given) return fn(resolve(given));
  const scratch = mkdtempSync(join(outDir, '.agents-'));
  try {
    await bundleAgents(scratch);
    return await fn(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function lookup(outDir: string, variant: SampleVariant, env: Record<string, string>, agentsDir: string | undefined): SampleImage | undefined {
  const p = paths(outDir, variant);
  const key = inputsKey(env, { variant, agentsDir });
  if (!stampValid(readStamp(p.stamp), key)) return undefined;
  return { variant, raw: p.raw, qcow2: p.qcow2, manifest: p.manifest, cached: true, key, seconds: 0 };
}

/**
 * The outputs in outDir (default: the variant's directory in the cache) when an earlier build had
 * the same inputs and its files are still there with the sizes it recorded; undefined when a build
 * is needed. Does not wait for a running build. Bundles the agents first when the variant has them
 * and opts gives no bundle.
 */
export async function cachedSampleImage(outDir: string | undefined, opts: SampleImageOptions = {}): Promise<SampleImage | undefined> {
  const variant = opts.variant ?? 'default';
  const dir = resolve(outDir ?? defaultSampleImageDir(variant));
  const env = sampleEnv(opts.env);
  mkdirSync(dir, { recursive: true });
  return withAgents(dir, variant, opts.agentsDir ?? env[AGENTS_DIR_VAR], async (agentsDir) => lookup(dir, variant, env, agentsDir));
}

/**
 * Builds a sample image into outDir (default ~/.cache/bootstack/images/<name>) as <name>.raw and
 * <name>.qcow2, unless a build with the same inputs is already there (name: `sample`, or
 * `sample-cloud-init` for the cloud-init variant). Concurrent callers of one variant and directory
 * wait for each other. Needs root (the image builder does).
 */
export async function buildSampleImage(outDir?: string, opts: SampleImageOptions = {}): Promise<SampleImage> {
  const started = Date.now();
  const variant = opts.variant ?? 'default';
  const { name, elements } = SAMPLE_VARIANTS[variant];
  const dir = resolve(outDir ?? defaultSampleImageDir(variant));
  mkdirSync(dir, { recursive: true });
  const env = sampleEnv(opts.env);
  const p = paths(dir, variant);
  const release = await acquireDirLock(join(dir, `.${name}.lock`), {
    signal: opts.signal,
    onWait: () => opts.log?.(`waiting for another build of the ${name} image in ${dir}`),
  });
  try {
    return await withAgents(dir, variant, opts.agentsDir ?? env[AGENTS_DIR_VAR], async (agentsDir) => {
      const hit = opts.force ? undefined : lookup(dir, variant, env, agentsDir);
      if (hit) {
        opts.log?.(`${name} image: inputs unchanged (${hit.key.slice(0, 12)}), reusing ${p.raw}`);
        return { ...hit, seconds: (Date.now() - started) / 1000 };
      }
      const key = inputsKey(env, { variant, agentsDir });
      // A stale stamp must never vouch for outputs a failed rebuild may have half-replaced.
      rmSync(p.stamp, { force: true });
      const buildEnv = agentsDir ? { ...env, [AGENTS_DIR_VAR]: agentsDir } : env;
      const r = await buildImage({ elements: [...elements], output: p.prefix, types: TYPES, env: buildEnv, log: opts.log, signal: opts.signal });
      const stamp: Stamp = { key, outputs: r.outputs.map((o) => ({ path: o.path, bytes: o.bytes })) };
      writeFileSync(`${p.stamp}.partial`, JSON.stringify(stamp, null, 2) + '\n');
      renameSync(`${p.stamp}.partial`, p.stamp);
      return { variant, raw: p.raw, qcow2: p.qcow2, manifest: p.manifest, cached: false, key, seconds: (Date.now() - started) / 1000 };
    });
  } finally {
    release();
  }
}
