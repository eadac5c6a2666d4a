// The one ownership rule: which nodes work may be placed on for whom. The allocation API (its
// matching, candidate nodes and backfill), the API's node visibility and the instances that
// orchestration creates all decide with mayClaimNode, so that no path lets one project take or
// see another project's machine.
import { sql, type RawBuilder } from 'kysely';
import type { NodeRow } from './db.js';

/** Who a node is claimed (or looked at) for. */
export type Claimant =
  /** An admin acting for no project (an allocation without owner, as in Ironic): any node. */
  | { anyProject: true }
  /**
   * A project: the nodes it owns or leases. `sharedPool` adds the nodes nobody owns or leases
   * (where orchestration's servers go when the project has no machines of its own). A null
   * project has no nodes of its own.
   */
  | { project: string | null; sharedPool: boolean };

export function mayClaimNode(node: Pick<NodeRow, 'owner' | 'lessee'>, claimant: Claimant): boolean {
  if ('anyProject' in claimant) return true;
  const { project, sharedPool } = claimant;
  if (project !== null && (node.owner === project || node.lessee === project)) return true;
  return sharedPool && node.owner === null && node.lessee === null;
}

/**
 * mayClaimNode for a project without the shared pool (what a non-admin sees), as a SQL condition
 * for list queries; `table` qualifies the columns when nodes are joined (ports list).
 */
export function ownedOrLeasedBy(project: string | null, table = 'baremetal_nodes'): RawBuilder<boolean> {
  if (project === null) return sql<boolean>`1 = 0`;
  return sql<boolean>`(${sql.ref(`${table}.owner`)} = ${project} or ${sql.ref(`${table}.lessee`)} = ${project})`;
}
