// Where the deploy ramdisk's start goes, on the machine's own clock: /proc/uptime (seconds since
// the kernel started) read at each stage the agent can know, sent with the lookup. The seed only
// subtracts them from each other, so neither clock needs to agree with the seed's.
import { readFileSync } from 'node:fs';

/** Guest uptimes in seconds; each optional (a stage the agent could not see is left out). */
export interface BootStages {
  /** The ramdisk's /init running (it exports BOOTSTACK_INIT_UPTIME right after mounting /proc). */
  init_s?: number;
  /** The agent's Node process started (before Node loaded the bundle). */
  agent_start_s?: number;
  /** The agent's code running (the bundle loaded, main() entered). */
  agent_ready_s?: number;
  /** The provisioning network configured (DHCP lease bound). */
  network_s?: number;
  /** The lookup sent (set per attempt by the agent loop). */
  lookup_s?: number;
}

/** Seconds since the kernel started, or undefined without a readable /proc/uptime. */
export function readUptime(path = '/proc/uptime'): number | undefined {
  try {
    const first = Number(readFileSync(path, 'utf8').split(/\s+/)[0]);
    return Number.isFinite(first) && first >= 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

const round = (s: number) => Math.round(s * 1000) / 1000;

/**
 * The stages known when main() starts. Only reported when the ramdisk's /init started us (it sets
 * BOOTSTACK_INIT_UPTIME): an agent run by hand on a long-running host would report uptimes of days.
 */
export function startStages(env: NodeJS.ProcessEnv, uptimeNow: number | undefined, processUptimeS: number): BootStages | undefined {
  const init = env.BOOTSTACK_INIT_UPTIME;
  if (init === undefined || uptimeNow === undefined) return undefined;
  const stages: BootStages = { agent_start_s: round(Math.max(0, uptimeNow - processUptimeS)), agent_ready_s: round(uptimeNow) };
  const initS = Number(init);
  if (init.trim() !== '' && Number.isFinite(initS) && initS >= 0) stages.init_s = round(initS);
  return stages;
}

/** A stage's reading: the current uptime, rounded to the millisecond. */
export function stamp(uptimeNow: number | undefined): number | undefined {
  return uptimeNow === undefined ? undefined : round(uptimeNow);
}
