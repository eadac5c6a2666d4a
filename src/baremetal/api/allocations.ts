// /v1/allocations: pick an available node by resource class, traits and candidate list, and
// reserve it for an instance (Ironic's allocation API). Matching is quick database work, so it
// completes within the request, though the answer, as Ironic's, is the allocation as recorded
// ("allocating"): a GET then shows "active" or "error". A non-admin's
// allocation is its project's and only takes (or backfills) that project's owned or leased nodes;
// nodes it may not see are answered as missing ones (ownership.ts).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../common/errors.js';
import { now, toJson } from '../../common/db.js';
import { isAdmin } from '../../common/auth.js';
import type { AllocationRow } from '../db.js';
import { findNode, isUuid } from '../node-store.js';
import { allocate, backfill, findClaimableNode } from '../allocations.js';
import type { Claimant } from '../ownership.js';
import { checkTraits } from '../traits.js';
import { applyPatch, patchSchema, type PatchOp } from './json-patch.js';
import { allocationView, pick } from './views.js';
import { permits, type BaremetalOp } from '../policy.js';
import { requireAuth } from '../../common/service.js';
import { authorize, authorizeOnAllocation, callerClaimant, findVisibleNode, parseFields, parseLimit, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

/** Text columns an allocation list may be sorted by (created_at, i.e. creation order, by default). */
const ALLOCATION_SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'uuid', 'name', 'state', 'node_uuid', 'resource_class', 'owner']);

const createSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    uuid: { type: 'string' },
    name: { type: ['string', 'null'] },
    resource_class: { type: ['string', 'null'] },
    traits: { type: 'array', items: { type: 'string' } },
    candidate_nodes: { type: 'array', items: { type: 'string' } },
    extra: { type: 'object' },
    owner: { type: ['string', 'null'] },
    node: { type: ['string', 'null'] },
  },
} as const;

export function allocationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;

  async function findAllocation(ident: string): Promise<AllocationRow> {
    const row = await db
      .selectFrom('baremetal_allocations')
      .selectAll()
      .where(isUuid(ident) ? 'uuid' : 'name', '=', isUuid(ident) ? ident.toLowerCase() : ident)
      .executeTakeFirst();
    if (!row) throw new NotFoundError('Allocation', ident);
    return row;
  }

  app.post('/v1/allocations', { schema: { body: createSchema } }, async (request, reply) => {
    const auth = authorize(request, 'baremetal:allocation:create');
    const body = request.body as {
      uuid?: string; name?: string | null; resource_class?: string | null; traits?: string[]; candidate_nodes?: string[];
      extra?: object; owner?: string | null; node?: string | null;
    };
    // As Ironic: an allocation for another project than the caller's needs create_restricted.
    if (body.owner && body.owner !== auth.projectId && !permits('baremetal:allocation:create_restricted', auth)) {
      throw new ForbiddenError(
        `Cannot create allocation with an owner Project ID value ${body.owner} not matching the requestor Project ID ${String(auth.projectId)}. Policy baremetal:allocation:create_restricted is required for this capability.`,
      );
    }
    if (!body.resource_class && !body.node) throw new ValidationError('is required unless "node" is given (backfill)', { path: 'body.resource_class' });
    if (body.name && isUuid(body.name)) throw new ValidationError('must not be a UUID', { path: 'body.name' });
    const traits = body.traits ?? [];
    checkTraits(traits, 'body.traits');
    const admin = isAdmin(auth);
    // As Ironic: a non-admin's allocation is its project's; an admin may set any owner.
    const owner = admin ? (body.owner ?? null) : auth.projectId;
    // Nodes the request names (backfill, candidates) must be ones the caller may see; the nodes
    // matched are the owner's (an admin's allocation without owner may take any node).
    const named = callerClaimant(auth);
    const matchFor: Claimant = admin && owner === null ? { anyProject: true } : { project: owner, sharedPool: false };
    // Resolved before the allocation is recorded, so that a refused node leaves nothing behind.
    const node = body.node ? await findClaimableNode(db, body.node, named) : undefined;
    const candidates: string[] = [];
    for (const c of body.candidate_nodes ?? []) candidates.push((await findClaimableNode(db, c, named)).uuid);
    const uuid = body.uuid?.toLowerCase() ?? randomUUID();
    const stamp = now();
    const row: AllocationRow = {
      uuid,
      name: body.name ?? null,
      state: 'allocating',
      owner,
      node_uuid: null,
      last_error: null,
      resource_class: body.resource_class ?? null,
      traits: toJson(traits),
      candidate_nodes: toJson(candidates),
      extra: toJson(body.extra ?? {}),
      created_at: stamp,
      updated_at: null,
    };
    try {
      await db.insertInto('baremetal_allocations').values(row).execute();
    } catch (err) {
      if (/unique|duplicate/i.test(String((err as Error).message))) throw new ConflictError(`An allocation with name or UUID ${body.name ?? uuid} already exists.`);
      throw err;
    }
    // As Ironic: a backfill answers with its outcome; a matching answers with the allocation as
    // recorded ("allocating", no node), the client then polls it. The matching is quick database
    // work, done before the answer is sent, so the first GET already shows "active" or "error".
    const result = node ? await backfill(db, row, node, traits) : (await allocate(db, row, traits, candidates, matchFor), row);
    reply.status(201).header('location', `${deps.base()}/v1/allocations/${uuid}`);
    return allocationView(result, deps.base());
  });

  const listAllocations = async (request: FastifyRequest) => {
    const auth = authorize(request, 'baremetal:allocation:list');
    const q = request.query as Query;
    const fields = parseFields(q.fields, Object.keys(allocationView(await sampleAllocation(), '')));
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, ALLOCATION_SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    let query = db.selectFrom('baremetal_allocations').selectAll();
    if (q.node) query = query.where('node_uuid', '=', (await findVisibleNode(db, auth, q.node)).uuid);
    if (q.resource_class) query = query.where('resource_class', '=', q.resource_class);
    if (q.state) query = query.where('state', '=', q.state);
    if (q.owner) query = query.where('owner', '=', q.owner);
    if (!isAdmin(auth)) query = query.where('owner', '=', auth.projectId ?? '');
    const rows = await query.orderBy(sql<string>`coalesce(${sql.ref(sortKey)}, '')`, dir).orderBy('uuid', dir).limit(limit).execute();
    return { allocations: rows.map((r) => (fields ? pick(allocationView(r, deps.base()), fields) : allocationView(r, deps.base()))) };
  };
  app.get('/v1/allocations', listAllocations);
  app.get('/v1/allocations/', listAllocations);

  /** An allocation the caller may see (others answer as missing ones), with the caller allowed `op` on it. */
  async function visibleAllocation(request: FastifyRequest, ident: string, op: BaremetalOp): Promise<AllocationRow> {
    const auth = requireAuth(request);
    const a = await findAllocation(ident);
    authorizeOnAllocation(auth, a, op, ident);
    return a;
  }

  app.get('/v1/allocations/:ident', async (request) => {
    const { ident } = request.params as { ident: string };
    const a = await visibleAllocation(request, ident, 'baremetal:allocation:get');
    const v = allocationView(a, deps.base());
    const fields = parseFields((request.query as Query).fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/allocations/:ident', { schema: { body: patchSchema } }, async (request) => {
    const { ident } = request.params as { ident: string };
    const a = await visibleAllocation(request, ident, 'baremetal:allocation:update');
    const after = applyPatch(allocationView(a, ''), request.body as PatchOp[], new Set(['name', 'extra']));
    if (typeof after.name === 'string' && isUuid(after.name)) throw new BadRequestError('An allocation name must not be a UUID');
    await db
      .updateTable('baremetal_allocations')
      .set({ name: (after.name as string | null) ?? null, extra: toJson(after.extra ?? {}), updated_at: now() })
      .where('uuid', '=', a.uuid)
      .execute();
    return allocationView(await findAllocation(a.uuid), deps.base());
  });

  app.delete('/v1/allocations/:ident', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const a = await visibleAllocation(request, ident, 'baremetal:allocation:delete');
    if (a.node_uuid) {
      const node = await findNode(db, a.node_uuid);
      if (['active', 'deploying', 'wait call-back'].includes(node.provision_state) && !node.maintenance) {
        throw new ConflictError(`Cannot remove allocation ${a.uuid} from node ${node.uuid} in provision state "${node.provision_state}"; undeploy it first.`);
      }
      await db
        .updateTable('baremetal_nodes')
        .set({ allocation_uuid: null, instance_uuid: node.instance_uuid === a.uuid ? null : node.instance_uuid, updated_at: now() })
        .where('uuid', '=', node.uuid)
        .execute();
    }
    await db.deleteFrom('baremetal_allocations').where('uuid', '=', a.uuid).execute();
    reply.status(204);
  });
}

async function sampleAllocation(): Promise<AllocationRow> {
  return {
    uuid: '', name: null, state: '', owner: null, node_uuid: null, last_error: null, resource_class: null, traits: '[]',
    candidate_nodes: '[]', extra: '{}', created_at: '', updated_at: null,
  };
}

