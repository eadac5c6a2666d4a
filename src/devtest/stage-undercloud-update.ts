// Stage `undercloud-update`: the undercloud updates its own stack (the one the seed made and handed
// over) with a changed configuration parameter — log_level, debug ⇄ info. The new metadata reaches
// the undercloud's own os-collect-config, os-apply-config re-renders /etc/bootstack/bootstack.yaml,
// and os-refresh-config restarts the server, which resumes the update it was running and takes the
// deployment's signal. Checked: the file has the new level, the server's pid changed, and the
// undercloud holds the same records after as before.
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { inventorySummary, requireSameRecords, takeInventory } from './inventory.js';
import type { DevtestLayout } from './layout.js';
import { ssh, undercloudServer, type ProcessMemory } from './ssh.js';
import { updateStack } from './stacks.js';
import type { StageIo } from './stage-io.js';
import { UNDERCLOUD_STACK, waitForAnswer, type UndercloudOutput } from './stage-undercloud.js';
import { sleep } from '../common/sleep.js';

export interface UndercloudUpdateInput {
  layout: DevtestLayout;
  undercloud: UndercloudOutput;
  timeoutMinutes: number;
  intervalMs?: number;
  /** How long the server may take to restart after the update completes, ms (default 5 minutes). */
  restartTimeoutMs?: number;
}

export interface UndercloudUpdateOutput {
  log_level: string;
  pid_before: number;
  pid_after: number;
  memory_after?: ProcessMemory;
  /** From the stack update to the restarted server answering, seconds. */
  update_s: number;
}

export async function runUndercloudUpdateStage(input: UndercloudUpdateInput, deps: { clients: Clients }, io: StageIo): Promise<UndercloudUpdateOutput> {
  const { clients } = deps;
  const host = new URL(input.undercloud.api_url).hostname;
  const shown = await clients.openstackJson<{ parameters?: Record<string, string> }>('undercloud', ['stack', 'show', UNDERCLOUD_STACK], { signal: io.signal });
  const level = shown.parameters?.log_level === 'debug' ? 'info' : 'debug';
  const before = await takeInventory(clients, 'undercloud', io.signal);
  const server = await undercloudServer(clients, input.layout.key, host, io.signal);
  if (!server) throw new BootstackError(500, 'not_running', `the undercloud's bootstack unit has no main process (ssh root@${host} systemctl status bootstack)`);
  io.progress(`the undercloud holds ${inventorySummary(before)}; its server is pid ${server.pid}; log_level ${shown.parameters?.log_level ?? '?'} → ${level}`);

  const started = Date.now();
  await updateStack(clients, { cloud: 'undercloud', name: UNDERCLOUD_STACK, parameters: { log_level: level }, timeoutMinutes: input.timeoutMinutes, ...(input.intervalMs ? { intervalMs: input.intervalMs } : {}) }, io);
  // The deployment's signal comes from the machine's configure step, before os-refresh-config's
  // post-configure step restarts the server: UPDATE_COMPLETE may precede the restart. So wait for
  // the restart itself (a new main pid) and for the API to answer again.
  const after = await waitRestarted(clients, input.layout.key, host, server.pid, input.restartTimeoutMs ?? 300_000, input.intervalMs ?? 3000, io);
  await waitForAnswer(`${input.undercloud.api_url.replace(/\/+$/, '')}/`, 180_000, io);
  const seconds = Math.round((Date.now() - started) / 1000);

  const rendered = await ssh(clients, input.layout.key, host, "sed -n '/^log:/,/^[^ ]/p' /etc/bootstack/bootstack.yaml", io.signal);
  if (!new RegExp(`^\\s+level: ${level}$`, 'm').test(rendered.stdout)) {
    throw new BootstackError(500, 'not_rendered', `/etc/bootstack/bootstack.yaml on ${host} does not say log level ${level} after the update: ${rendered.stdout.trim() || rendered.stderr.trim()}`);
  }
  const inventory = await takeInventory(clients, 'undercloud', io.signal);
  requireSameRecords(before, inventory, { before: 'the undercloud before its own update', after: 'the undercloud after it' });
  io.progress(`updated in ${seconds} s: bootstack.yaml says level ${level}, the server restarted (pid ${server.pid} → ${after.pid}, RSS ${after.rss_mib} MiB), and it holds the same ${inventorySummary(inventory)}`);
  return { log_level: level, pid_before: server.pid, pid_after: after.pid, memory_after: after, update_s: seconds };
}

/** Until the `bootstack` unit's main pid is another than `pid` (the server restarted). */
async function waitRestarted(clients: Clients, key: string, host: string, pid: number, timeoutMs: number, intervalMs: number, io: StageIo): Promise<ProcessMemory> {
  const end = Date.now() + timeoutMs;
  let last: ProcessMemory | undefined;
  for (;;) {
    last = await undercloudServer(clients, key, host, io.signal);
    if (last && last.pid !== pid) return last;
    if (Date.now() > end) {
      throw new BootstackError(500, 'not_restarted', `the undercloud's server ${last ? `is still pid ${last.pid}` : 'is not running'} ${timeoutMs / 1000} s after its stack update completed (ssh root@${host} journalctl -u os-collect-config)`);
    }
    await sleep(intervalMs);
  }
}
