// /v1/portgroups (API 1.23+): a node's bonded NICs. A port group has an optional MAC address and
// name (each unique), the bonding mode and properties (shown from 1.26), and member ports of the
// same node (ports.ts sets portgroup_uuid). Who may act follows the group's node, as for ports.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { now, toJson } from '../../common/db.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import type { PortgroupRow } from '../db.js';
import { findNode, isUuid } from '../node-store.js';
import { findPortgroup } from '../portgroup-store.js';
import type { BaremetalOp } from '../policy.js';
import { ownedOrLeasedBy } from '../ownership.js';
import { requireAuth } from '../../common/service.js';
import { applyPatch, patchBool, patchSchema, type PatchOp } from './json-patch.js';
import { normalizeMac } from './ports.js';
import { PORT_LIST_FIELDS, PORTGROUP_LIST_FIELDS, pick, portgroupView, portView } from './views.js';
import { apiVersion, NotAcceptableVersionError } from './versions.js';
import { authorize, authorizeOnNode, findVisibleNode, nextLink, parseBool, parseFields, parseLimit, parseMarker, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

/** Ironic's [DEFAULT]default_portgroup_mode: the bonding mode of a group created without one. */
export const DEFAULT_PORTGROUP_MODE = 'active-backup';
const NAME_RE = /^[A-Za-z0-9\-._~]+$/;
const SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'uuid', 'name', 'address', 'node_uuid']);
const UPDATABLE = new Set(['name', 'address', 'node_uuid', 'extra', 'standalone_ports_supported', 'mode', 'properties']);

const createSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['node_uuid'],
  properties: {
    uuid: { type: 'string' },
    name: { type: ['string', 'null'] },
    address: { type: ['string', 'null'] },
    node_uuid: { type: 'string' },
    extra: { type: 'object' },
    standalone_ports_supported: { type: 'boolean' },
    mode: { type: ['string', 'null'] },
    properties: { type: 'object' },
  },
} as const;

function checkName(name: unknown, path: string): string | null {
  if (name === null || name === undefined) return null;
  if (typeof name !== 'string' || !NAME_RE.test(name) || isUuid(name) || name.length > 255) {
    throw new ValidationError(`"${String(name)}" is not a valid port group name: use letters, digits and -._~, not a UUID`, { path });
  }
  return name;
}

function checkObject(value: unknown, path: string): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('must be an object', { path });
  return value as Record<string, unknown>;
}

function uniqueError(err: unknown, row: Pick<PortgroupRow, 'address' | 'name'>): unknown {
  const msg = String((err as Error).message);
  if (!/unique|duplicate/i.test(msg)) return err;
  if (/address/.test(msg)) return new ConflictError(`A port group with MAC address ${row.address} already exists.`);
  if (/name/.test(msg)) return new ConflictError(`A port group with name ${row.name} already exists.`);
  return new ConflictError('A port group with that UUID already exists.');
}

/** API 1.26 added a port group's bonding mode and properties. */
const PORTGROUP_MODE_VERSION = 26;

/**
 * mode and properties arrived in 1.26. As in Ironic, they are shown to every version, but an
 * older client setting them, or naming them in ?fields= or sort_key, gets 406.
 */
function checkVersionedFields(request: FastifyRequest, fields: readonly string[]): void {
  const used = fields.filter((f) => f === 'mode' || f === 'properties');
  if (used.length && apiVersion(request) < PORTGROUP_MODE_VERSION) {
    throw new NotAcceptableVersionError(`The port group field(s) ${used.join(', ')} need API version 1.${PORTGROUP_MODE_VERSION} or later.`);
  }
}

export function portgroupRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;
  const view = (_request: FastifyRequest, row: PortgroupRow) => portgroupView(row, deps.base());

  /** A group of a node the caller may see (404 otherwise, as a missing one), then `ops` on that node (403). */
  async function visiblePortgroup(request: FastifyRequest, ident: string, ...ops: BaremetalOp[]): Promise<{ pg: PortgroupRow; auth: AuthContext }> {
    const auth = requireAuth(request);
    const pg = await findPortgroup(db, ident);
    const node = await findNode(db, pg.node_uuid);
    authorizeOnNode(auth, node, ops, () => new NotFoundError('Portgroup', ident));
    return { pg, auth };
  }

  app.post('/v1/portgroups', { schema: { body: createSchema } }, async (request, reply) => {
    const auth = requireAuth(request);
    const body = request.body as Record<string, unknown>;
    checkVersionedFields(request, Object.keys(body));
    const nodeIdent = String(body.node_uuid);
    const node = await findNode(db, nodeIdent);
    authorizeOnNode(auth, node, ['baremetal:portgroup:create'], () => new NotFoundError('Node', nodeIdent));
    const uuid = body.uuid === undefined ? randomUUID() : String(body.uuid).toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
    const row: PortgroupRow = {
      uuid,
      name: checkName(body.name, 'body.name'),
      address: body.address === null || body.address === undefined ? null : normalizeMac(body.address),
      node_uuid: node.uuid,
      standalone_ports_supported: body.standalone_ports_supported === false ? 0 : 1,
      mode: (body.mode as string | null | undefined) ?? DEFAULT_PORTGROUP_MODE,
      properties: toJson(body.properties ?? {}),
      extra: toJson(body.extra ?? {}),
      internal_info: toJson({}),
      created_at: now(),
      updated_at: null,
    };
    try {
      await db.insertInto('baremetal_portgroups').values(row).execute();
    } catch (err) {
      throw uniqueError(err, row);
    }
    reply.status(201).header('location', `${deps.base()}/v1/portgroups/${uuid}`);
    return view(request, row);
  });

  /** A list of groups: all the caller may see, or one node's (`nodeIdent`), with Ironic's filters and paging. */
  const list = async (request: FastifyRequest, detailPath: boolean, path: string, nodeIdent?: string) => {
    const auth = authorize(request, 'baremetal:portgroup:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const fields = parseFields(q.fields, Object.keys(view(request, samplePortgroup)));
    checkVersionedFields(request, [...(fields ?? []), String(q.sort_key ?? '')]);
    if (detail && fields) throw new BadRequestError('Can not specify ?detail=True and fields in the same request.');
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    const marker = parseMarker(q.marker);
    let query = db.selectFrom('baremetal_portgroups').innerJoin('baremetal_nodes', 'baremetal_nodes.uuid', 'baremetal_portgroups.node_uuid').selectAll('baremetal_portgroups');
    const byNode = nodeIdent ?? q.node ?? q.node_uuid;
    if (byNode) query = query.where('baremetal_portgroups.node_uuid', '=', (await findVisibleNode(db, auth, byNode)).uuid);
    if (q.address) query = query.where('baremetal_portgroups.address', '=', normalizeMac(q.address, 'address'));
    if (!isAdmin(auth)) query = query.where(ownedOrLeasedBy(auth.projectId));
    const keyExpr = sql<string>`coalesce(${sql.ref(`baremetal_portgroups.${sortKey}`)}, '')`;
    if (marker) {
      const m = (await visiblePortgroup(request, marker)).pg;
      const mk = String((m as unknown as Record<string, unknown>)[sortKey] ?? '');
      const cmp = dir === 'asc' ? sql`>` : sql`<`;
      query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and baremetal_portgroups.uuid ${cmp} ${m.uuid}))`);
    }
    const rows = await query.orderBy(keyExpr, dir).orderBy('baremetal_portgroups.uuid', dir).limit(limit).execute();
    const portgroups = rows.map((r) => {
      const v = view(request, r);
      return fields ? pick(v, fields) : detail ? v : pick(v, PORTGROUP_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { portgroups };
    if (rows.length === limit && limit > 0) out.next = nextLink(deps.base(), path, q, limit, rows.at(-1)!.uuid);
    return out;
  };
  // python-ironicclient asks for /v1/portgroups/?... (trailing slash) for filtered lists.
  app.get('/v1/portgroups', (request) => list(request, false, 'portgroups'));
  app.get('/v1/portgroups/', (request) => list(request, false, 'portgroups'));
  app.get('/v1/portgroups/detail', (request) => list(request, true, 'portgroups/detail'));
  app.get('/v1/nodes/:ident/portgroups', (request) => {
    const { ident } = request.params as { ident: string };
    return list(request, false, `nodes/${ident}/portgroups`, ident);
  });
  app.get('/v1/nodes/:ident/portgroups/detail', (request) => {
    const { ident } = request.params as { ident: string };
    return list(request, true, `nodes/${ident}/portgroups/detail`, ident);
  });

  app.get('/v1/portgroups/:ident', async (request) => {
    const { ident } = request.params as { ident: string };
    const { pg } = await visiblePortgroup(request, ident, 'baremetal:portgroup:get');
    const v = view(request, pg);
    const fields = parseFields((request.query as Query).fields, Object.keys(v));
    checkVersionedFields(request, fields ?? []);
    return fields ? pick(v, fields) : v;
  });

  /** The group's member ports (Ironic: GET /v1/portgroups/{pg}/ports, the port rules). */
  const members = async (request: FastifyRequest, detailPath: boolean) => {
    const { ident } = request.params as { ident: string };
    const { pg } = await visiblePortgroup(request, ident, 'baremetal:port:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const rows = await db.selectFrom('baremetal_ports').selectAll().where('portgroup_uuid', '=', pg.uuid).orderBy('created_at').orderBy('uuid').limit(parseLimit(q.limit)).execute();
    return { ports: rows.map((p) => (detail ? portView(p, deps.base()) : pick(portView(p, deps.base()), PORT_LIST_FIELDS))) };
  };
  app.get('/v1/portgroups/:ident/ports', (request) => members(request, false));
  app.get('/v1/portgroups/:ident/ports/detail', (request) => members(request, true));

  app.patch('/v1/portgroups/:ident', { schema: { body: patchSchema } }, async (request) => {
    const { ident } = request.params as { ident: string };
    const { pg, auth } = await visiblePortgroup(request, ident, 'baremetal:portgroup:update');
    const ops = request.body as PatchOp[];
    // Ironic's check (is_path_updated) looks at the patch's first operation only; Tempest's
    // test_update_portgroup_add at 1.23 relies on it (/extra/key1 first, then /properties/key1).
    checkVersionedFields(request, ops.slice(0, 1).map((op) => op.path.split('/')[1] ?? ''));
    const after = applyPatch(portgroupView(pg, ''), ops, UPDATABLE);
    const nodeIdent = String(after.node_uuid ?? '');
    if (!nodeIdent) throw new ValidationError('is required', { path: 'node_uuid' });
    const node = await findNode(db, nodeIdent);
    if (node.uuid !== pg.node_uuid) {
      authorizeOnNode(auth, node, ['baremetal:portgroup:update'], () => new NotFoundError('Node', nodeIdent));
      // Members stay on their group's node: a group with ports cannot move.
      const member = await db.selectFrom('baremetal_ports').select('uuid').where('portgroup_uuid', '=', pg.uuid).executeTakeFirst();
      if (member) throw new ConflictError(`Port group ${pg.uuid} has ports (${member.uuid}): it cannot move to node ${node.uuid}.`);
    }
    if (after.mode !== null && after.mode !== undefined && typeof after.mode !== 'string') throw new ValidationError('must be a string', { path: 'mode' });
    const changes: Partial<PortgroupRow> = {
      name: checkName(after.name, 'name'),
      address: after.address === null || after.address === undefined ? null : normalizeMac(after.address, 'address'),
      node_uuid: node.uuid,
      standalone_ports_supported: after.standalone_ports_supported === null || after.standalone_ports_supported === undefined || patchBool(after.standalone_ports_supported, 'standalone_ports_supported') ? 1 : 0,
      mode: (after.mode as string | null | undefined) ?? DEFAULT_PORTGROUP_MODE,
      properties: toJson(checkObject(after.properties, 'properties')),
      extra: toJson(checkObject(after.extra, 'extra')),
      updated_at: now(),
    };
    try {
      await db.updateTable('baremetal_portgroups').set(changes).where('uuid', '=', pg.uuid).execute();
    } catch (err) {
      throw uniqueError(err, { address: changes.address!, name: changes.name! });
    }
    return view(request, await findPortgroup(db, pg.uuid));
  });

  app.delete('/v1/portgroups/:ident', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { pg } = await visiblePortgroup(request, ident, 'baremetal:portgroup:delete');
    // As Ironic (PortgroupNotEmpty, a 400): a group is deleted only once its ports have left it.
    // Not a 409, which ironicclient retries as if the group were busy.
    const member = await db.selectFrom('baremetal_ports').select('uuid').where('portgroup_uuid', '=', pg.uuid).executeTakeFirst();
    if (member) throw new BadRequestError(`Cannot delete port group ${pg.uuid}: it contains ports (${member.uuid}); remove them from it first.`);
    await db.deleteFrom('baremetal_portgroups').where('uuid', '=', pg.uuid).execute();
    reply.status(204);
  });
}

const samplePortgroup: PortgroupRow = {
  uuid: '', name: null, address: null, node_uuid: '', standalone_ports_supported: 1, mode: null, properties: '{}', extra: '{}', internal_info: '{}', created_at: '', updated_at: null,
};
