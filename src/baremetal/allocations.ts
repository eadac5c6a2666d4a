// Matching an allocation to a node (Ironic's allocation workflow): used by the /v1/allocations
// API and by the in-process instance facade (instances.ts) that orchestration reaches through
// src/server. Matching is quick database work, so an allocation ends "active" or "error" at once.
// Which nodes an allocation may take is the ownership rule (ownership.ts).
import { NotFoundError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { AllocationRow, BaremetalKysely, NodeRow } from './db.js';
import { findNode, recordHistory } from './node-store.js';
import { mayClaimNode, type Claimant } from './ownership.js';

/**
 * A node named by a caller (backfill, candidate_nodes): one the claimant may not use is
 * answered exactly as a missing one, so that names and UUIDs of other projects' nodes leak nothing.
 */
export async function findClaimableNode(db: BaremetalKysely, ident: string, claimant: Claimant): Promise<NodeRow> {
  const node = await findNode(db, ident);
  if (!mayClaimNode(node, claimant)) throw new NotFoundError('Node', ident);
  return node;
}

/** Chooses a random matching node and claims it with a conditional update (retrying on races). */
export async function allocate(db: BaremetalKysely, a: AllocationRow, traits: string[], candidates: string[], claimant: Claimant): Promise<AllocationRow> {
  let q = db
    .selectFrom('baremetal_nodes')
    .selectAll()
    .where('provision_state', '=', 'available')
    .where('maintenance', '=', 0)
    .where('retired', '=', 0)
    .where('instance_uuid', 'is', null)
    .where('allocation_uuid', 'is', null)
    .where('reservation', 'is', null);
  if (a.resource_class) q = q.where('resource_class', '=', a.resource_class);
  if (candidates.length) q = q.where('uuid', 'in', candidates);
  const matching = (await q.execute()).filter((n) => mayClaimNode(n, claimant) && hasTraits(n, traits));
  shuffle(matching);
  for (const node of matching) {
    const info = { ...fromJson<Record<string, unknown>>(node.instance_info, {}), traits };
    const res = await db
      .updateTable('baremetal_nodes')
      .set({ allocation_uuid: a.uuid, instance_uuid: a.uuid, instance_info: toJson(info), updated_at: now() })
      .where('uuid', '=', node.uuid)
      .where('allocation_uuid', 'is', null)
      .where('instance_uuid', 'is', null)
      .where('reservation', 'is', null)
      .where('provision_state', '=', 'available')
      // The rule was checked on the owner and lessee read above: if an admin changed them
      // meanwhile, this node is not claimed.
      .where('owner', node.owner === null ? 'is' : '=', node.owner)
      .where('lessee', node.lessee === null ? 'is' : '=', node.lessee)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      await recordHistory(db, node.uuid, `allocated by ${a.name ?? a.uuid}`, 'allocation', 'INFO', null, null);
      return settle(db, a, { state: 'active', node_uuid: node.uuid });
    }
  }
  const why = `No available nodes match the resource class ${a.resource_class ?? '(any)'}${traits.length ? ` and traits ${traits.join(', ')}` : ''}${candidates.length ? ` among candidates ${candidates.join(', ')}` : ''}`;
  return settle(db, a, { state: 'error', last_error: why });
}

/**
 * Backfill: record an allocation for a node that is already in use (Ironic 1.58). The caller
 * found `node` with findClaimableNode.
 */
export async function backfill(db: BaremetalKysely, a: AllocationRow, node: NodeRow, traits: string[]): Promise<AllocationRow> {
  const refuse = (last_error: string) => settle(db, a, { state: 'error', last_error });
  if (node.allocation_uuid) return refuse(`Node ${node.uuid} already has allocation ${node.allocation_uuid}`);
  if (a.resource_class && node.resource_class !== a.resource_class) return refuse(`Node ${node.uuid} has resource class ${node.resource_class}, not ${a.resource_class}`);
  if (!hasTraits(node, traits)) return refuse(`Node ${node.uuid} does not have the traits ${traits.join(', ')}`);
  const res = await db
    .updateTable('baremetal_nodes')
    .set({ allocation_uuid: a.uuid, instance_uuid: node.instance_uuid ?? a.uuid, updated_at: now() })
    .where('uuid', '=', node.uuid)
    .where('allocation_uuid', 'is', null)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return refuse(`Node ${node.uuid} was allocated by another request meanwhile`);
  return settle(db, a, { state: 'active', node_uuid: node.uuid, resource_class: a.resource_class ?? node.resource_class });
}

function hasTraits(node: NodeRow, traits: string[]): boolean {
  const have = new Set(fromJson<string[]>(node.traits, []));
  return traits.every((t) => have.has(t));
}

async function settle(db: BaremetalKysely, a: AllocationRow, changes: Partial<AllocationRow>): Promise<AllocationRow> {
  const next = { ...a, ...changes, updated_at: now() };
  await db.updateTable('baremetal_allocations').set({ ...changes, updated_at: next.updated_at }).where('uuid', '=', a.uuid).execute();
  return next;
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
