// Stage `replace`: the undercloud replaces an overcloud machine. The database server is marked
// unhealthy and the overcloud stack updated (`--existing`, nothing else changed), which makes a
// new server on a free machine, re-runs the database's deployment there, points the web
// machines' deployments at its new address and deletes the old server, whose machine is cleaned
// back into the pool. The smoke test then passes again, through the new database.
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { updateStack } from './stacks.js';
import type { SmokeReport } from './smoke.js';
import { OVERCLOUD_STACK, type OvercloudOutput } from './stage-overcloud.js';
import type { SmokeFn } from './stage-smoke.js';
import type { StageIo } from './stage-io.js';
import { sleep } from '../common/sleep.js';

export const REPLACED_RESOURCE = 'db';

export interface ReplaceInput {
  overcloud: OvercloudOutput;
  timeoutMinutes: number;
  /** How long the old server's machine may take to be available again, ms (default 15 minutes). */
  settleTimeoutMs?: number;
  intervalMs?: number;
}

export interface ReplaceOutput {
  resource: string;
  old_server: string;
  new_server: string;
  db_address: string;
  /** The stack update's time, seconds. */
  update_s: number;
  smoke: SmokeReport;
}

/** Node states a machine passes through on its way back to the pool or into use. */
const SETTLED = new Set(['active', 'available', 'manageable', 'enroll']);

export async function runReplaceStage(input: ReplaceInput, deps: { clients: Clients; smoke: SmokeFn }, io: StageIo): Promise<ReplaceOutput> {
  const { clients } = deps;
  const physicalId = async () => {
    const r = await clients.openstackJson<{ physical_resource_id?: string }>('overcloud', ['stack', 'resource', 'show', OVERCLOUD_STACK, REPLACED_RESOURCE], { signal: io.signal });
    if (!r.physical_resource_id) throw new BootstackError(500, 'stack_failed', `stack ${OVERCLOUD_STACK}'s resource ${REPLACED_RESOURCE} has no server`);
    return r.physical_resource_id;
  };
  const oldServer = await physicalId();
  io.progress(`marking ${REPLACED_RESOURCE} (server ${oldServer}) unhealthy: the next update replaces it`);
  await clients.openstack('overcloud', ['stack', 'resource', 'mark', 'unhealthy', OVERCLOUD_STACK, REPLACED_RESOURCE, 'devtest: replace the database machine'], { signal: io.signal });
  const started = Date.now();
  const stack = await updateStack(clients, { cloud: 'overcloud', name: OVERCLOUD_STACK, timeoutMinutes: input.timeoutMinutes, ...(input.intervalMs ? { intervalMs: input.intervalMs } : {}) }, io);
  const updateSeconds = Math.round((Date.now() - started) / 1000);
  const newServer = await physicalId();
  if (newServer === oldServer) throw new BootstackError(500, 'not_replaced', `stack ${OVERCLOUD_STACK} is ${stack.status} but ${REPLACED_RESOURCE} is still server ${oldServer}`);
  const servers = await clients.openstackJson<Array<{ ID: string }>>('overcloud', ['server', 'list'], { signal: io.signal });
  if (servers.some((s) => s.ID === oldServer)) throw new BootstackError(500, 'not_replaced', `the replaced server ${oldServer} is still listed (openstack --os-cloud overcloud server list)`);
  const dbAddress = typeof stack.outputs.db_address === 'string' ? stack.outputs.db_address : '';
  io.progress(`${REPLACED_RESOURCE} is server ${newServer} at ${dbAddress} (was ${oldServer}, deleted) after ${updateSeconds} s`);

  await waitSettled(clients, io, input.settleTimeoutMs ?? 15 * 60_000, input.intervalMs ?? 10_000);
  const smoke = await deps.smoke(input.overcloud.web_urls, { log: io.progress, signal: io.signal });
  io.progress(`after the replacement: ${smoke.webs.map((w) => w.hostname).join(', ')} answer; ${smoke.key} written and read back through the new database`);
  return { resource: REPLACED_RESOURCE, old_server: oldServer, new_server: newServer, db_address: dbAddress, update_s: updateSeconds, smoke };
}

/** Until no node is on its way somewhere (the old server's machine cleaned and available again). */
async function waitSettled(clients: Clients, io: StageIo, timeoutMs: number, intervalMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const nodes = await clients.openstackJson<Array<Record<string, unknown>>>('undercloud', ['baremetal', 'node', 'list'], { signal: io.signal });
    const moving = nodes.filter((n) => !SETTLED.has(String(n['Provisioning State'])));
    const now = moving.map((n) => `${String(n.Name ?? n.UUID)} ${String(n['Provisioning State'])}`).join(', ');
    if (!moving.length) return;
    const failed = moving.filter((n) => / failed$/.test(String(n['Provisioning State'])));
    if (failed.length) throw new BootstackError(500, 'node_failed', `${failed.map((n) => `${String(n.Name ?? n.UUID)} is ${String(n['Provisioning State'])}`).join(', ')} (openstack --os-cloud undercloud baremetal node show <node> -f json: last_error)`);
    if (now !== last) io.progress(`waiting for ${now}`);
    last = now;
    if (Date.now() > end) throw new BootstackError(504, 'not_settled', `nodes still on their way after ${timeoutMs / 1000} s: ${now} (openstack --os-cloud undercloud baremetal node list)`);
    await sleep(intervalMs);
  }
}
