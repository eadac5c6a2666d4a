// Runs one hook the way dib-run-parts does: in a fresh bash that first sources the phase's
// environment.d files (under `set -eu -o pipefail`), then executes the hook — inside the image's
// chroot for chroot phases. Output is kept (its tail goes into the error) and can be streamed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootstackError } from '../common/errors.js';
import { spawn } from 'node:child_process';

export const IN_TARGET = '/tmp/in_target.d';
const RUNNER = 'bootstack-run-hook';

const RUNNER_SCRIPT = `#!/bin/bash
# Written by bootstack image build: source environment.d, then run the hook given as $1.
set -eu
set -o pipefail
for env_file in \${BOOTSTACK_ENV_FILES:-}; do
  source "$TMP_HOOKS_PATH/environment.d/$env_file"
done
exec "$@"
`;

export function installRunner(hooksDir: string): void {
  writeFileSync(join(hooksDir, RUNNER), RUNNER_SCRIPT, { mode: 0o755 });
}

export class HookFailedError extends BootstackError {
  constructor(
    readonly element: string,
    readonly phase: string,
    readonly hookPath: string,
    readonly exitCode: number | null,
    readonly outputTail: string,
  ) {
    super(
      500,
      'hook_failed',
      `hook ${phase}/${hookPath.split('/').pop()} of element ${element} failed ` +
        `(${exitCode === null ? 'killed' : `exit code ${exitCode}`}): ${hookPath}\n--- last lines of its output ---\n${outputTail}`,
      { fields: { element, phase, hook: hookPath, exitCode } },
    );
  }
}

export class BuildInterruptedError extends BootstackError {
  constructor(where: string) {
    super(499, 'interrupted', `build interrupted during ${where}; mounts, processes and temporary files were cleaned up`, {
      fields: { where },
    });
  }
}

export interface HookRun {
  phase: string;
  name: string;
  element: string;
  /** Host path of the hook (for messages). */
  hostPath: string;
  inChroot: boolean;
  /** What to run, relative to the hooks directory, with arguments; default: the hook itself. */
  argv?: string[];
}

export interface HookContext {
  root: string;
  hooksDir: string;
  workDir: string;
  env: Record<string, string>;
  envFiles: string[];
  verbose: boolean;
  signal?: AbortSignal;
  write: (chunk: string) => void;
}

const TAIL_LINES = 30;

export async function runHook(hook: HookRun, ctx: HookContext): Promise<void> {
  const env: Record<string, string> = {
    ...ctx.env,
    BOOTSTACK_ENV_FILES: ctx.envFiles.join(' '),
  };
  const argv = hook.argv ?? [`${hook.phase}/${hook.name}`];
  let command: string;
  let args: string[];
  if (hook.inChroot) {
    env.TMP_HOOKS_PATH = IN_TARGET;
    env.PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${IN_TARGET}/bin`;
    delete env.TARGET_ROOT;
    command = 'chroot';
    args = [ctx.root, `${IN_TARGET}/${RUNNER}`, `${IN_TARGET}/${argv[0]}`, ...argv.slice(1)];
  } else {
    env.TMP_HOOKS_PATH = ctx.hooksDir;
    env.PATH = `${ctx.hooksDir}/bin:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
    command = join(ctx.hooksDir, RUNNER);
    args = [join(ctx.hooksDir, argv[0]!), ...argv.slice(1)];
  }
  let output = '';
  const onChunk = (c: Buffer) => {
    const s = c.toString('utf8');
    output = (output + s).slice(-64 * 1024);
    if (ctx.verbose) ctx.write(s);
  };
  // cwd inside the work directory: cleanup finds and kills anything a hook left running there.
  const r = await spawnHook(command, args, env, ctx.workDir, onChunk, ctx.signal);
  if (ctx.signal?.aborted) throw new BuildInterruptedError(`${hook.phase}/${hook.name} of element ${hook.element}`);
  if (r.code !== 0) {
    const tail = output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
    throw new HookFailedError(hook.element, hook.phase, hook.hostPath, r.code, tail);
  }
}

/**
 * Runs the hook and resolves when it exits — not when its output pipes close: a hook may leave a
 * daemon running that holds them open (cleanup kills it later).
 */
function spawnHook(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  onChunk: (c: Buffer) => void,
  signal?: AbortSignal,
): Promise<{ code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', onChunk);
    child.stderr.on('data', onChunk);
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      // Let output already written drain, then stop listening to pipes a leftover process holds.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code });
      }, 200);
    });
  });
}
