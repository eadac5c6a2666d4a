// Stage `seed-stop`: after the pivot the undercloud owns the lab, so the seed stops (its dnsmasq
// with it: two DHCP servers on one network would fight over the machines). First, the
// undercloud's own machine must have followed its records: the metadata the handed-over seed
// serves names the undercloud, and the machine's os-collect-config re-renders its configuration
// from it (docs/pivot.md). Stopping the seed before that would leave the undercloud's own
// configuration loop polling a server that is gone.
import { readFileSync } from 'node:fs';
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import type { DevtestLayout } from './layout.js';
import type { SeedControl, StopResult } from './seed-process.js';
import { seedFiles } from './stage-seed.js';
import type { StageIo } from './stage-io.js';
import type { UndercloudOutput } from './stage-undercloud.js';
import { parseProcStatus, sshArgs, type ProcessMemory } from './ssh.js';
import { sleep } from '../common/sleep.js';

export interface SeedStopOutput {
  result: StopResult;
  /** Seconds until the undercloud's os-collect-config named the undercloud. */
  followed_after_s?: number;
  /** The seed's server process just before it stopped (its dnsmasq not counted). */
  seed_memory?: ProcessMemory;
}

export interface SeedStopInput {
  layout: DevtestLayout;
  undercloud?: UndercloudOutput;
  /** How long the undercloud machine may take to follow its records (default 5 minutes). */
  followTimeoutMs?: number;
}

export async function runSeedStopStage(input: SeedStopInput, deps: { seed: SeedControl; clients?: Clients }, io: StageIo): Promise<SeedStopOutput> {
  let followed: number | undefined;
  if (input.undercloud && deps.clients) followed = await waitFollowed(input, deps.clients, io);
  const files = seedFiles(input.layout);
  const pid = deps.seed.running(files);
  let memory: ProcessMemory | undefined;
  if (pid !== undefined) {
    try {
      memory = parseProcStatus(pid, readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      memory = undefined; // it stopped on its own meanwhile
    }
    if (memory) io.progress(`the seed's server (pid ${pid}): RSS ${memory.rss_mib} MiB, peak ${memory.peak_rss_mib} MiB`);
  }
  const result = await deps.seed.stop(files);
  io.progress(
    result === 'not running'
      ? 'the seed was not running'
      : result === 'killed'
        ? 'the seed did not stop within 10 s of SIGTERM: killed it and its dnsmasq'
        : 'the seed stopped',
  );
  return { result, ...(followed !== undefined ? { followed_after_s: followed } : {}), ...(memory ? { seed_memory: memory } : {}) };
}

/** Until /etc/os-collect-config.conf on the undercloud names the undercloud's own Keystone. */
async function waitFollowed(input: SeedStopInput, clients: Clients, io: StageIo): Promise<number> {
  const uc = input.undercloud!;
  const host = new URL(uc.api_url).hostname;
  const want = `auth_url = ${uc.api_url.replace(/\/+$/, '')}/identity/v3`;
  const started = Date.now();
  const deadline = started + (input.followTimeoutMs ?? 300_000);
  io.progress(`waiting for the undercloud's os-collect-config to poll the undercloud (${want})`);
  let last = '';
  for (;;) {
    const r = await clients.command(
      'ssh',
      sshArgs(input.layout.key, host, ['grep', '^auth_url', '/etc/os-collect-config.conf']),
      { allowFailure: true, signal: io.signal, timeoutMs: 30_000 },
    );
    last = (r.stdout || r.stderr).trim();
    if (r.code === 0 && last.includes(want)) {
      const s = Math.round((Date.now() - started) / 1000);
      io.progress(`the undercloud follows its records (after ${s} s): ${last}`);
      return s;
    }
    if (Date.now() > deadline) {
      throw new BootstackError(504, 'not_followed', `the undercloud's os-collect-config still polls elsewhere after ${Math.round((Date.now() - started) / 1000)} s (${last || 'no answer'}); the seed is left running. Look at \`journalctl -u os-collect-config\` on ${host}.`);
    }
    await sleep(5000);
  }
}
