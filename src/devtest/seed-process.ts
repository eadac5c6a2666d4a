// The seed as a detached process (`bootstack serve -c <dir>/seed/bootstack.yaml`, its own session
// and process group, like lab-demo.sh's setsid) that outlives the devtest command, and stopping it
// again by its pid file — only if the pid still names that command line (a stale file's pid may
// belong to an unrelated process by now), SIGTERM first (it stops its dnsmasq itself), then, after
// a grace period, SIGKILL to its process group so no dnsmasq is left serving DHCP on the lab network.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { BootstackError } from '../common/errors.js';
import { join } from 'node:path';
import { INSTALL_ROOT, SERVER_DIR } from '../common/paths.js';
import { sleep } from '../common/sleep.js';
import { BOOTSTACK_BIN } from './clients.js';

export interface SeedFiles {
  config: string;
  pid: string;
  /** stdout: "bootstack serving on <url>". */
  out: string;
  /** stderr: the seed's log. */
  log: string;
}

export interface SeedControl {
  start(files: SeedFiles, o?: { timeoutMs?: number; signal?: AbortSignal }): Promise<{ pid: number; url: string }>;
  stop(files: SeedFiles, o?: { graceMs?: number }): Promise<StopResult>;
  /** The pid of the seed these files describe, when it runs. */
  running(files: SeedFiles): number | undefined;
}

/** `stopped` by SIGTERM; `killed` after the grace period; `not running` (also: the pid file named another process). */
export type StopResult = 'stopped' | 'killed' | 'not running';

/** Alive and not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The programs a seed of this installation may run as: the one this process would start, and the
 * other form of it (a checkout runs dist/server/bootstack.mjs when the build is up to date, else
 * bin/bootstack.js; a clean run while the build is stale must still find a seed the build started).
 */
export const SEED_ENTRIES: readonly string[] = [...new Set([BOOTSTACK_BIN, join(SERVER_DIR, 'bootstack.mjs'), join(INSTALL_ROOT, 'bin', 'bootstack.js')])];

/** Does `pid` run `<node> <bin> serve -c <config>` (nothing more), with `bin` one of `bins`? */
export function isSeedProcess(pid: number, config: string, bins: string | readonly string[] = SEED_ENTRIES): boolean {
  const accepted = typeof bins === 'string' ? [bins] : bins;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  if (argv.at(-1) === '') argv.pop();
  return argv.length === 5 && accepted.includes(argv[1]!) && argv[2] === 'serve' && argv[3] === '-c' && argv[4] === config;
}

function readPid(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

export function seedProcess(bin = BOOTSTACK_BIN): SeedControl {
  const running = (files: SeedFiles): number | undefined => {
    const pid = readPid(files.pid);
    return pid !== undefined && processAlive(pid) && isSeedProcess(pid, files.config, bin === BOOTSTACK_BIN ? SEED_ENTRIES : bin) ? pid : undefined;
  };
  const stop: SeedControl['stop'] = async (files, o = {}) => {
    const pid = running(files);
    if (pid === undefined) {
      await rm(files.pid, { force: true });
      return 'not running';
    }
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
    const end = Date.now() + (o.graceMs ?? 10_000);
    while (processAlive(pid) && Date.now() < end) await sleep(100);
    let result: StopResult = 'stopped';
    if (processAlive(pid)) {
      result = 'killed';
      // Its process group: the seed (a session leader, started detached) and its dnsmasq.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      const killedBy = Date.now() + 5000;
      while (processAlive(pid) && Date.now() < killedBy) await sleep(50);
    }
    await rm(files.pid, { force: true });
    return result;
  };
  return {
    running,
    stop,
    async start(files, o = {}) {
      const out = openSync(files.out, 'w');
      const log = openSync(files.log, 'a');
      let child;
      try {
        child = spawn(process.execPath, [bin, 'serve', '-c', files.config], { detached: true, stdio: ['ignore', out, log] });
      } finally {
        closeSync(out);
        closeSync(log);
      }
      const pid = child.pid;
      if (pid === undefined) throw new BootstackError(500, 'seed_failed', `bootstack serve could not be started (see ${files.log})`);
      let exit: string | undefined;
      child.once('exit', (code, signal) => (exit = signal ? `was killed by ${signal}` : `exited with code ${code}`));
      child.unref();
      await writeFile(files.pid, `${pid}\n`);
      const end = Date.now() + (o.timeoutMs ?? 60_000);
      for (;;) {
        const m = /serving on (\S+)/.exec(await readFile(files.out, 'utf8').catch(() => ''));
        if (m) return { pid, url: m[1]! };
        const tail = async () => (await readFile(files.log, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
        if (exit !== undefined || !processAlive(pid)) {
          await rm(files.pid, { force: true });
          throw new BootstackError(500, 'seed_failed', `bootstack serve ${exit ?? 'stopped'} before serving; the end of ${files.log}:\n${await tail()}`);
        }
        if (o.signal?.aborted || Date.now() > end) {
          await stop(files);
          throw new BootstackError(500, 'seed_failed', `bootstack serve did not start serving ${o.signal?.aborted ? 'before the run was interrupted' : `within ${(o.timeoutMs ?? 60_000) / 1000} s`}; the end of ${files.log}:\n${await tail()}`);
        }
        await sleep(100);
      }
    },
  };
}
