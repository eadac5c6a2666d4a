// The run-parts that os-refresh-config uses for each phase (dib-run-parts): in one directory,
// regular files (symlinks followed) that are executable and named [0-9A-Za-z_-]+, in `sort -n`
// order (numeric prefix first, then bytewise), each run in turn; the first that fails stops the
// phase. Files in ../environment.d are sourced first and what they export reaches every script.
import { readdirSync, statSync, accessSync, constants, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** GNU `sort -n` in the C locale: leading number (blanks, optional '-', digits, '.'), then bytes. */
export function compareNumeric(a: string, b: string): number {
  const num = (s: string) => {
    const m = /^\s*(-?)(\d*)(?:\.(\d*))?/.exec(s) as RegExpExecArray;
    const v = Number(`${m[2] || '0'}.${m[3] || '0'}`);
    return m[1] ? -v : v;
  };
  const d = num(a) - num(b);
  if (d !== 0) return d < 0 ? -1 : 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function listParts(dir: string, allowed = /^[0-9A-Za-z_-]+$/): string[] {
  return readdirSync(dir)
    .filter((n) => allowed.test(n) && isRegularFile(join(dir, n)) && isExecutable(join(dir, n)))
    .sort(compareNumeric)
    .map((n) => join(dir, n));
}

/** The environment after sourcing the phase's environment.d files (none: unchanged). */
export async function phaseEnvironment(dir: string, env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  const envDir = join(dir, '..', 'environment.d');
  if (!existsSync(envDir)) return env;
  const files = readdirSync(envDir)
    .filter((n) => /^[0-9A-Za-z_.-]+$/.test(n) && isRegularFile(join(envDir, n)))
    .sort(compareNumeric)
    .map((n) => join(envDir, n));
  if (files.length === 0) return env;
  const script = 'set -ue; set -o pipefail; for f in "$@"; do source "$f"; done; env -0';
  const out = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('bash', ['-c', script, 'environment', ...files], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`sourcing ${envDir} failed with exit code ${code}`)),
    );
  });
  const next: NodeJS.ProcessEnv = {};
  for (const entry of out.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) next[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return next;
}

export interface PartResult {
  script: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunPartsOptions {
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
  /** Called with each started child so a timeout can kill it (and its process group). */
  onChild?: (pid: number) => void;
}

/** Runs the parts of `dir` in order; returns the first failure, or undefined when all succeeded. */
export async function runParts(dir: string, opts: RunPartsOptions): Promise<PartResult | undefined> {
  if (!statSync(dir).isDirectory()) {
    opts.log(`Scripts directory [${dir}] must exist and be a directory`);
    return { script: dir, code: 1, signal: null };
  }
  const allowed = opts.env.RUN_PARTS_REGEX ? new RegExp(opts.env.RUN_PARTS_REGEX) : undefined;
  const env = await phaseEnvironment(dir, opts.env);
  for (const script of listParts(dir, allowed)) {
    opts.log(`Running ${script}`);
    const result = await new Promise<PartResult>((resolve) => {
      // Its own process group, so a timeout can kill whatever the script started too.
      const child = spawn(script, [], { env, stdio: 'inherit', detached: true });
      if (child.pid !== undefined) opts.onChild?.(child.pid);
      child.on('error', () => resolve({ script, code: 126, signal: null }));
      child.on('close', (code, signal) => resolve({ script, code, signal }));
    });
    if (result.code !== 0) return result;
    opts.log(`${script} completed`);
  }
  return undefined;
}
