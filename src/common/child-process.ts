// Runs external programs (dnsmasq, qemu-img, ipmitool, debootstrap...) with a timeout, optional
// stdin and environment, and an error that carries the exit code and the tail of stderr.
import { spawn, type SpawnOptions } from 'node:child_process';
import { CommandError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process (SIGTERM, then SIGKILL 2 s later) after this many ms. Default: no limit. */
  timeoutMs?: number;
  input?: string | Buffer;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  signal?: AbortSignal;
  /** Called with each chunk of output as it arrives (for -v streaming and progress). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Keep at most this many bytes of each stream (default 1 MiB; the tail is kept). */
  maxBuffer?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const STDERR_TAIL = 2000;

/** Runs `command args...` (no shell) and resolves with its output, or rejects with CommandError. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const maxBuffer = options.maxBuffer ?? 1024 * 1024;
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  };
  const printable = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, spawnOptions);
    let stdout = Buffer.alloc(0);
    let stderr = Buffer.alloc(0);
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const keep = (buf: Buffer, chunk: Buffer) => {
      const joined = Buffer.concat([buf, chunk]);
      return joined.length > maxBuffer ? joined.subarray(joined.length - maxBuffer) : joined;
    };
    child.stdout?.on('data', (c: Buffer) => {
      stdout = keep(stdout, c);
      options.onStdout?.(c);
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr = keep(stderr, c);
      options.onStderr?.(c);
    });
    const terminate = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
      killTimer.unref();
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            terminate();
          }, options.timeoutMs);
    const onAbort = () => terminate();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new CommandError(`${command}: ${err.message}`, printable, null, '', { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      const result = { code, signal, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') };
      if (timedOut) {
        reject(
          new CommandError(
            `${command} timed out after ${options.timeoutMs} ms${tail(result.stderr)}`,
            printable,
            code,
            result.stderr,
          ),
        );
      } else if (code !== 0 && !options.allowFailure) {
        const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new CommandError(`${command} ${how}${tail(result.stderr)}`, printable, code, result.stderr));
      } else {
        resolve(result);
      }
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

function tail(stderr: string): string {
  const trimmed = stderr.trim();
  if (!trimmed) return '';
  return `: ${trimmed.length > STDERR_TAIL ? '…' + trimmed.slice(-STDERR_TAIL) : trimmed}`;
}

/** True when `command` is on PATH (used to refuse early with the Debian package to install). */
export async function commandExists(command: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v "$1"`, 'sh', command], { allowFailure: true });
  return r.code === 0;
}
