// Instances on bare metal, for callers inside this process (orchestration's OS::Nova::Server,
// through an adapter in src/server): allocate a node by resource class and traits, set what to
// deploy, start the deploy, report progress, and tear it down. It is the same workflow an
// operator drives with `openstack baremetal allocation create` + `node deploy`. Every call acts
// for a project: an instance goes only to that project's owned or leased nodes or to the shared
// pool (nodes nobody owns or leases), never to another project's, admin or not (the ownership
// rule, ownership.ts); another project's instance is answered as a missing one.
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidStateError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { AllocationRow, BaremetalKysely, NodeRow } from './db.js';
import { allocate } from './allocations.js';
import type { Conductor } from './conductor.js';
import { TRANSIENT_STATES, type ProvisionState } from './states.js';
import { checkTraits } from './traits.js';
import { maskSecretText } from './secrets.js';

export interface InstanceRequest {
  /**
   * The project the instance is for (a stack's): the allocation's owner. Its nodes (owned or
   * leased) and the shared pool are used; null means the shared pool only.
   */
  project: string | null;
  /** Instance (and allocation) name. */
  name: string;
  resourceClass: string;
  traits?: string[];
  /** Image id or URL (instance_info.image_source). */
  imageSource: string;
  /**
   * Config drive contents as Ironic accepts them in instance_info.configdrive; or a function of
   * the allocated node, called before the deploy starts (compute binds ports to the node's MACs
   * and builds network_data from them). A throw releases the node.
   */
  configdrive?: ConfigDrive | ((node: { uuid: string; name: string | null; macs: string[] }) => Promise<ConfigDrive>);
  user?: string | null;
  /** false: instance_info.config_drive false, so the deploy writes no config drive (Nova's config_drive=False). */
  configDrive?: boolean;
  /** The instance id to use (compute's server id, carried by the node as instance_uuid); default a new uuid. */
  id?: string;
  /** Only these nodes may be allocated (compute's scheduler filtered them); must not be empty. */
  candidateNodes?: string[];
}

export type ConfigDrive = { meta_data?: Record<string, unknown>; user_data?: string; network_data?: Record<string, unknown> };

export interface InstanceStatus {
  state: 'building' | 'active' | 'error' | 'deleted';
  reason?: string;
  nodeUuid?: string;
  nodeName?: string | null;
  provisionState?: string;
}

const FAILED = new Set(['deploy failed', 'error']);
/** States an instance's node is undeployed from. */
const UNDEPLOYABLE = new Set(['active', 'deploy failed', 'wait call-back', 'error']);

export class Instances {
  constructor(
    private readonly db: BaremetalKysely,
    private readonly conductor: Conductor,
  ) {}

  /** Allocates a node and starts deploying it; returns the instance id (the allocation's uuid). */
  async create(req: InstanceRequest): Promise<string> {
    checkTraits(req.traits ?? [], 'traits');
    // An empty list would mean "any node" to allocate(): refuse it rather than widen the choice.
    if (req.candidateNodes && req.candidateNodes.length === 0) throw new ConflictError(`Cannot place instance ${req.name}: no candidate nodes`);
    const uuid = req.id ?? randomUUID();
    const row: AllocationRow = {
      uuid,
      name: null,
      state: 'allocating',
      owner: req.project,
      node_uuid: null,
      last_error: null,
      resource_class: req.resourceClass,
      traits: toJson(req.traits ?? []),
      candidate_nodes: toJson([]),
      extra: toJson({ instance_name: req.name }),
      created_at: now(),
      updated_at: null,
    };
    await this.db.insertInto('baremetal_allocations').values(row).execute();
    const result = await allocate(this.db, row, req.traits ?? [], req.candidateNodes ?? [], { project: req.project, sharedPool: true });
    if (result.state !== 'active' || !result.node_uuid) {
      await this.db.deleteFrom('baremetal_allocations').where('uuid', '=', uuid).execute();
      throw new ConflictError(`Cannot place instance ${req.name}: ${result.last_error ?? 'no node was allocated'}`);
    }
    const node = await this.db.selectFrom('baremetal_nodes').selectAll().where('uuid', '=', result.node_uuid).executeTakeFirstOrThrow();
    let configdrive: ConfigDrive | undefined;
    try {
      if (typeof req.configdrive === 'function') {
        const macs = (await this.db.selectFrom('baremetal_ports').select('address').where('node_uuid', '=', node.uuid).where('pxe_enabled', '=', 1).orderBy('created_at').execute()).map((p) => p.address);
        configdrive = await req.configdrive({ uuid: node.uuid, name: node.name, macs });
      } else {
        configdrive = req.configdrive;
      }
    } catch (err) {
      await this.release(uuid, node);
      throw err;
    }
    const info = {
      ...fromJson<Record<string, unknown>>(node.instance_info, {}),
      image_source: req.imageSource,
      display_name: req.name,
      // Whose instance this is, for as long as the node holds it (the allocation goes first on delete).
      project_id: req.project,
      ...(configdrive ? { configdrive } : {}),
      ...(req.configDrive === false ? { config_drive: false } : {}),
    };
    await this.db.updateTable('baremetal_nodes').set({ instance_info: toJson(info), updated_at: now() }).where('uuid', '=', node.uuid).execute();
    try {
      await this.conductor.provision(node.uuid, 'deploy', { user: req.user ?? null });
    } catch (err) {
      await this.release(uuid, node);
      throw err;
    }
    return uuid;
  }

  /** The instance's progress; another project's instance is "deleted", as a missing one. */
  async status(id: string, project: string | null): Promise<InstanceStatus> {
    const node = await this.nodeOf(id, project);
    if (!node) return { state: 'deleted' };
    const base = { nodeUuid: node.uuid, nodeName: node.name, provisionState: node.provision_state };
    if (node.provision_state === 'active' && !node.reservation) return { ...base, state: 'active' };
    if (FAILED.has(node.provision_state)) {
      // The tenant sees this (the server's fault): masked as every node field is.
      return { ...base, state: 'error', reason: node.last_error ? maskSecretText(node.last_error) : `node ${node.uuid} is in "${node.provision_state}"` };
    }
    if (node.provision_state === 'available' && !node.reservation && node.instance_uuid !== id) return { state: 'deleted' };
    return { ...base, state: 'building' };
  }

  /**
   * Starts tearing the instance down; status() says "deleted" once the node is released. A node
   * that is busy (locked, or between states) is left alone: the caller calls again until status()
   * says "deleted", as Nova accepts a delete in any state. Another project's instance is left
   * alone, as a missing one.
   */
  async delete(id: string, project: string | null): Promise<void> {
    const node = await this.nodeOf(id, project);
    if (!node) {
      // Not on a node (or not this project's): at most an allocation of this project's is left.
      await this.db.deleteFrom('baremetal_allocations').where('uuid', '=', id).where('owner', project === null ? 'is' : '=', project).execute();
      return;
    }
    if (node.reservation || TRANSIENT_STATES.includes(node.provision_state as ProvisionState)) return;
    if (node.instance_uuid === id && UNDEPLOYABLE.has(node.provision_state)) {
      try {
        await this.conductor.provision(node.uuid, 'deleted', { user: null });
      } catch (err) {
        // Taken or moved between our read and the request: the next call retries.
        if (err instanceof InvalidStateError || err instanceof ConflictError) return;
        throw err;
      }
    }
    await this.release(id, node);
  }

  /** Frees the node's allocation (the undeploy, if any, clears instance_uuid itself). */
  private async release(id: string, node: NodeRow): Promise<void> {
    await this.db
      .updateTable('baremetal_nodes')
      .set({ allocation_uuid: null, updated_at: now() })
      .where('uuid', '=', node.uuid)
      .where('allocation_uuid', '=', id)
      .execute();
    if (node.provision_state === 'available') {
      await this.db.updateTable('baremetal_nodes').set({ instance_uuid: null, instance_info: toJson({}) }).where('uuid', '=', node.uuid).where('instance_uuid', '=', id).execute();
    }
    await this.db.deleteFrom('baremetal_allocations').where('uuid', '=', id).execute();
  }

  /** The node holding the instance, if it is `project`'s. */
  private async nodeOf(id: string, project: string | null): Promise<NodeRow | undefined> {
    const node = await this.db
      .selectFrom('baremetal_nodes')
      .selectAll()
      .where((eb) => eb.or([eb('instance_uuid', '=', id), eb('allocation_uuid', '=', id)]))
      .executeTakeFirst();
    if (!node) return undefined;
    const owner = fromJson<{ project_id?: string | null }>(node.instance_info, {}).project_id ?? null;
    return owner === project ? node : undefined;
  }
}
