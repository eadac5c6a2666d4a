// /v1/deploy_templates (API 1.55): a CUSTOM_ trait name and the deploy steps an instance asking for
// that trait would get. Stored and validated only: applying them at deploy time is issue 14's step
// model (docs/baremetal.md). Deploy templates belong to no project: the cloud admin's (policy.ts).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { now, toJson } from '../../common/db.js';
import type { BaremetalKysely, DeployTemplateRow } from '../db.js';
import { isUuid } from '../node-store.js';
import { checkTraits } from '../traits.js';
import { validateDeploySteps } from '../deploy-steps.js';
import { applyPatch, patchSchema, type PatchOp } from './json-patch.js';
import { DEPLOY_TEMPLATE_LIST_FIELDS, deployTemplateView, pick } from './views.js';
import { authorize, nextLink, parseBool, parseFields, parseLimit, parseMarker, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

const SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'uuid', 'name']);
const UPDATABLE = new Set(['name', 'steps', 'extra']);

const createSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    uuid: { type: 'string' },
    name: {},
    steps: {},
    extra: { type: 'object' },
  },
} as const;

/** A template's name is a trait an instance asks for: CUSTOM_ and upper-case letters, digits, _. */
export function checkTemplateName(name: unknown, path: string): string {
  if (name === undefined || name === null) throw new ValidationError('is required', { path });
  if (typeof name !== 'string' || !name.startsWith('CUSTOM_')) {
    throw new ValidationError(`"${String(name)}" is not a valid deploy template name: it must be a custom trait (CUSTOM_ followed by A-Z, 0-9 and _)`, { path });
  }
  checkTraits([name], path);
  return name;
}

async function findTemplate(db: BaremetalKysely, ident: string): Promise<DeployTemplateRow> {
  const row = await db
    .selectFrom('baremetal_deploy_templates')
    .selectAll()
    .where(isUuid(ident) ? 'uuid' : 'name', '=', isUuid(ident) ? ident.toLowerCase() : ident)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Deploy template', ident);
  return row;
}

function uniqueError(err: unknown, name: string): unknown {
  const msg = String((err as Error).message);
  if (!/unique|duplicate/i.test(msg)) return err;
  return /name/.test(msg) ? new ConflictError(`A deploy template with name ${name} already exists.`) : new ConflictError('A deploy template with that UUID already exists.');
}

export function deployTemplateRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;

  app.post('/v1/deploy_templates', { schema: { body: createSchema } }, async (request, reply) => {
    authorize(request, 'baremetal:deploy_template:create');
    const body = request.body as Record<string, unknown>;
    const uuid = body.uuid === undefined ? randomUUID() : String(body.uuid).toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
    if (body.steps === undefined) throw new ValidationError('is required', { path: 'body.steps' });
    const row: DeployTemplateRow = {
      uuid,
      name: checkTemplateName(body.name, 'body.name'),
      steps: toJson(validateDeploySteps(body.steps, 'body.steps')),
      extra: toJson(body.extra ?? {}),
      created_at: now(),
      updated_at: null,
    };
    try {
      await db.insertInto('baremetal_deploy_templates').values(row).execute();
    } catch (err) {
      throw uniqueError(err, row.name);
    }
    reply.status(201).header('location', `${deps.base()}/v1/deploy_templates/${uuid}`);
    return deployTemplateView(row, deps.base());
  });

  const list = (detailPath: boolean) => async (request: FastifyRequest) => {
    authorize(request, 'baremetal:deploy_template:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const fields = parseFields(q.fields, Object.keys(deployTemplateView(sample, '')));
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    const marker = parseMarker(q.marker);
    let query = db.selectFrom('baremetal_deploy_templates').selectAll();
    const keyExpr = sql<string>`coalesce(${sql.ref(sortKey)}, '')`;
    if (marker) {
      const m = await findTemplate(db, marker);
      const mk = String((m as unknown as Record<string, unknown>)[sortKey] ?? '');
      const cmp = dir === 'asc' ? sql`>` : sql`<`;
      query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and uuid ${cmp} ${m.uuid}))`);
    }
    const rows = await query.orderBy(keyExpr, dir).orderBy('uuid', dir).limit(limit).execute();
    const base = deps.base();
    const templates = rows.map((r) => {
      const v = deployTemplateView(r, base);
      return fields ? pick(v, fields) : detail ? v : pick(v, DEPLOY_TEMPLATE_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { deploy_templates: templates };
    if (rows.length === limit && limit > 0) out.next = nextLink(base, detailPath ? 'deploy_templates/detail' : 'deploy_templates', q, limit, rows.at(-1)!.uuid);
    return out;
  };
  app.get('/v1/deploy_templates', list(false));
  app.get('/v1/deploy_templates/', list(false));
  app.get('/v1/deploy_templates/detail', list(true));

  app.get('/v1/deploy_templates/:ident', async (request) => {
    authorize(request, 'baremetal:deploy_template:get');
    const { ident } = request.params as { ident: string };
    const v = deployTemplateView(await findTemplate(db, ident), deps.base());
    const fields = parseFields((request.query as Query).fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/deploy_templates/:ident', { schema: { body: patchSchema } }, async (request) => {
    authorize(request, 'baremetal:deploy_template:update');
    const { ident } = request.params as { ident: string };
    const row = await findTemplate(db, ident);
    const after = applyPatch(deployTemplateView(row, ''), request.body as PatchOp[], UPDATABLE);
    if (after.extra !== null && (typeof after.extra !== 'object' || Array.isArray(after.extra))) throw new ValidationError('must be an object', { path: 'extra' });
    const changes: Partial<DeployTemplateRow> = {
      name: checkTemplateName(after.name, 'name'),
      steps: toJson(validateDeploySteps(after.steps, 'steps')),
      extra: toJson(after.extra ?? {}),
      updated_at: now(),
    };
    try {
      await db.updateTable('baremetal_deploy_templates').set(changes).where('uuid', '=', row.uuid).execute();
    } catch (err) {
      throw uniqueError(err, changes.name!);
    }
    return deployTemplateView(await findTemplate(db, row.uuid), deps.base());
  });

  app.delete('/v1/deploy_templates/:ident', async (request, reply) => {
    authorize(request, 'baremetal:deploy_template:delete');
    const { ident } = request.params as { ident: string };
    const row = await findTemplate(db, ident);
    await db.deleteFrom('baremetal_deploy_templates').where('uuid', '=', row.uuid).execute();
    reply.status(204);
  });
}

const sample: DeployTemplateRow = { uuid: '', name: '', steps: '[]', extra: '{}', created_at: '', updated_at: null };
