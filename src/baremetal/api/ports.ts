// /v1/ports: MAC addresses of a node's NICs (unique), with pxe_enabled and the switch they are on.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { now, toJson } from '../../common/db.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import type { NodeRow, PortRow } from '../db.js';
import { findNode, isUuid } from '../node-store.js';
import { findPortgroup, memberGroup } from '../portgroup-store.js';
import { applyPatch, patchBool, patchSchema, type PatchOp } from './json-patch.js';
import { PORT_LIST_FIELDS, pick, portView } from './views.js';
import { apiVersion, patchedFields, requireFieldsAt } from './versions.js';
import type { BaremetalOp } from '../policy.js';
import { ownedOrLeasedBy } from '../ownership.js';
import { authorize, authorizeOnNode, findVisibleNode, nextLink, parseBool, parseFields, parseLimit, parseMarker, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';
import { requireAuth } from '../../common/service.js';

const MAC_RE = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;
/** Text columns a port list may be sorted by (created_at, i.e. creation order, by default). */
const PORT_SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'uuid', 'address', 'node_uuid', 'physical_network']);

export function normalizeMac(mac: unknown, path = 'body.address'): string {
  if (typeof mac !== 'string' || !MAC_RE.test(mac.trim())) throw new ValidationError(`"${String(mac)}" is not a valid MAC address`, { path });
  return mac.trim().toLowerCase().replace(/-/g, ':');
}

const createSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['address'],
  properties: {
    uuid: { type: 'string' },
    address: { type: 'string' },
    node_uuid: { type: 'string' },
    node_id: { type: 'string' },
    portgroup_uuid: { type: ['string', 'null'] },
    extra: { type: 'object' },
    local_link_connection: { type: 'object' },
    pxe_enabled: { type: 'boolean' },
    physical_network: { type: ['string', 'null'] },
    is_smartnic: { type: 'boolean' },
  },
} as const;

const UPDATABLE = new Set(['address', 'node_uuid', 'portgroup_uuid', 'extra', 'local_link_connection', 'pxe_enabled', 'physical_network', 'is_smartnic']);

export function portRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;

  async function findPort(ident: string): Promise<PortRow> {
    // Ports have no names (before 1.88): a MAC or other text is a 400, as Ironic's InvalidUuid.
    if (!isUuid(ident)) throw new BadRequestError(`Expected a UUID for a port, got "${ident}"`);
    const row = await db.selectFrom('baremetal_ports').selectAll().where('uuid', '=', ident.toLowerCase()).executeTakeFirst();
    if (!row) throw new NotFoundError('Port', ident);
    return row;
  }

  /**
   * A port of a node the caller may see (any other answers as a missing one), with the caller
   * allowed `ops` on its node (Ironic's check_port_policy_and_retrieve: 404 first, then 403).
   */
  async function findVisiblePort(auth: AuthContext, ident: string, ...ops: BaremetalOp[]): Promise<PortRow> {
    const port = await findPort(ident);
    const node = await findNode(db, port.node_uuid);
    authorizeOnNode(auth, node, ops, () => new NotFoundError('Port', ident));
    return port;
  }

  /** The node a port body names: one missing (or not a UUID or name) is the request's fault, a 400 as in Ironic. */
  async function bodyNode(ident: string): Promise<NodeRow> {
    try {
      return await findNode(db, ident);
    } catch (err) {
      if (err instanceof NotFoundError) throw new BadRequestError(`Node ${ident} could not be found.`);
      throw err;
    }
  }

  async function visiblePort(request: FastifyRequest, ident: string, op: BaremetalOp): Promise<{ port: PortRow; auth: AuthContext }> {
    const auth = requireAuth(request);
    return { port: await findVisiblePort(auth, ident, op), auth };
  }

  app.post('/v1/ports', { schema: { body: createSchema } }, async (request, reply) => {
    const auth = requireAuth(request);
    const body = request.body as Record<string, unknown>;
    const nodeIdent = (body.node_uuid ?? body.node_id) as string | undefined;
    if (!nodeIdent) throw new ValidationError('is required', { path: 'body.node_uuid' });
    requireFieldsAt('port', Object.keys(body), apiVersion(request));
    // The rule is about the port's node: 404 when the caller may not see it, then 403.
    const node = await bodyNode(nodeIdent);
    authorizeOnNode(auth, node, ['baremetal:port:create'], () => new NotFoundError('Node', nodeIdent));
    const uuid = body.uuid === undefined ? randomUUID() : String(body.uuid).toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
    const physicalNetwork = (body.physical_network as string | null | undefined) ?? null;
    const group = typeof body.portgroup_uuid === 'string' ? await memberGroup(db, body.portgroup_uuid, { uuid: null, nodeUuid: node.uuid, physicalNetwork }) : null;
    const row: PortRow = {
      uuid,
      address: normalizeMac(body.address),
      node_uuid: node.uuid,
      extra: toJson(body.extra ?? {}),
      local_link_connection: toJson(body.local_link_connection ?? {}),
      pxe_enabled: body.pxe_enabled === false ? 0 : 1,
      physical_network: physicalNetwork,
      internal_info: toJson({}),
      is_smartnic: body.is_smartnic ? 1 : 0,
      portgroup_uuid: group?.uuid ?? null,
      created_at: now(),
      updated_at: null,
    };
    await insertPort(db, row);
    if (row.pxe_enabled) await deps.portsChanged?.({ added: [row.address] });
    reply.status(201).header('location', `${deps.base()}/v1/ports/${uuid}`);
    return portView(row, deps.base(), apiVersion(request));
  });

  const list = (detailPath: boolean) => async (request: FastifyRequest) => {
    const auth = authorize(request, 'baremetal:port:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const version = apiVersion(request);
    if (q.fields) requireFieldsAt('port', q.fields.split(',').map((f) => f.trim()), version);
    const sample = portView(samplePort, '', version);
    const fields = parseFields(q.fields, Object.keys(sample));
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, PORT_SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    const marker = parseMarker(q.marker);
    let query = db.selectFrom('baremetal_ports').innerJoin('baremetal_nodes', 'baremetal_nodes.uuid', 'baremetal_ports.node_uuid').selectAll('baremetal_ports');
    const nodeIdent = q.node ?? q.node_uuid;
    if (nodeIdent) query = query.where('baremetal_ports.node_uuid', '=', (await findVisibleNode(db, auth, nodeIdent)).uuid);
    if (q.address) query = query.where('baremetal_ports.address', '=', normalizeMac(q.address, 'address'));
    if (q.physical_network) query = query.where('baremetal_ports.physical_network', '=', q.physical_network);
    if (q.portgroup) query = query.where('baremetal_ports.portgroup_uuid', '=', (await findPortgroup(db, q.portgroup)).uuid);
    if (!isAdmin(auth)) query = query.where(ownedOrLeasedBy(auth.projectId));
    const keyExpr = sql<string>`coalesce(${sql.ref(`baremetal_ports.${sortKey}`)}, '')`;
    if (marker) {
      const m = await findVisiblePort(auth, marker);
      const mk = String((m as unknown as Record<string, unknown>)[sortKey] ?? '');
      const cmp = dir === 'asc' ? sql`>` : sql`<`;
      query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and baremetal_ports.uuid ${cmp} ${m.uuid}))`);
    }
    const rows = await query.orderBy(keyExpr, dir).orderBy('baremetal_ports.uuid', dir).limit(limit).execute();
    const base = deps.base();
    const ports = rows.map((r) => {
      const v = portView(r, base, version);
      return fields ? pick(v, fields) : detail ? v : pick(v, PORT_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { ports };
    if (rows.length === limit && limit > 0) out.next = nextLink(base, detailPath ? 'ports/detail' : 'ports', q, limit, rows.at(-1)!.uuid);
    return out;
  };
  // python-ironicclient asks for /v1/ports/?... (trailing slash) for filtered lists.
  app.get('/v1/ports', list(false));
  app.get('/v1/ports/', list(false));
  app.get('/v1/ports/detail', list(true));

  app.get('/v1/ports/:ident', async (request) => {
    const { ident } = request.params as { ident: string };
    const { port } = await visiblePort(request, ident, 'baremetal:port:get');
    const q = request.query as Query;
    if (q.fields) requireFieldsAt('port', q.fields.split(',').map((f) => f.trim()), apiVersion(request));
    const v = portView(port, deps.base(), apiVersion(request));
    const fields = parseFields(q.fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/ports/:ident', { schema: { body: patchSchema } }, async (request) => {
    const { ident } = request.params as { ident: string };
    const { port, auth } = await visiblePort(request, ident, 'baremetal:port:update');
    requireFieldsAt('port', patchedFields(request.body as PatchOp[]), apiVersion(request));
    const after = applyPatch(portView(port, ''), request.body as PatchOp[], UPDATABLE);
    const nodeIdent = String(after.node_uuid ?? '');
    const node = nodeIdent === port.node_uuid ? await findNode(db, nodeIdent) : await bodyNode(nodeIdent);
    // Moving the port: the same rule on the node it moves to.
    if (node.uuid !== port.node_uuid) authorizeOnNode(auth, node, ['baremetal:port:update'], () => new NotFoundError('Node', nodeIdent));
    for (const f of ['extra', 'local_link_connection'] as const) if (after[f] === null) after[f] = {};
    const physicalNetwork = (after.physical_network as string | null) ?? null;
    // Re-checked on every change: a member that moves node or network must still fit its group.
    const pgIdent = after.portgroup_uuid === null || after.portgroup_uuid === undefined ? null : String(after.portgroup_uuid);
    const group = pgIdent === null ? null : await memberGroup(db, pgIdent, { uuid: port.uuid, nodeUuid: node.uuid, physicalNetwork });
    const changes: Partial<PortRow> = {
      address: normalizeMac(after.address, 'address'),
      node_uuid: node.uuid,
      extra: toJson(after.extra),
      local_link_connection: toJson(after.local_link_connection),
      pxe_enabled: after.pxe_enabled === null || after.pxe_enabled === undefined || patchBool(after.pxe_enabled, 'pxe_enabled') ? 1 : 0,
      physical_network: physicalNetwork,
      is_smartnic: patchBool(after.is_smartnic, 'is_smartnic') ? 1 : 0,
      portgroup_uuid: group?.uuid ?? null,
      updated_at: now(),
    };
    if (node.uuid !== port.node_uuid && node.provision_state === 'active') {
      throw new BadRequestError(`Cannot move port ${port.uuid} to node ${node.uuid}, which is active`);
    }
    try {
      await db.updateTable('baremetal_ports').set(changes).where('uuid', '=', port.uuid).execute();
    } catch (err) {
      throw uniqueError(err, changes.address!);
    }
    // Only this port's MAC: the old entry goes when the MAC changed or PXE was turned off, the
    // new one is written when the MAC changed or PXE was turned on.
    const moved = changes.address !== port.address;
    await deps.portsChanged?.({
      removed: port.pxe_enabled && (moved || !changes.pxe_enabled) ? [port.address] : [],
      added: changes.pxe_enabled && (moved || !port.pxe_enabled) ? [changes.address!] : [],
    });
    return portView(await findPort(port.uuid), deps.base(), apiVersion(request));
  });

  app.delete('/v1/ports/:ident', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { port } = await visiblePort(request, ident, 'baremetal:port:delete');
    await db.deleteFrom('baremetal_ports').where('uuid', '=', port.uuid).execute();
    if (port.pxe_enabled) await deps.portsChanged?.({ removed: [port.address] });
    reply.status(204);
  });

}

async function insertPort(db: ApiDeps['db'], row: PortRow): Promise<void> {
  try {
    await db.insertInto('baremetal_ports').values(row).execute();
  } catch (err) {
    throw uniqueError(err, row.address);
  }
}

function uniqueError(err: unknown, address: string): unknown {
  const msg = String((err as Error).message);
  if (/unique|duplicate/i.test(msg)) {
    return /address/.test(msg) ? new ConflictError(`A port with MAC address ${address} already exists.`) : new ConflictError(`A port with that UUID already exists.`);
  }
  return err;
}

const samplePort: PortRow = {
  uuid: '', address: '', node_uuid: '', extra: '{}', local_link_connection: '{}', pxe_enabled: 1, physical_network: null,
  internal_info: '{}', is_smartnic: 0, portgroup_uuid: null, created_at: '', updated_at: null,
};
