// Role inference (Keystone's implied roles): holding a role means holding every role it implies,
// transitively. Rules are data (identity_role_implications); bootstrap keeps Keystone's defaults
// (admin → member → reader). Domain-specific roles never reach a token or an effective
// assignment themselves: only the global roles they imply do.
import type { IdentityStore, RoleRow } from './store.js';

/** Keystone's default rules, which bootstrap (re)creates: admin implies member, member reader. */
export const DEFAULT_IMPLICATIONS: readonly (readonly [string, string])[] = [['admin', 'member'], ['member', 'reader']];

export interface RoleGraph {
  roles: Map<string, RoleRow>;
  /** prior role id → the role ids it implies directly. */
  implies: Map<string, string[]>;
}

export async function loadRoleGraph(store: IdentityStore): Promise<RoleGraph> {
  const roles = new Map((await store.allRoles()).map((r) => [r.id, r]));
  const implies = new Map<string, string[]>();
  for (const rule of await store.listImplications()) implies.set(rule.prior_role_id, [...(implies.get(rule.prior_role_id) ?? []), rule.implied_role_id]);
  return { roles, implies };
}

/**
 * The roles `direct` grants, each with the role that brought it in (null: held directly), in
 * breadth-first order; every role once, however the rules loop. Domain-specific roles are left
 * out (they imply, they are not held).
 */
export function effectiveRoles(graph: RoleGraph, direct: readonly string[]): { role: RoleRow; prior: string | null }[] {
  const seen = new Set<string>();
  const out: { role: RoleRow; prior: string | null }[] = [];
  const queue: [string, string | null][] = direct.map((id) => [id, null]);
  while (queue.length) {
    const [id, prior] = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const role = graph.roles.get(id);
    if (!role) continue;
    if (role.domain_id === null) out.push({ role, prior });
    for (const next of graph.implies.get(id) ?? []) queue.push([next, id]);
  }
  return out;
}
