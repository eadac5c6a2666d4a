// Compute's virt driver for bare metal, over the bare-metal service (Nova's ironic driver,
// in-process): a host is a node, the hypervisor hostname is the node uuid, and a claim is an
// Ironic allocation — a conditional update of the node row (src/baremetal/allocations.ts), so
// N concurrent spawns on N matching nodes land on N distinct nodes and the N+1th finds none.
// The scheduler's filtering (resource class normalised as Nova does, required and forbidden
// traits, excluded hosts of failed attempts, the ownership rule) picks the candidate nodes
// here; the allocation then claims one of them. The node carries the server as instance_uuid.
// Also: compute's image lookups over the image service, and the deps for src/server/services.ts.
import type { AnyDB } from '../common/db.js';
import { fromJson, toJson, now } from '../common/db.js';
import { BootstackError, ConflictError, NotFoundError } from '../common/errors.js';
import type { ApiService } from '../common/service.js';
import { typed, type BaremetalKysely, type NodeRow } from '../baremetal/db.js';
import type { BaremetalService } from '../baremetal/index.js';
import type { Instances } from '../baremetal/instances.js';
import type { Conductor } from '../baremetal/conductor.js';
import { mayClaimNode } from '../baremetal/ownership.js';
import { maskSecretText } from '../baremetal/secrets.js';
import { TIMELINE_EVENT_TYPE } from '../baremetal/timeline.js';
import { CONSOLE_LOG_DEFAULT_BYTES } from '../baremetal/drivers/interfaces.js';
import type { ImagesApiService } from '../images/index.js';
import { computeNetwork } from './compute-network.js';
import {
  NoValidHostError,
  normaliseResourceClass,
  type ClaimedHost,
  type ComputeDeps,
  type ComputeImages,
  type ConfigDriveContents,
  type DriverAddress,
  type DriverStatus,
  type Hypervisor,
  type SpawnRequest,
  type VirtDriver,
} from '../compute/index.js';
import type { ComputeConfig } from '../compute/config.js';

/** Node ids per status query: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;
/** Candidate nodes handed to one allocation attempt. */
const CLAIM_BATCH = 16;

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

export class BaremetalVirtDriver implements VirtDriver {
  readonly name = 'ironic';
  readonly sharesHosts = false;

  constructor(
    private readonly db: BaremetalKysely,
    private readonly instances: Instances,
    private readonly conductor: Conductor,
    /** Network name for addresses learnt from DHCP (no network service). */
    private readonly provisioningNetwork: string,
    /** The node's serial console (BaremetalService.consoleLog); without it there is none. */
    private readonly nodeConsole?: (nodeUuid: string, maxBytes: number) => Promise<string>,
  ) {}

  async spawn(req: SpawnRequest): Promise<ClaimedHost> {
    const p = req.placement;
    if (!p.resourceClass) {
      throw new NoValidHostError('The flavor names no custom resource class (extra spec resources:CUSTOM_<CLASS>=1), which is how bare-metal nodes are matched.');
    }
    const rows = await this.db
      .selectFrom('baremetal_nodes')
      .select(['uuid', 'resource_class', 'traits', 'owner', 'lessee'])
      .where('provision_state', '=', 'available')
      .where('maintenance', '=', 0)
      .where('retired', '=', 0)
      .where('instance_uuid', 'is', null)
      .where('allocation_uuid', 'is', null)
      .where('reservation', 'is', null)
      .where('resource_class', 'is not', null)
      .execute();
    const excluded = new Set(req.excludeHosts);
    const required = req.requireHosts ? new Set(req.requireHosts) : null;
    const byClass = new Map<string, string[]>();
    for (const n of rows) {
      if (normaliseResourceClass(n.resource_class!) !== p.resourceClass) continue;
      if (!mayClaimNode(n, { project: req.projectId, sharedPool: true })) continue;
      if (excluded.has(n.uuid) || (required && !required.has(n.uuid))) continue;
      if (p.requiredTraits.length || p.forbiddenTraits.length) {
        const traits = new Set(fromJson<string[]>(n.traits, []));
        if (!p.requiredTraits.every((t) => traits.has(t)) || p.forbiddenTraits.some((t) => traits.has(t))) continue;
      }
      const list = byClass.get(n.resource_class!) ?? [];
      list.push(n.uuid);
      byClass.set(n.resource_class!, list);
    }
    const what = `resource class ${p.resourceClass}${p.requiredTraits.length ? `, required traits ${p.requiredTraits.join(', ')}` : ''}${p.forbiddenTraits.length ? `, forbidden traits ${p.forbiddenTraits.join(', ')}` : ''}`;
    if (!byClass.size) {
      throw new NoValidHostError(`No available bare-metal node matches ${what}${excluded.size ? ` (excluding ${excluded.size} node(s) already tried or used by the server group)` : ''}.`);
    }
    let claimed: ClaimedHost | undefined;
    // The allocation reads every candidate row it is given; with 1,000 free nodes and 1,000
    // concurrent creates that was a million full node rows. Candidates go in random batches:
    // the claim is still the allocation's conditional update, and a batch whose nodes were all
    // taken meanwhile just moves on to the next one, so no matching node is skipped.
    const batches: [string, string[]][] = [];
    for (const [resourceClass, candidates] of byClass) {
      shuffle(candidates);
      for (let i = 0; i < candidates.length; i += CLAIM_BATCH) batches.push([resourceClass, candidates.slice(i, i + CLAIM_BATCH)]);
    }
    for (const [resourceClass, candidates] of batches) {
      try {
        await this.instances.create({
          id: req.serverId,
          name: req.name,
          project: req.projectId,
          resourceClass,
          traits: p.requiredTraits,
          imageSource: req.imageId,
          candidateNodes: candidates,
          user: req.userId,
          configDrive: req.configDrive,
          configdrive: async (node) => {
            claimed = { hypervisorHostname: node.uuid, macs: node.macs };
            return toIronicConfigDrive(await req.prepare(claimed));
          },
        });
        return claimed!;
      } catch (err) {
        // Every candidate of this batch was taken by concurrent claims: try the next batch.
        if (err instanceof ConflictError && /^Cannot place instance/.test(err.message)) continue;
        throw err;
      }
    }
    throw new NoValidHostError(`Every bare-metal node matching ${what} was claimed by another request.`);
  }

  async destroy(serverId: string, projectId: string): Promise<void> {
    await this.instances.delete(serverId, projectId);
  }

  /** The node holding the server for this project, or 404. */
  private async nodeOf(serverId: string, projectId: string): Promise<NodeRow> {
    const node = await this.db.selectFrom('baremetal_nodes').selectAll().where('instance_uuid', '=', serverId).executeTakeFirst();
    if (!node || ownerOf(node) !== projectId) throw new NotFoundError('Instance', serverId);
    return node;
  }

  async reboot(serverId: string, projectId: string, hard: boolean): Promise<void> {
    const node = await this.nodeOf(serverId, projectId);
    await this.conductor.power(node.uuid, hard ? 'rebooting' : 'soft rebooting', null);
  }

  async powerOff(serverId: string, projectId: string): Promise<void> {
    const node = await this.nodeOf(serverId, projectId);
    // Hard power off, as Ironic's "power off": a soft one would wait on an OS that may not answer.
    await this.conductor.power(node.uuid, 'power off', null);
  }

  async powerOn(serverId: string, projectId: string): Promise<void> {
    const node = await this.nodeOf(serverId, projectId);
    await this.conductor.power(node.uuid, 'power on', null);
  }

  async rebuild(serverId: string, projectId: string, imageId: string, configDrive: ConfigDriveContents): Promise<void> {
    const node = await this.nodeOf(serverId, projectId);
    if (node.reservation) throw new ConflictError(`Node ${node.uuid} of instance ${serverId} is busy (${node.provision_state}); try again.`);
    const info = { ...fromJson<Record<string, unknown>>(node.instance_info, {}), image_source: imageId };
    await this.db.updateTable('baremetal_nodes').set({ instance_info: toJson(info), updated_at: now() }).where('uuid', '=', node.uuid).where('reservation', 'is', null).execute();
    await this.conductor.provision(node.uuid, 'rebuild', { configdrive: toIronicConfigDrive(configDrive), user: null });
  }

  /**
   * The node's serial console as its BMC gives it (the last CONSOLE_LOG_DEFAULT_BYTES), cut to
   * the last `lines` lines. A node whose BMC has none answers 501 (ConsoleUnavailableError) naming why.
   */
  async consoleOutput(serverId: string, projectId: string, lines: number | null): Promise<string> {
    const node = await this.nodeOf(serverId, projectId);
    if (!this.nodeConsole) throw new BootstackError(501, 'not_implemented', 'Console output is not available: the bare-metal service offers no console log reader.');
    return lastLines(await this.nodeConsole(node.uuid, CONSOLE_LOG_DEFAULT_BYTES), lines);
  }

  async status(servers: readonly { id: string; projectId: string }[]): Promise<Map<string, DriverStatus>> {
    const out = new Map<string, DriverStatus>();
    const project = new Map(servers.map((s) => [s.id, s.projectId]));
    const ids = servers.map((s) => s.id);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const nodes = await this.db
        .selectFrom('baremetal_nodes')
        .select(['uuid', 'instance_uuid', 'allocation_uuid', 'provision_state', 'power_state', 'reservation', 'last_error', 'instance_info'])
        .where((eb) => eb.or([eb('instance_uuid', 'in', chunk), eb('allocation_uuid', 'in', chunk)]))
        .execute();
      for (const n of nodes) {
        const id = project.has(n.instance_uuid ?? '') ? n.instance_uuid! : n.allocation_uuid!;
        // Another project's node is not this server's, whatever it says (ownership as in Instances).
        if (ownerOf(n) !== project.get(id)) continue;
        out.set(id, nodeStatus(n, id));
      }
    }
    for (const id of ids) if (!out.has(id)) out.set(id, { state: 'deleted', busy: false, power: null });
    return out;
  }

  /**
   * Without a network service, the address is the one the provisioning network's DHCP gave the
   * deployed system: the "first contact" line on the node's timeline (src/baremetal/first-contact.ts),
   * recorded after this deploy ended.
   */
  async addresses(serverId: string, projectId: string): Promise<DriverAddress[]> {
    const node = await this.nodeOf(serverId, projectId).catch(() => undefined);
    if (!node || node.provision_state !== 'active') return [];
    const h = await this.db
      .selectFrom('baremetal_node_history')
      .select(['event', 'created_at'])
      .where('node_uuid', '=', node.uuid)
      .where('event_type', '=', TIMELINE_EVENT_TYPE)
      .where('event', 'like', "deployed system's first contact%")
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!h || (node.provision_updated_at && h.created_at < node.provision_updated_at)) return [];
    const m = /DHCPACK (\S+) .*from ([0-9a-fA-F:]{17})/.exec(h.event);
    if (!m) return [];
    return [{ network: this.provisioningNetwork, ip: m[1]!, mac: m[2]!.toLowerCase(), version: m[1]!.includes(':') ? 6 : 4 }];
  }

  async hypervisors(): Promise<Hypervisor[]> {
    const nodes = await this.db
      .selectFrom('baremetal_nodes')
      .select(['uuid', 'properties', 'maintenance', 'instance_uuid', 'provision_state', 'retired'])
      .orderBy('created_at')
      .execute();
    return nodes.map((n) => {
      const props = fromJson<Record<string, unknown>>(n.properties, {});
      const vcpus = Number(props.cpus ?? 0) || 0;
      const mem = Number(props.memory_mb ?? 0) || 0;
      const disk = Number(props.local_gb ?? 0) || 0;
      const used = n.instance_uuid ? 1 : 0;
      // Nova's ironic driver reports a node with an instance as fully used.
      return {
        id: n.uuid,
        hypervisorHostname: n.uuid,
        hypervisorType: 'ironic',
        state: n.maintenance ? 'down' : 'up',
        status: n.maintenance || n.retired ? 'disabled' : 'enabled',
        hostIp: null,
        vcpus,
        memoryMb: mem,
        localGb: disk,
        vcpusUsed: used * vcpus,
        memoryMbUsed: used * mem,
        localGbUsed: used * disk,
        runningVms: used,
        servers: n.instance_uuid ? [n.instance_uuid] : [],
      } satisfies Hypervisor;
    });
  }
}

/** The last `lines` lines of text (all of it for null), as Nova's libvirt driver cuts its console log. */
export function lastLines(text: string, lines: number | null): string {
  if (lines === null) return text;
  if (lines <= 0) return '';
  // A final newline ends the last line rather than starting an empty one.
  const trailing = text.endsWith('\n');
  const parts = (trailing ? text.slice(0, -1) : text).split('\n');
  return parts.slice(-lines).join('\n') + (trailing ? '\n' : '');
}

function ownerOf(node: Pick<NodeRow, 'instance_info'>): string | null {
  return fromJson<{ project_id?: string | null }>(node.instance_info, {}).project_id ?? null;
}

const FAILED = new Set(['deploy failed', 'error']);

function nodeStatus(n: Pick<NodeRow, 'uuid' | 'instance_uuid' | 'provision_state' | 'power_state' | 'reservation' | 'last_error'>, id: string): DriverStatus {
  const power = n.power_state === 'power on' ? 'on' : n.power_state === 'power off' ? 'off' : null;
  const base = { power, hypervisorHostname: n.uuid } as const;
  if (n.provision_state === 'active') return { ...base, state: power === 'off' ? 'stopped' : 'active', busy: !!n.reservation };
  if (FAILED.has(n.provision_state)) {
    return { ...base, state: 'error', busy: !!n.reservation, reason: n.last_error ? maskSecretText(n.last_error) : `node ${n.uuid} is in "${n.provision_state}"` };
  }
  if (n.provision_state === 'available' && !n.reservation && n.instance_uuid !== id) return { state: 'deleted', busy: false, power };
  return { ...base, state: 'building', busy: true };
}

function toIronicConfigDrive(c: ConfigDriveContents): { meta_data: Record<string, unknown>; user_data?: string; network_data?: Record<string, unknown> } {
  return { meta_data: c.meta_data, ...(c.user_data !== undefined ? { user_data: c.user_data } : {}), ...(c.network_data ? { network_data: c.network_data } : {}) };
}

/** Compute's images over the image service: a reference resolved as the project sees it. */
export class ImageServiceForCompute implements ComputeImages {
  constructor(private readonly images: Pick<ImagesApiService, 'resolveForProject'>) {}
  async resolve(ref: string, project: { projectId: string; admin: boolean }) {
    const i = await this.images.resolveForProject(ref, project);
    return { id: i.id, name: i.name, status: i.status, minDisk: i.min_disk, minRam: i.min_ram };
  }
}

/** With no bare-metal service there is nowhere to run servers: every build ends in NoValidHost. */
class NoHostsDriver implements VirtDriver {
  readonly name = 'none';
  readonly sharesHosts = false;
  async spawn(): Promise<ClaimedHost> {
    throw new NoValidHostError('No virt driver is configured (the baremetal service is not enabled).');
  }
  async destroy(): Promise<void> {}
  async reboot(): Promise<void> {
    throw new ConflictError('No virt driver is configured.');
  }
  powerOff = this.reboot;
  powerOn = this.reboot;
  rebuild = this.reboot;
  async consoleOutput(): Promise<string> {
    throw new BootstackError(501, 'not_implemented', 'No virt driver is configured.');
  }
  async status(servers: readonly { id: string }[]): Promise<Map<string, DriverStatus>> {
    return new Map(servers.map((s) => [s.id, { state: 'deleted', busy: false, power: null }]));
  }
  async addresses(): Promise<DriverAddress[]> {
    return [];
  }
  async hypervisors(): Promise<Hypervisor[]> {
    return [];
  }
}

/**
 * What compute is built with, from the services built before it. The network service's
 * `NetworkPorts` adapter is wired here later (ComputeNetwork is a subset of it).
 */
export function computeDeps(db: AnyDB, config: ComputeConfig, services: ApiService[]): ComputeDeps {
  const baremetal = services.find((s): s is BaremetalService => s.name === 'baremetal');
  const images = services.find((s): s is ImagesApiService => s.name === 'images');
  const driver = baremetal ? new BaremetalVirtDriver(typed(db), baremetal.instances, baremetal.conductor, config.provisioning_network_name, (uuid, bytes) => baremetal.consoleLog(uuid, bytes)) : new NoHostsDriver();
  const network = computeNetwork(services);
  return { driver, ...(images ? { images: new ImageServiceForCompute(images) } : {}), ...(network ? { network } : {}) };
}
