// os-refresh-config: runs the phases pre-configure, configure, post-configure and migration (the
// original's order) from the base directory, each through run-parts, under a lock so two runs
// never overlap. The first failing script stops the run: it is named with its exit code, error.d
// runs, and the exit status is 1.
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentIo } from '../common/io.js';
import { parseCommandLine, type OptionSpec } from '../common/argv.js';
import { runParts } from './run-parts.js';
import { acquireLock, LockBusyError, EWOULDBLOCK } from './lock.js';

export const PHASES = ['pre-configure', 'configure', 'post-configure', 'migration'] as const;
export const DEFAULT_BASE_DIR = '/usr/libexec/os-refresh-config';
const OLD_BASE_DIR = '/opt/stack/os-config-refresh';
const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL'];

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export function defaultBaseDir(env: NodeJS.ProcessEnv): string {
  if (env.OS_REFRESH_CONFIG_BASE_DIR !== undefined) return env.OS_REFRESH_CONFIG_BASE_DIR;
  return isDir(OLD_BASE_DIR) && !isDir(DEFAULT_BASE_DIR) ? OLD_BASE_DIR : DEFAULT_BASE_DIR;
}

const SPECS: OptionSpec[] = [
  { names: ['--print-base'], dest: 'printBase', kind: 'flag', help: 'print base dir and exit' },
  { names: ['--print-phases'], dest: 'printPhases', kind: 'flag', help: 'print phases (tab separated) and exit' },
  { names: ['--log-level'], dest: 'logLevel', kind: 'one', help: 'ERROR|WARN|CRITICAL|INFO|DEBUG' },
  { names: ['--lockfile'], dest: 'lockfile', kind: 'one', help: 'lock file (default /var/run/os-refresh-config.lock)' },
  { names: ['--timeout'], dest: 'timeout', kind: 'one', help: 'seconds until the run is terminated' },
];

export async function main(argv: string[], io: AgentIo): Promise<number> {
  const a = parseCommandLine(argv, SPECS, io, 'os-refresh-config', 'Runs every phase to apply and enable configuration (OS_REFRESH_CONFIG_BASE_DIR).');
  if (typeof a === 'number') return a;
  const bad =
    a.logLevel !== undefined && !LEVELS.includes(a.logLevel as string)
      ? `argument --log-level: invalid choice: '${a.logLevel as string}'`
      : a.timeout !== undefined && !/^\s*[-+]?\d+\s*$/.test(a.timeout as string)
        ? `argument --timeout: invalid int value: '${a.timeout as string}'`
        : undefined;
  if (bad) {
    io.stderr(`usage: os-refresh-config [options]\nos-refresh-config: error: ${bad}\n`);
    return 2;
  }
  const base = defaultBaseDir(io.env);
  if (a.printBase) {
    io.stdout(`${base}\n`);
    return 0;
  }
  if (a.printPhases) {
    io.stdout(`${PHASES.join('\t')}\n`);
    return 0;
  }
  const level = LEVELS.indexOf((a.logLevel as string | undefined) ?? 'INFO');
  const log = (lvl: string, msg: string) => {
    if (LEVELS.indexOf(lvl) >= level) io.stderr(`[${new Date().toISOString()}] (os-refresh-config) [${lvl}] ${msg}\n`);
  };
  const lockfile = (a.lockfile as string | undefined) ?? '/var/run/os-refresh-config.lock';
  let lock;
  try {
    lock = await acquireLock(lockfile);
  } catch (err) {
    log('ERROR', (err as Error).message);
    return err instanceof LockBusyError ? EWOULDBLOCK : 1;
  }
  let current: number | undefined;
  let timedOut = false;
  const timeoutS = a.timeout === undefined ? 0 : Number(a.timeout);
  const timer =
    timeoutS > 0
      ? setTimeout(() => {
          timedOut = true;
          log('ERROR', `Timeout reached: ${timeoutS}s. Sending SIGKILL to all children`);
          if (current !== undefined) {
            try {
              process.kill(-current, 'SIGKILL');
            } catch {
              // Already gone.
            }
          }
        }, timeoutS * 1000)
      : undefined;
  try {
    for (const phase of PHASES) {
      const dir = join(base, `${phase}.d`);
      if (!existsSync(dir)) {
        log('DEBUG', `No dir for phase ${phase}`);
        continue;
      }
      log('INFO', `Starting phase ${phase}`);
      const failed = await runParts(dir, {
        env: io.env,
        log: (m) => io.stderr(`dib-run-parts ${new Date().toString()} ${m}\n`),
        onChild: (pid) => (current = pid),
      });
      if (failed) {
        const how = failed.signal ? `was killed by ${failed.signal}` : `returned non-zero exit status ${failed.code}`;
        log('ERROR', `during ${phase} phase. [${failed.script} ${how}]${timedOut ? ' (timeout)' : ''}\n`);
        const errorDir = join(base, 'error.d');
        if (existsSync(errorDir)) {
          log('INFO', 'Calling error handlers.');
          await runParts(errorDir, { env: io.env, log: (m) => io.stderr(`dib-run-parts ${new Date().toString()} ${m}\n`) }).catch(() => undefined);
        }
        log('ERROR', 'Aborting...');
        return 1;
      }
      log('INFO', `Completed phase ${phase}`);
    }
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    await lock.release();
  }
}
