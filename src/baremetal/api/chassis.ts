// /v1/chassis: create, list (fields, paging, sorting), show, JSON-patch update, delete. A chassis
// only groups nodes (node.chassis_uuid); its nodes are listed by nodes.ts under
// /v1/chassis/{uuid}/nodes. Every rule is the operator's (Ironic's system scope, policy.ts).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { now, toJson } from '../../common/db.js';
import type { ChassisRow } from '../db.js';
import { isUuid } from '../node-store.js';
import { applyPatch, patchSchema, type PatchOp } from './json-patch.js';
import { CHASSIS_LIST_FIELDS, chassisView, pick } from './views.js';
import { authorize, nextLink, parseBool, parseFields, parseLimit, parseMarker, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

/** Ironic's chassis description column is 255 characters. */
const DESCRIPTION_MAX = 255;

const SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'uuid', 'description']);

const createSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    uuid: { type: 'string' },
    description: { type: ['string', 'null'], maxLength: DESCRIPTION_MAX },
    extra: { type: 'object' },
  },
} as const;

const UPDATABLE: ReadonlySet<string> = new Set(['description', 'extra']);

export function chassisRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;

  async function findChassis(ident: string): Promise<ChassisRow> {
    // Chassis have no names: anything but a UUID is a 400, as Ironic's argument validation says.
    if (!isUuid(ident)) throw new BadRequestError(`Expected a UUID for chassis_uuid but received "${ident}".`);
    const row = await db.selectFrom('baremetal_chassis').selectAll().where('uuid', '=', ident.toLowerCase()).executeTakeFirst();
    if (!row) throw new NotFoundError('Chassis', ident);
    return row;
  }

  app.post('/v1/chassis', { schema: { body: createSchema } }, async (request, reply) => {
    authorize(request, 'baremetal:chassis:create');
    const body = request.body as { uuid?: string; description?: string | null; extra?: object };
    const uuid = body.uuid === undefined ? randomUUID() : body.uuid.toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${body.uuid}" is not a UUID`, { path: 'body.uuid' });
    const row: ChassisRow = { uuid, description: body.description ?? null, extra: toJson(body.extra ?? {}), created_at: now(), updated_at: null };
    try {
      await db.insertInto('baremetal_chassis').values(row).execute();
    } catch (err) {
      if (/unique|duplicate/i.test(String((err as Error).message))) throw new ConflictError(`A chassis with UUID ${uuid} already exists.`);
      throw err;
    }
    reply.status(201).header('location', `${deps.base()}/v1/chassis/${uuid}`);
    return chassisView(row, deps.base());
  });

  const list = (detailPath: boolean) => async (request: FastifyRequest) => {
    authorize(request, 'baremetal:chassis:get');
    const q = request.query as Query;
    if (detailPath && q.fields) throw new BadRequestError('Can not specify ?fields with /chassis/detail');
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const allFields = Object.keys(chassisView(SAMPLE, ''));
    const fields = parseFields(q.fields, allFields);
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    const marker = parseMarker(q.marker);
    const keyExpr = sql<string>`coalesce(${sql.ref(sortKey)}, '')`;
    let query = db.selectFrom('baremetal_chassis').selectAll();
    if (marker) {
      const m = await db.selectFrom('baremetal_chassis').selectAll().where('uuid', '=', marker.toLowerCase()).executeTakeFirst();
      if (!m) throw new NotFoundError('Marker', marker);
      const mk = String(m[sortKey as keyof ChassisRow] ?? '');
      const cmp = dir === 'asc' ? sql`>` : sql`<`;
      query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and uuid ${cmp} ${m.uuid}))`);
    }
    const rows = await query.orderBy(keyExpr, dir).orderBy('uuid', dir).limit(limit).execute();
    const base = deps.base();
    const chassis = rows.map((r) => {
      const v = chassisView(r, base);
      return fields ? pick(v, fields) : detail ? v : pick(v, CHASSIS_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { chassis };
    if (rows.length === limit && limit > 0) out.next = nextLink(base, detailPath ? 'chassis/detail' : 'chassis', q, limit, rows.at(-1)!.uuid);
    return out;
  };
  app.get('/v1/chassis', list(false));
  app.get('/v1/chassis/', list(false));
  app.get('/v1/chassis/detail', list(true));

  app.get('/v1/chassis/:chassis_uuid', async (request) => {
    authorize(request, 'baremetal:chassis:get');
    const { chassis_uuid } = request.params as { chassis_uuid: string };
    const v = chassisView(await findChassis(chassis_uuid), deps.base());
    const fields = parseFields((request.query as Query).fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/chassis/:chassis_uuid', { schema: { body: patchSchema } }, async (request) => {
    authorize(request, 'baremetal:chassis:update');
    const { chassis_uuid } = request.params as { chassis_uuid: string };
    const row = await findChassis(chassis_uuid);
    const after = applyPatch(chassisView(row, ''), request.body as PatchOp[], UPDATABLE);
    const description = after.description ?? null;
    if (description !== null && (typeof description !== 'string' || description.length > DESCRIPTION_MAX)) {
      throw new ValidationError(`must be a string of at most ${DESCRIPTION_MAX} characters`, { path: 'description' });
    }
    const extra = after.extra ?? {};
    if (typeof extra !== 'object' || Array.isArray(extra)) throw new ValidationError('must be an object', { path: 'extra' });
    const changes = { description, extra: toJson(extra), updated_at: now() };
    await db.updateTable('baremetal_chassis').set(changes).where('uuid', '=', row.uuid).execute();
    return chassisView({ ...row, ...changes }, deps.base());
  });

  app.delete('/v1/chassis/:chassis_uuid', async (request, reply) => {
    authorize(request, 'baremetal:chassis:delete');
    const { chassis_uuid } = request.params as { chassis_uuid: string };
    const row = await findChassis(chassis_uuid);
    // As Ironic (ChassisNotEmpty, a 400): the nodes must leave the chassis first.
    const node = await db.selectFrom('baremetal_nodes').select('uuid').where('chassis_uuid', '=', row.uuid).executeTakeFirst();
    if (node) throw new BadRequestError(`Cannot complete the requested action because chassis ${row.uuid} contains nodes.`);
    await db.deleteFrom('baremetal_chassis').where('uuid', '=', row.uuid).execute();
    reply.status(204);
  });
}

/** A row to derive the list of valid ?fields names from. */
const SAMPLE: ChassisRow = { uuid: '', description: null, extra: '{}', created_at: '', updated_at: null };
