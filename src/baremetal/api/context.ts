// What the route modules share: the database, the conductor, policy checks with Ironic's
// owner/lessee rule, and list helpers (fields, limit/marker paging, next links).
import type { FastifyRequest } from 'fastify';
import { BadRequestError, NotFoundError } from '../../common/errors.js';
import { isAdmin, type AuthContext, type Policy } from '../../common/auth.js';
import { requireAuth } from '../../common/service.js';
import type { BaremetalKysely, NodeRow } from '../db.js';
import type { Conductor } from '../conductor.js';
import type { PortChange } from '../provisioning.js';

export interface ApiDeps {
  db: BaremetalKysely;
  conductor: Conductor;
  policy: Policy;
  /** Public URL of the service, e.g. http://127.0.0.1:6385/baremetal */
  base(): string;
  /** After a port is created, changed or deleted: the boot service's DHCP hosts follow (that MAC only). */
  portsChanged?: (change: PortChange) => Promise<void>;
}

/** Enforces the policy rule; returns the caller. */
export function authorize(deps: ApiDeps, request: FastifyRequest, operation: string): AuthContext {
  const auth = requireAuth(request);
  deps.policy.enforce(operation, auth);
  return auth;
}

/** Non-admins see only nodes their project owns or leases (Ironic's project-scoped policy). */
export function canSeeNode(auth: AuthContext, row: Pick<NodeRow, 'owner' | 'lessee' | 'uuid'>): boolean {
  if (isAdmin(auth)) return true;
  return auth.projectId !== null && (row.owner === auth.projectId || row.lessee === auth.projectId);
}

/** Hides nodes the caller may not see behind the same 404 as a missing one. */
export function assertCanSee(auth: AuthContext, row: NodeRow, ident: string): void {
  if (!canSeeNode(auth, row)) throw new NotFoundError('Node', ident);
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

/** Ironic's "next" link: the same query with marker set to the last item. */
export function nextLink(base: string, path: string, query: Record<string, unknown>, limit: number, marker: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && k !== 'marker' && k !== 'limit') q.set(k, String(v));
  q.set('limit', String(limit));
  q.set('marker', marker);
  return `${base}/v1/${path}?${q.toString()}`;
}

export type Query = Record<string, string | undefined>;
