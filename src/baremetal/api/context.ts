// What the route modules share: the database, the conductor, the policy checks in Ironic's order
// (policy.ts), and list helpers (fields, limit/marker paging, next links).
import type { FastifyRequest } from 'fastify';
import { BadRequestError, NotFoundError } from '../../common/errors.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import { requireAuth } from '../../common/service.js';
import type { AllocationRow, BaremetalKysely, NodeRow } from '../db.js';
import type { Conductor } from '../conductor.js';
import { findNode, isUuid } from '../node-store.js';
import { PROVISION_STATES } from '../states.js';
import type { Claimant } from '../ownership.js';
import { enforce, ownerDetailsHidden, permits, type BaremetalOp } from '../policy.js';
import type { PortChange } from '../provisioning.js';

export interface ApiDeps {
  db: BaremetalKysely;
  conductor: Conductor;
  /** Public URL of the service, e.g. http://127.0.0.1:6385/baremetal */
  base(): string;
  /** After a port is created, changed or deleted: the boot service's DHCP hosts follow (that MAC only). */
  portsChanged?: (change: PortChange) => Promise<void>;
}

/**
 * The caller (401 without a token), allowed an operation that names no record: lists (filtered
 * to the caller's project), creates, drivers. Rules about a node or an allocation go through
 * authorizeNode / authorizeOnNode / authorizeAllocation, never through here.
 */
export function authorize(request: FastifyRequest, op: BaremetalOp): AuthContext {
  const auth = requireAuth(request);
  enforce(op, auth);
  return auth;
}

/** The nodes a caller may see and name: an admin any, others their project's owned or leased ones. */
export function callerClaimant(auth: AuthContext): Claimant {
  return isAdmin(auth) ? { anyProject: true } : { project: auth.projectId, sharedPool: false };
}

/** Ironic's baremetal:node:get: the owner's and the lessee's readers (and the admin) see the node. */
export function canSeeNode(auth: AuthContext, row: Pick<NodeRow, 'owner' | 'lessee'>): boolean {
  return permits('baremetal:node:get', auth, { node: row });
}

/**
 * The operations' rules on a node, in Ironic's order: a node the caller may not see is reported
 * missing (404, exactly as a missing one, whatever the operation), and only then is each rule
 * applied (403). `hidden` is the 404 to give (a port's, when the node is reached through its port).
 */
export function authorizeOnNode(auth: AuthContext, row: NodeRow, ops: readonly BaremetalOp[], hidden: () => Error): void {
  if (!canSeeNode(auth, row)) throw hidden();
  for (const op of ops) enforce(op, auth, { node: row });
}

/** A node by UUID or name, with the caller allowed every one of `ops` on it (404 first, then 403). */
export async function authorizeNode(
  db: BaremetalKysely,
  request: FastifyRequest,
  ident: string,
  ...ops: BaremetalOp[]
): Promise<{ row: NodeRow; auth: AuthContext }> {
  const auth = requireAuth(request);
  const row = await findNode(db, ident);
  authorizeOnNode(auth, row, ops, () => new NotFoundError('Node', ident));
  return { row, auth };
}

/** A node named in a filter, a body or a marker: one the caller may not see is answered as a missing one. */
export async function findVisibleNode(db: BaremetalKysely, auth: AuthContext, ident: string): Promise<NodeRow> {
  const row = await findNode(db, ident);
  authorizeOnNode(auth, row, [], () => new NotFoundError('Node', ident));
  return row;
}

/** Ironic's check_allocation_policy_and_retrieve: one the caller may not see (allocation:get) is 404, then the rule is 403. */
export function authorizeOnAllocation(auth: AuthContext, row: AllocationRow, op: BaremetalOp, ident: string): void {
  if (!permits('baremetal:allocation:get', auth, { allocation: row })) throw new NotFoundError('Allocation', ident);
  enforce(op, auth, { allocation: row });
}

/**
 * The caller sees the node only as its lessee: as in Ironic (baremetal:node:get:driver_info and
 * the like), the owner's infrastructure details (BMC access, conductor, errors) are redacted.
 */
export function isLesseeOnly(auth: AuthContext, row: Pick<NodeRow, 'owner' | 'lessee'>): boolean {
  return ownerDetailsHidden(auth, row);
}

export const MAX_LIMIT = 1000;

export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return MAX_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new BadRequestError(`Invalid limit "${String(raw)}": it must be a non-negative integer`);
  return n === 0 ? MAX_LIMIT : Math.min(n, MAX_LIMIT);
}

export function parseFields(raw: unknown, allowed: readonly string[]): string[] | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const fields = String(raw).split(',').map((f) => f.trim()).filter(Boolean);
  const bad = fields.filter((f) => !allowed.includes(f));
  if (bad.length) throw new BadRequestError(`Field(s) "${bad.join(', ')}" are not valid`);
  return fields;
}

export function parseBool(raw: unknown, name: string): boolean | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const s = String(raw).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new BadRequestError(`Invalid value "${String(raw)}" for ${name}: expected a boolean`);
}

export function parseSortDir(raw: unknown): 'asc' | 'desc' {
  if (raw === undefined || raw === '') return 'asc';
  if (raw === 'asc' || raw === 'desc') return raw;
  throw new BadRequestError(`Invalid sort direction "${String(raw)}": expected asc or desc`);
}

/** A sort_key query value: one of `allowed` (the default when absent), else 400 naming it. */
export function parseSortKey(raw: unknown, allowed: ReadonlySet<string>, fallback: string): string {
  if (raw === undefined || raw === '') return fallback;
  const key = String(raw);
  if (!allowed.has(key)) throw new BadRequestError(`The sort_key value "${key}" is an invalid field for sorting; valid: ${[...allowed].join(', ')}`);
  return key;
}

/** A marker is the UUID of the last item of the previous page: anything else is a 400, as in Ironic. */
export function parseMarker(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!isUuid(String(raw))) throw new BadRequestError(`Invalid marker "${String(raw)}": expected a UUID`);
  return String(raw);
}

// Ironic's state names include rescue's, which we do not implement: filtering on one is valid
// (it matches no node), a name Ironic does not have is a 400.
const FILTER_STATES: ReadonlySet<string> = new Set([...PROVISION_STATES, 'rescue', 'rescue failed', 'rescue wait', 'rescuing', 'unrescue failed', 'unrescuing']);

export function parseProvisionStateFilter(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!FILTER_STATES.has(String(raw))) throw new BadRequestError(`Invalid provision_state "${String(raw)}": not a provision state`);
  return String(raw);
}

/** The faults a node in maintenance may carry (Ironic's set; we set "power failure" ourselves). */
export const NODE_FAULTS = ['power failure', 'clean failure', 'rescue abort failure'] as const;

export function parseFaultFilter(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!(NODE_FAULTS as readonly string[]).includes(String(raw))) {
    throw new BadRequestError(`Invalid fault "${String(raw)}": expected one of ${NODE_FAULTS.map((f) => `"${f}"`).join(', ')}`);
  }
  return String(raw);
}

/** Ironic's "next" link: the same query with marker set to the last item. */
export function nextLink(base: string, path: string, query: Record<string, unknown>, limit: number, marker: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && k !== 'marker' && k !== 'limit') q.set(k, String(v));
  q.set('limit', String(limit));
  q.set('marker', marker);
  return `${base}/v1/${path}?${q.toString()}`;
}

export type Query = Record<string, string | undefined>;
