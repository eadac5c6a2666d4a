// /v1/volume (Ironic API 1.32): a node's volume connectors (how it reaches remote storage: an
// iSCSI initiator name, a WWPN, ...) and volume targets (the volumes it boots from or attaches).
// Bootstack keeps the records only: there is no block-storage service to attach the volumes, so
// the node's storage interface stays "noop" (docs/baremetal.md).
//
// As in Ironic, a record's node decides who may see it (404 as a missing one otherwise), and a
// record may only be changed or deleted while its node is powered off: the conductor would
// otherwise have to re-attach the storage of a running machine.
import { sleep } from '../../common/sleep.js';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { fromJson, now, toJson } from '../../common/db.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import { requireAuth } from '../../common/service.js';
import type { NodeRow, VolumeConnectorRow, VolumeTargetRow } from '../db.js';
import { findNode, isUuid, lockedError } from '../node-store.js';
import { ownedOrLeasedBy } from '../ownership.js';
import { enforce, permits, type BaremetalOp } from '../policy.js';
import { applyPatch, patchSchema, type PatchOp } from './json-patch.js';
import { pick } from './views.js';
import { authorize, authorizeNode, authorizeOnNode, canSeeNode, nextLink, parseBool, parseFields, parseLimit, parseMarker, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

/** Ironic's connector types. */
export const CONNECTOR_TYPES = ['iqn', 'ip', 'mac', 'wwnn', 'wwpn', 'portname'] as const;

/** How long an update or delete waits for the node's lock (an operation in flight), as Ironic's conductor retries. */
const LOCK_WAIT_MS = 3000;
const LOCK_POLL_MS = 100;

function links(base: string, path: string): Array<{ href: string; rel: string }> {
  return [
    { href: `${base}/v1/${path}`, rel: 'self' },
    { href: `${base}/${path}`, rel: 'bookmark' },
  ];
}

export function connectorView(row: VolumeConnectorRow, base: string): Record<string, unknown> {
  return {
    uuid: row.uuid,
    type: row.type,
    connector_id: row.connector_id,
    node_uuid: row.node_uuid,
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: links(base, `volume/connectors/${row.uuid}`),
  };
}

/** `showProperties`: the caller may read the target's properties (baremetal:volume:view_target_properties). */
export function targetView(row: VolumeTargetRow, base: string, showProperties: boolean): Record<string, unknown> {
  return {
    uuid: row.uuid,
    volume_type: row.volume_type,
    volume_id: row.volume_id,
    boot_index: row.boot_index,
    properties: showProperties ? fromJson(row.properties, {}) : { content: '** Redacted: a volume target\'s properties are shown to the operator only **' },
    node_uuid: row.node_uuid,
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: links(base, `volume/targets/${row.uuid}`),
  };
}

/** What the two kinds of record differ in; the routes are the same. */
interface Kind<R extends VolumeConnectorRow | VolumeTargetRow> {
  table: 'baremetal_volume_connectors' | 'baremetal_volume_targets';
  /** "connectors" / "targets": the path and the list's key. */
  plural: 'connectors' | 'targets';
  /** "volume connector" / "volume target": messages. */
  noun: string;
  /** Ironic's NotFound kind: "Volume connector" / "Volume target". */
  title: string;
  listFields: readonly string[];
  sortKeys: ReadonlySet<string>;
  /** Columns that may be null (sorted as ''). */
  nullable: ReadonlySet<string>;
  createSchema: object;
  updatable: ReadonlySet<string>;
  view(row: R, base: string, auth: AuthContext): Record<string, unknown>;
  sample: R;
  /** The row's fields from a created or patched view (validated, 400 naming the field). */
  fields(v: Record<string, unknown>): Partial<R>;
  /** The 409 for a unique constraint the row breaks. */
  conflict(err: unknown, row: Partial<R>): unknown;
}

const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError('must be a non-empty string', { path: field });
  return v;
};
const obj = (v: unknown, field: string): string => {
  if (v === null || v === undefined) return '{}';
  if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('must be an object', { path: field });
  return toJson(v);
};
const unique = (err: unknown) => /unique|duplicate/i.test(String((err as Error).message));

const CONNECTOR: Kind<VolumeConnectorRow> = {
  table: 'baremetal_volume_connectors',
  plural: 'connectors',
  noun: 'volume connector',
  title: 'Volume connector',
  listFields: ['uuid', 'type', 'connector_id', 'node_uuid'],
  sortKeys: new Set(['created_at', 'updated_at', 'uuid', 'type', 'connector_id', 'node_uuid']),
  nullable: new Set(['updated_at']),
  createSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['node_uuid', 'type', 'connector_id'],
    properties: { uuid: { type: ['string', 'null'] }, node_uuid: { type: 'string' }, type: { type: 'string' }, connector_id: { type: 'string' }, extra: { type: ['object', 'null'] } },
  },
  updatable: new Set(['node_uuid', 'type', 'connector_id', 'extra']),
  view: (row, base) => connectorView(row, base),
  sample: { uuid: '', node_uuid: '', type: '', connector_id: '', extra: '{}', created_at: '', updated_at: null },
  fields(v) {
    const type = str(v.type, 'type');
    if (!(CONNECTOR_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(`"${type}" is not a volume connector type; expected one of ${CONNECTOR_TYPES.join(', ')}`, { path: 'type' });
    }
    return { type, connector_id: str(v.connector_id, 'connector_id'), extra: obj(v.extra, 'extra') };
  },
  conflict(err, row) {
    if (!unique(err)) return err;
    return /connector_id|type/.test(String((err as Error).message))
      ? new ConflictError(`A volume connector with type ${row.type} and connector ID ${row.connector_id} already exists.`)
      : new ConflictError(`A volume connector with UUID ${row.uuid} already exists.`);
  },
};

const TARGET: Kind<VolumeTargetRow> = {
  table: 'baremetal_volume_targets',
  plural: 'targets',
  noun: 'volume target',
  title: 'Volume target',
  listFields: ['uuid', 'volume_type', 'boot_index', 'volume_id', 'node_uuid'],
  sortKeys: new Set(['created_at', 'updated_at', 'uuid', 'volume_type', 'volume_id', 'boot_index', 'node_uuid']),
  nullable: new Set(['updated_at']),
  createSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['node_uuid', 'volume_type', 'volume_id', 'boot_index'],
    properties: {
      uuid: { type: ['string', 'null'] },
      node_uuid: { type: 'string' },
      volume_type: { type: 'string' },
      volume_id: { type: 'string' },
      // Clients may send the index as a string ("0"); fields() checks it.
      boot_index: { type: ['integer', 'string'] },
      properties: { type: ['object', 'null'] },
      extra: { type: ['object', 'null'] },
    },
  },
  updatable: new Set(['node_uuid', 'volume_type', 'volume_id', 'boot_index', 'properties', 'extra']),
  view: (row, base, auth) => targetView(row, base, permits('baremetal:volume:view_target_properties', auth)),
  sample: { uuid: '', node_uuid: '', volume_type: '', volume_id: '', boot_index: 0, properties: '{}', extra: '{}', created_at: '', updated_at: null },
  fields(v) {
    const raw = v.boot_index;
    const index = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
      throw new ValidationError(`"${String(raw)}" is not a valid boot index: expected a non-negative integer`, { path: 'boot_index' });
    }
    return { volume_type: str(v.volume_type, 'volume_type'), volume_id: str(v.volume_id, 'volume_id'), boot_index: index, properties: obj(v.properties, 'properties'), extra: obj(v.extra, 'extra') };
  },
  conflict(err, row) {
    if (!unique(err)) return err;
    return /boot_index/.test(String((err as Error).message))
      ? new ConflictError(`A volume target with boot index '${row.boot_index}' for the same node already exists.`)
      : new ConflictError(`A volume target with UUID ${row.uuid} already exists.`);
  },
};

export function volumeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;

  // GET /v1/volume: Ironic checks baremetal:volume:get without a node, so only the operator passes.
  app.get('/v1/volume', async (request) => {
    authorize(request, 'baremetal:volume:get');
    const b = deps.base();
    return { links: links(b, 'volume/'), connectors: links(b, 'volume/connectors'), targets: links(b, 'volume/targets') };
  });
  app.get('/v1/nodes/:ident/volume', async (request) => {
    const { ident } = request.params as { ident: string };
    const { row } = await authorizeNode(db, request, ident, 'baremetal:volume:get');
    const b = deps.base();
    const p = `nodes/${row.uuid}/volume`;
    return { links: links(b, `${p}/`), connectors: links(b, `${p}/connectors`), targets: links(b, `${p}/targets`) };
  });

  routesOf(CONNECTOR);
  routesOf(TARGET);

  function routesOf<R extends VolumeConnectorRow | VolumeTargetRow>(kind: Kind<R>): void {
    const path = `/v1/volume/${kind.plural}`;
    // Kysely cannot type a table chosen at run time; the two tables share every column used here.
    const table = kind.table as 'baremetal_volume_connectors';

    async function findRecord(ident: string): Promise<R> {
      if (!isUuid(ident)) throw new NotFoundError(kind.title, ident);
      const row = await db.selectFrom(table).selectAll().where('uuid', '=', ident.toLowerCase()).executeTakeFirst();
      if (!row) throw new NotFoundError(kind.title, ident);
      return row as unknown as R;
    }

    /** The record and its node, the caller allowed `op` on the node (404 when it may not see it, then 403). */
    async function visible(auth: AuthContext, ident: string, op: BaremetalOp): Promise<{ record: R; node: NodeRow }> {
      const record = await findRecord(ident);
      const node = await findNode(db, record.node_uuid);
      authorizeOnNode(auth, node, [op], () => new NotFoundError(kind.title, ident));
      return { record, node };
    }

    /**
     * Ironic's conductor check before a change: the node must be powered off. An operation in
     * flight (a power change) holds the node's lock; wait for it as Ironic's conductor does, so
     * the answer is about the state it leads to.
     */
    async function requirePoweredOff(uuid: string, action: string): Promise<void> {
      const deadline = Date.now() + LOCK_WAIT_MS;
      let node = await findNode(db, uuid);
      while (node.reservation !== null && Date.now() < deadline) {
        await sleep(LOCK_POLL_MS);
        node = await findNode(db, uuid);
      }
      if (node.reservation !== null) throw lockedError(node);
      if (node.power_state !== 'power off') {
        throw new BadRequestError(`The requested action "${action}" can not be performed on node "${node.uuid}" while it is in state "${node.power_state ?? 'None'}".`, {
          fields: { node: node.uuid, power_state: node.power_state },
        });
      }
    }

    app.post(path, { schema: { body: kind.createSchema } }, async (request, reply) => {
      const auth = requireAuth(request);
      const body = request.body as Record<string, unknown>;
      const nodeIdent = String(body.node_uuid);
      // Ironic checks the rule on the named node first (403, the node not concealed), then
      // answers a missing node with 400 (the body is wrong, not the URL).
      const node = await findNode(db, nodeIdent).catch(() => null);
      enforce('baremetal:volume:create', auth, node ? { node } : {});
      if (!node) throw new BadRequestError(`Invalid input for field node_uuid: node ${nodeIdent} could not be found.`);
      const uuid = body.uuid === undefined || body.uuid === null ? randomUUID() : String(body.uuid).toLowerCase();
      if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
      const stamp = now();
      const row = { ...kind.fields(body), uuid, node_uuid: node.uuid, created_at: stamp, updated_at: null } as R;
      try {
        await db.insertInto(table).values(row as VolumeConnectorRow).execute();
      } catch (err) {
        throw kind.conflict(err, row);
      }
      reply.status(201).header('location', `${deps.base()}${path}/${uuid}`);
      return kind.view(row, deps.base(), auth);
    });

    const list = (detailPath: boolean, byNode: boolean) => async (request: FastifyRequest) => {
      const q = request.query as Query;
      const auth = requireAuth(request);
      let nodeUuid: string | undefined;
      const nodeIdent = byNode ? (request.params as { ident: string }).ident : q.node;
      if (byNode && q.node) throw new BadRequestError('The node filter cannot be used on a node\'s own volume list.');
      if (nodeIdent) {
        // As Ironic: a node the caller may not see is a missing one, before the list rule.
        const node = await findNode(db, nodeIdent);
        if (!canSeeNode(auth, node)) throw new NotFoundError('Node', nodeIdent);
        nodeUuid = node.uuid;
      }
      // list_all (the operator) sees every record, list the ones of the caller's nodes.
      if (!permits('baremetal:volume:list_all', auth)) enforce('baremetal:volume:list', auth);
      const detail = detailPath || parseBool(q.detail, 'detail') === true;
      const sample = kind.view(kind.sample, '', auth);
      const fields = parseFields(q.fields, Object.keys(sample));
      const limit = parseLimit(q.limit);
      const sortKey = parseSortKey(q.sort_key, kind.sortKeys, 'created_at');
      const dir = parseSortDir(q.sort_dir);
      const marker = parseMarker(q.marker);
      const col = sql.ref(`${table}.${sortKey}`);
      const keyExpr = kind.nullable.has(sortKey) ? sql<string>`coalesce(${col}, '')` : sql<string>`${col}`;
      let query = db.selectFrom(table).innerJoin('baremetal_nodes', 'baremetal_nodes.uuid', `${table}.node_uuid`).selectAll(table);
      if (nodeUuid) query = query.where(`${table}.node_uuid`, '=', nodeUuid);
      if (!isAdmin(auth)) query = query.where(ownedOrLeasedBy(auth.projectId));
      if (marker) {
        const m = (await visible(auth, marker, 'baremetal:volume:get')).record as unknown as Record<string, unknown>;
        const mk = m[sortKey] ?? '';
        const cmp = dir === 'asc' ? sql`>` : sql`<`;
        query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and ${sql.ref(`${table}.uuid`)} ${cmp} ${m.uuid}))`);
      }
      const rows = (await query.orderBy(keyExpr, dir).orderBy(`${table}.uuid`, dir).limit(limit).execute()) as unknown as R[];
      const base = deps.base();
      const items = rows.map((r) => {
        const v = kind.view(r, base, auth);
        return fields ? pick(v, fields) : detail ? v : pick(v, kind.listFields);
      });
      const out: Record<string, unknown> = { [kind.plural]: items };
      if (rows.length === limit && limit > 0) {
        const listPath = byNode ? `nodes/${nodeUuid}/volume/${kind.plural}` : `volume/${kind.plural}${detailPath ? '/detail' : ''}`;
        out.next = nextLink(base, listPath, q, limit, rows.at(-1)!.uuid);
      }
      return out;
    };
    app.get(path, list(false, false));
    app.get(`${path}/`, list(false, false));
    app.get(`${path}/detail`, list(true, false));
    app.get(`/v1/nodes/:ident/volume/${kind.plural}`, list(false, true));

    app.get(`${path}/:ident`, async (request) => {
      const { ident } = request.params as { ident: string };
      const auth = requireAuth(request);
      const { record } = await visible(auth, ident, 'baremetal:volume:get');
      const v = kind.view(record, deps.base(), auth);
      const fields = parseFields((request.query as Query).fields, Object.keys(v));
      return fields ? pick(v, fields) : v;
    });

    app.patch(`${path}/:ident`, { schema: { body: patchSchema } }, async (request) => {
      const { ident } = request.params as { ident: string };
      const auth = requireAuth(request);
      const { record, node } = await visible(auth, ident, 'baremetal:volume:update');
      // Patched against the stored values (never the redacted view).
      const stored = kind.view(record, '', auth);
      if ('properties' in record) stored.properties = fromJson(record.properties, {});
      const after = applyPatch(stored, request.body as PatchOp[], kind.updatable);
      const changes = kind.fields(after) as Record<string, unknown>;
      const target = await findNode(db, String(after.node_uuid ?? '')).catch(() => null);
      if (!target) throw new BadRequestError(`Invalid input for field node_uuid: node ${String(after.node_uuid)} could not be found.`);
      if (target.uuid !== node.uuid) authorizeOnNode(auth, target, ['baremetal:volume:update'], () => new BadRequestError(`Invalid input for field node_uuid: node ${String(after.node_uuid)} could not be found.`));
      await requirePoweredOff(node.uuid, `${kind.noun} update`);
      if (target.uuid !== node.uuid) await requirePoweredOff(target.uuid, `${kind.noun} update`);
      const set = { ...changes, node_uuid: target.uuid, updated_at: now() };
      try {
        await db.updateTable(table).set(set).where('uuid', '=', record.uuid).execute();
      } catch (err) {
        throw kind.conflict(err, { ...record, ...set } as R);
      }
      return kind.view(await findRecord(record.uuid), deps.base(), auth);
    });

    app.delete(`${path}/:ident`, async (request, reply) => {
      const { ident } = request.params as { ident: string };
      const auth = requireAuth(request);
      const { record, node } = await visible(auth, ident, 'baremetal:volume:delete');
      await requirePoweredOff(node.uuid, `${kind.noun} deletion`);
      await db.deleteFrom(table).where('uuid', '=', record.uuid).execute();
      reply.status(204);
    });
  }
}
