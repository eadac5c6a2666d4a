// Stage `handover`: with the seed stopped, the undercloud holds everything the seed held — the
// openstack CLI, pointed at the undercloud, lists every node in the state it had on the seed (the
// undercloud's own machine `active`, with the undercloud's server on it), the same images with
// the same checksums, the same servers and stacks (the ids the seed listed before the pivot).
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { inventorySummary, requireSameRecords, takeInventory, type Inventory } from './inventory.js';
import type { DevtestLayout } from './layout.js';
import type { SeedControl } from './seed-process.js';
import { undercloudServer, type ProcessMemory } from './ssh.js';
import type { PivotOutput } from './stage-pivot.js';
import { seedFiles } from './stage-seed.js';
import type { StageIo } from './stage-io.js';
import type { UndercloudOutput } from './stage-undercloud.js';

export interface HandoverInput {
  layout: DevtestLayout;
  pivot: PivotOutput;
  undercloud: UndercloudOutput;
}

export interface HandoverOutput {
  inventory: Inventory;
  /** The node the undercloud runs on. */
  undercloud_node: string;
  /** The undercloud's server process, once it owns everything. */
  undercloud_memory?: ProcessMemory;
}

export async function runHandoverStage(input: HandoverInput, deps: { clients: Clients; seed: SeedControl }, io: StageIo): Promise<HandoverOutput> {
  if (deps.seed.running(seedFiles(input.layout)) !== undefined) {
    throw new BootstackError(409, 'seed_running', 'the seed still runs: the hand-over is checked with the seed stopped (run `bootstack devtest --from seed-stop`)');
  }
  const before = input.pivot.seed_inventory;
  if (!before) throw new BootstackError(409, 'stage_not_done', 'the pivot stage recorded no list of the seed\'s records (an older run): run `bootstack devtest --from pivot`');
  const after = await takeInventory(deps.clients, 'undercloud', io.signal);
  io.progress(`the undercloud holds ${inventorySummary(after)}; the seed held ${inventorySummary(before)}`);
  requireSameRecords(before, after, { before: 'the seed (before the pivot)', after: 'the undercloud' });

  const serverId = input.undercloud.outputs.server_id;
  if (typeof serverId !== 'string' || !serverId) throw new BootstackError(500, 'stack_failed', 'stack undercloud has no server_id output');
  const server = after.servers.find((s) => s.id === serverId);
  if (!server) throw new BootstackError(500, 'records_differ', `the undercloud does not list its own server ${serverId} (openstack --os-cloud undercloud server list)`);
  const node = after.nodes.find((n) => n.instance_uuid === serverId);
  if (!node || node.provision_state !== 'active') {
    throw new BootstackError(500, 'records_differ', `the undercloud's own machine is ${node ? `${node.name ?? node.uuid}, ${node.provision_state}` : 'on no node'}: it should be active with server ${serverId}`);
  }
  const states = new Map<string, number>();
  for (const n of after.nodes) states.set(n.provision_state, (states.get(n.provision_state) ?? 0) + 1);
  io.progress(`nodes: ${[...states].map(([s, n]) => `${n} ${s}`).join(', ')}; ${node.name ?? node.uuid} is active with the undercloud's own server ${server.name} (${server.status})`);
  io.progress(`images: ${after.images.map((i) => `${i.name} ${i.checksum ?? ''}`).join(', ')} — the seed's, checksums equal`);

  const memory = await undercloudServer(deps.clients, input.layout.key, new URL(input.undercloud.api_url).hostname, io.signal);
  if (memory) io.progress(`the undercloud's server (pid ${memory.pid}): RSS ${memory.rss_mib} MiB, peak ${memory.peak_rss_mib} MiB`);
  return { inventory: after, undercloud_node: node.name ?? node.uuid, ...(memory ? { undercloud_memory: memory } : {}) };
}
