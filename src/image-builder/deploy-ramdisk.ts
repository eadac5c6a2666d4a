// The deploy ramdisk, built when needed: `buildDeployRamdisk(outDir)` returns <outDir>/deploy.kernel
// and <outDir>/deploy.initramfs, building them with the image builder (debian-minimal +
// deploy-ramdisk) only when they are missing or were built from other inputs. The inputs hash covers
// every file of the elements involved and the deploy agent bundle, so a changed agent or element
// rebuilds and an unchanged one costs a hash. What it cannot see is a newer Debian package on the
// mirror: `force` rebuilds. The lab, the demo and the tests call this instead of the CLI.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../common/child-process.js';
import { AGENTS_DIR, BUNDLED } from '../common/paths.js';
import { ValidationError } from '../common/errors.js';
import { cacheDir } from './base.js';
import { BUILTIN_ELEMENTS, buildImage, type BuildOptions, type BuildResult } from './build.js';
import { acquireDirLock } from './dir-lock.js';
import { digestBuilderCode, digestTree } from './inputs-digest.js';
import { resolveElements } from './elements.js';
import { sha256File } from './outputs.js';

export const DEPLOY_RAMDISK_ELEMENTS = ['debian-minimal', 'deploy-ramdisk'];
const REPO = resolve(BUILTIN_ELEMENTS, '..');
const BUNDLER = join(REPO, 'scripts', 'bundle-agents.mjs');
/** Environment that changes what the elements do (module list, release, mirror). */
const ENV_INPUTS = ['DIB_RAMDISK_MODULES', 'DIB_RELEASE', 'DIB_DISTRIBUTION_MIRROR', 'DIB_DEBIAN_COMPONENTS'];

export interface DeployRamdisk {
  kernel: string;
  initramfs: string;
  /** False when the outputs on disk matched the inputs and nothing was built. */
  built: boolean;
  inputsHash: string;
  /** Seconds spent building (0 when cached). */
  seconds: number;
}

export interface DeployRamdiskOptions {
  /** Directory holding the `deploy-agent` bundle; default: bundle src/agents afresh (esbuild, ~2 s). */
  agentsDir?: string;
  /** Rebuild even when the inputs match (a Debian security update, say). */
  force?: boolean;
  offline?: boolean;
  cacheDir?: string;
  elementsPath?: string[];
  /** DIB_* variables for the build (default: those of process.env). */
  env?: Record<string, string>;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The build itself; tests pass a stand-in. */
  build?: (opts: BuildOptions) => Promise<BuildResult>;
}

interface Stamp {
  inputsHash: string;
  kernelSha256: string;
  initramfsSha256: string;
  elements: string[];
  builtAt: string;
}

/**
 * The hash of what the ramdisk is made from: each element's files (name, mode, content), the
 * builder's code, the agent bundle's content and the environment that steers the elements.
 */
export function deployRamdiskInputsHash(o: { elementsPath: string[]; agentBundle: string; env: Record<string, string> }): string {
  const h = createHash('sha256');
  for (const element of resolveElements(DEPLOY_RAMDISK_ELEMENTS, o.elementsPath)) {
    h.update(`element ${element.name}\n`);
    digestTree(h, element.path);
  }
  digestBuilderCode(h);
  h.update('agent\0');
  h.update(readFileSync(o.agentBundle));
  for (const k of ENV_INPUTS) h.update(`${k}=${o.env[k] ?? ''}\0`);
  return h.digest('hex');
}

/**
 * Bundles the in-instance tools from src/agents into dir (scripts/bundle-agents.mjs, ~1 s). Images
 * that carry agents bundle afresh into a scratch directory for every build or cache check, so
 * they never pick up a stale or missing dist/agents; the output is deterministic, so its content
 * can be part of an inputs hash. The production build (dist/server) has neither the sources nor
 * the bundler: it copies the bundles made from the same sources when it was built.
 */
export async function bundleAgents(dir: string): Promise<void> {
  if (BUNDLED) {
    cpSync(AGENTS_DIR, dir, { recursive: true });
    return;
  }
  await run(process.execPath, [BUNDLER, '--outdir', dir], { timeoutMs: 120_000 });
}

function readStamp(path: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

export async function buildDeployRamdisk(outDir: string, opts: DeployRamdiskOptions = {}): Promise<DeployRamdisk> {
  const log = opts.log ?? (() => {});
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const prefix = join(out, 'deploy');
  const kernel = `${prefix}.kernel`;
  const initramfs = `${prefix}.initramfs`;
  const stampPath = `${prefix}.inputs.json`;
  const elementsPath = [...(opts.elementsPath ?? []), BUILTIN_ELEMENTS];
  const env =
    opts.env ?? (Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('DIB_') && v !== undefined)) as Record<string, string>);

  // One build per output directory at a time; a second caller waits and then finds it cached.
  const release = await acquireDirLock(`${prefix}.lock`, { signal: opts.signal, onWait: () => log(`waiting for another build of ${prefix}`) });
  let scratch: string | undefined;
  try {
    let agentsDir = opts.agentsDir;
    if (!agentsDir) {
      scratch = mkdtempSync(join(out, '.agents-'));
      await bundleAgents(scratch);
      agentsDir = scratch;
    }
    const agentBundle = join(agentsDir, 'deploy-agent');
    if (!existsSync(agentBundle)) {
      throw new ValidationError(`no deploy agent bundle at ${agentBundle}: run 'npm run bundle' or pass agentsDir`, { path: 'agentsDir' });
    }
    const inputsHash = deployRamdiskInputsHash({ elementsPath, agentBundle, env });

    const stamp = readStamp(stampPath);
    if (!opts.force && stamp?.inputsHash === inputsHash && existsSync(kernel) && existsSync(initramfs)) {
      // The files must be the ones the stamp names, not a half-copied or replaced initramfs.
      if ((await sha256File(kernel)) === stamp.kernelSha256 && (await sha256File(initramfs)) === stamp.initramfsSha256) {
        log(`deploy ramdisk: cached ${initramfs} (inputs ${inputsHash.slice(0, 12)})`);
        return { kernel, initramfs, built: false, inputsHash, seconds: 0 };
      }
    }

    log(`deploy ramdisk: building ${prefix} (inputs ${inputsHash.slice(0, 12)})`);
    rmSync(stampPath, { force: true });
    const started = Date.now();
    const build = opts.build ?? buildImage;
    const result = await build({
      elements: DEPLOY_RAMDISK_ELEMENTS,
      output: prefix,
      types: ['initramfs'],
      elementsPath: opts.elementsPath,
      offline: opts.offline,
      cacheDir: opts.cacheDir,
      env: { ...env, DIB_BOOTSTACK_AGENTS_DIR: agentsDir },
      signal: opts.signal,
      log,
    });
    const sha = (type: string) => {
      const o = result.outputs.find((x) => x.type === type);
      if (!o) throw new ValidationError(`the deploy ramdisk build made no ${type} output`, { path: type });
      return o.sha256;
    };
    const next: Stamp = {
      inputsHash,
      kernelSha256: sha('kernel'),
      initramfsSha256: sha('initramfs'),
      elements: result.elements,
      builtAt: new Date().toISOString(),
    };
    writeFileSync(stampPath, JSON.stringify(next, null, 2) + '\n');
    return { kernel, initramfs, built: true, inputsHash, seconds: (Date.now() - started) / 1000 };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    release();
  }
}

/** Where the demo and the lab keep the ramdisk by default: in the build cache, one per checkout. */
export function defaultDeployRamdiskDir(cache = cacheDir()): string {
  return join(cache, 'deploy-ramdisk', createHash('sha256').update(REPO).digest('hex').slice(0, 12));
}
