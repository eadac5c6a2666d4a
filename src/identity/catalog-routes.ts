// Keystone v3 regions, services and endpoints under /identity, on the stored catalog
// (catalog-store.ts). Writes are the admin's (Keystone's defaults: admin_required); reading
// regions takes any token, reading services and endpoints is the admin's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Policy, AuthContext } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { toJson } from '../common/db.js';
import type { CatalogEntry } from '../common/service.js';
import { extrasOfRow, type CatalogStore, type EndpointRow, type RegionRow, type ServiceRow } from './catalog-store.js';
import {
  endpointCreateSchema, endpointUpdateSchema, regionCreateSchema, regionUpdateSchema, serviceCreateSchema, serviceUpdateSchema,
  ENDPOINT_FIELDS, REGION_FIELDS, SERVICE_FIELDS,
} from './catalog-schemas.js';

export interface CatalogRouteDeps {
  catalog: CatalogStore;
  policy: Policy;
  /** http://host:port/identity */
  base: () => string;
  publicUrl: () => string;
  /** The running services' catalog entries (identity's own first). */
  running: () => readonly CatalogEntry[];
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: unknown }>;
type Body = Record<string, unknown>;

/** Extra attributes: bounded so that a catalog entry cannot grow without limit. */
const MAX_EXTRAS = 32;
const MAX_EXTRA_BYTES = 8192;

/** The attributes of `body` that are not the resource's own: Keystone keeps them and shows them back. */
function extrasOf(kind: string, body: Body, own: readonly string[], current: Record<string, unknown> = {}): Record<string, unknown> {
  const out = { ...current };
  for (const [k, v] of Object.entries(body)) {
    if (own.includes(k)) continue;
    if (k === 'links' || k === 'extra') throw new BadRequestError(`body.${kind}.${k}: cannot be set.`, { fields: { path: `body.${kind}.${k}` } });
    if (k.length === 0 || k.length > 64) throw new BadRequestError(`body.${kind}.${k.slice(0, 64)}: an extra attribute's name has 1 to 64 characters.`, { fields: { path: `body.${kind}` } });
    out[k] = v;
  }
  if (Object.keys(out).length > MAX_EXTRAS) throw new BadRequestError(`body.${kind}: at most ${MAX_EXTRAS} extra attributes.`, { fields: { path: `body.${kind}` } });
  if (Buffer.byteLength(JSON.stringify(out)) > MAX_EXTRA_BYTES) throw new BadRequestError(`body.${kind}: the extra attributes take at most ${MAX_EXTRA_BYTES} bytes as JSON.`, { fields: { path: `body.${kind}` } });
  return out;
}

function listLinks(request: FastifyRequest, base: string) {
  return { self: `${base}${request.url.replace(/^\/identity/, '')}`, previous: null, next: null };
}

export function registerCatalogRoutes(app: FastifyInstance, deps: CatalogRouteDeps): void {
  const { catalog } = deps;
  const enforce = (op: string, auth: AuthContext) => deps.policy.enforce(op, auth, {});

  const regionView = (r: RegionRow) => ({
    ...extrasOfRow(r), id: r.id, description: r.description, parent_region_id: r.parent_region_id, links: { self: `${deps.base()}/v3/regions/${r.id}` },
  });
  const serviceView = (s: ServiceRow) => ({
    ...extrasOfRow(s), id: s.id, type: s.type, enabled: s.enabled === 1,
    ...(s.name !== null ? { name: s.name } : {}),
    ...(s.description !== null ? { description: s.description } : {}),
    links: { self: `${deps.base()}/v3/services/${s.id}` },
  });
  const endpointView = (e: EndpointRow) => ({
    ...extrasOfRow(e), id: e.id, service_id: e.service_id, interface: e.interface,
    url: catalog.endpointUrl(e, deps.publicUrl(), deps.running()) ?? e.url,
    region_id: e.region_id, region: e.region_id, enabled: e.enabled === 1,
    links: { self: `${deps.base()}/v3/endpoints/${e.id}` },
  });

  async function region(id: string): Promise<RegionRow> {
    const r = await catalog.getRegion(id);
    if (!r) throw new NotFoundError('Region', id);
    return r;
  }
  async function service(id: string): Promise<ServiceRow> {
    const s = await catalog.getService(id);
    if (!s) throw new NotFoundError('Service', id);
    return s;
  }
  async function endpoint(id: string): Promise<EndpointRow> {
    const e = await catalog.getEndpoint(id);
    if (!e) throw new NotFoundError('Endpoint', id);
    return e;
  }

  // --- regions. Keystone's list_regions and get_region are "" (any valid token, an unscoped one
  // too), which a role list in the policy table cannot say: a token is all these ask for.
  app.get('/v3/regions', async (request: Req) => {
    requireAuth(request);
    const rows = await catalog.listRegions({ parent_region_id: request.query.parent_region_id });
    return { regions: rows.map(regionView), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/regions/:id', async (request: Req) => {
    requireAuth(request);
    return { region: regionView(await region(request.params.id!)) };
  });
  async function createRegion(id: string | undefined, r: Body) {
    const parent = r.parent_region_id as string | null | undefined;
    if (parent) await region(parent);
    return catalog.createRegion({ id, description: (r.description as string | null | undefined) ?? '', parent_region_id: parent ?? null, extra: extrasOf('region', r, REGION_FIELDS) });
  }
  app.post('/v3/regions', { schema: { body: regionCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_region', requireAuth(request));
    const r = (request.body as { region: Body }).region;
    return reply.status(201).send({ region: regionView(await createRegion(r.id as string | undefined, r)) });
  });
  // Keystone's create with an id of the caller's choosing (PUT, and only for a new region).
  app.put('/v3/regions/:id', { schema: { body: regionCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_region', requireAuth(request));
    const id = request.params.id!;
    const r = (request.body as { region: Body }).region;
    if (r.id !== undefined && r.id !== id) throw new BadRequestError('body.region.id: differs from the id in the URL.', { fields: { path: 'body.region.id' } });
    if (id.length > 255) throw new BadRequestError('id: at most 255 characters.', { fields: { path: 'params.id' } });
    return reply.status(201).send({ region: regionView(await createRegion(id, r)) });
  });
  app.patch('/v3/regions/:id', { schema: { body: regionUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_region', requireAuth(request));
    const id = request.params.id!;
    const current = await region(id);
    const r = (request.body as { region: Body }).region;
    if (r.id !== undefined && r.id !== id) throw new BadRequestError('body.region.id: a region\'s id cannot change.', { fields: { path: 'body.region.id' } });
    const set: Partial<RegionRow> = {};
    if (r.description !== undefined) set.description = (r.description as string | null) ?? '';
    if (r.parent_region_id !== undefined) {
      const parent = r.parent_region_id as string | null;
      if (parent !== null) {
        await region(parent);
        // A region cannot be its own ancestor.
        if (parent === id || (await catalog.ancestors(parent)).includes(id)) {
          throw new BadRequestError(`body.region.parent_region_id: ${parent} would make region ${id} its own ancestor.`, { fields: { path: 'body.region.parent_region_id' } });
        }
      }
      set.parent_region_id = parent;
    }
    const extra = extrasOf('region', r, REGION_FIELDS, extrasOfRow(current));
    if (Object.keys(extra).length || current.extra !== '{}') set.extra = toJson(extra);
    await catalog.updateRegion(id, set);
    return { region: regionView(await region(id)) };
  });
  app.delete('/v3/regions/:id', async (request: Req, reply) => {
    enforce('identity:delete_region', requireAuth(request));
    const id = request.params.id!;
    await region(id);
    const used = await catalog.regionUsers(id);
    if (used.children.length) throw new ForbiddenError(`Region ${id} has child regions (${used.children.slice(0, 5).join(', ')}): delete them first.`);
    if (used.endpoints.length) throw new ForbiddenError(`Region ${id} has endpoints (${used.endpoints.slice(0, 5).join(', ')}): delete them or move them to another region first.`);
    await catalog.deleteRegion(id);
    return reply.status(204).send();
  });

  // --- services
  app.get('/v3/services', async (request: Req) => {
    enforce('identity:list_services', requireAuth(request));
    const rows = await catalog.listServices({ type: request.query.type, name: request.query.name });
    return { services: rows.map(serviceView), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/services/:id', async (request: Req) => {
    enforce('identity:get_service', requireAuth(request));
    return { service: serviceView(await service(request.params.id!)) };
  });
  app.post('/v3/services', { schema: { body: serviceCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_service', requireAuth(request));
    const s = (request.body as { service: Body }).service;
    const row = await catalog.createService({
      type: s.type as string, name: s.name as string | null | undefined, description: s.description as string | null | undefined,
      enabled: s.enabled as boolean | undefined, extra: extrasOf('service', s, SERVICE_FIELDS),
    });
    return reply.status(201).send({ service: serviceView(row) });
  });
  app.patch('/v3/services/:id', { schema: { body: serviceUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_service', requireAuth(request));
    const id = request.params.id!;
    const current = await service(id);
    const s = (request.body as { service: Body }).service;
    if (s.id !== undefined && s.id !== id) throw new BadRequestError('body.service.id: a service\'s id cannot change.', { fields: { path: 'body.service.id' } });
    const set: Partial<ServiceRow> = {};
    if (s.type !== undefined) set.type = s.type as string;
    if (s.name !== undefined) set.name = s.name as string | null;
    if (s.description !== undefined) set.description = s.description as string | null;
    if (s.enabled !== undefined) set.enabled = s.enabled ? 1 : 0;
    const extra = extrasOf('service', s, SERVICE_FIELDS, extrasOfRow(current));
    if (Object.keys(extra).length || current.extra !== '{}') set.extra = toJson(extra);
    await catalog.updateService(id, set);
    return { service: serviceView(await service(id)) };
  });
  app.delete('/v3/services/:id', async (request: Req, reply) => {
    enforce('identity:delete_service', requireAuth(request));
    await service(request.params.id!);
    await catalog.deleteService(request.params.id!);
    return reply.status(204).send();
  });

  // --- endpoints
  /**
   * The region of an endpoint body: region_id must name a region; Keystone's older `region`
   * attribute creates the region it names when there is none.
   */
  async function endpointRegion(e: Body): Promise<string | null | undefined> {
    const byId = e.region_id as string | null | undefined;
    const legacy = e.region as string | null | undefined;
    if (byId !== undefined && legacy !== undefined && byId !== legacy) {
      throw new BadRequestError('body.endpoint.region: differs from body.endpoint.region_id; give one of them.', { fields: { path: 'body.endpoint.region' } });
    }
    if (byId !== undefined && byId !== null) {
      if (!(await catalog.getRegion(byId))) throw new BadRequestError(`body.endpoint.region_id: no region ${byId}.`, { fields: { path: 'body.endpoint.region_id' } });
      return byId;
    }
    if (legacy !== undefined && legacy !== null) {
      if (!(await catalog.getRegion(legacy))) await catalog.createRegion({ id: legacy });
      return legacy;
    }
    return byId ?? legacy;
  }
  async function endpointService(id: string): Promise<void> {
    if (!(await catalog.getService(id))) throw new BadRequestError(`body.endpoint.service_id: no service ${id}.`, { fields: { path: 'body.endpoint.service_id' } });
  }
  app.get('/v3/endpoints', async (request: Req) => {
    enforce('identity:list_endpoints', requireAuth(request));
    const q = request.query;
    const rows = await catalog.listEndpoints({ service_id: q.service_id, interface: q.interface, region_id: q.region_id });
    return { endpoints: rows.map(endpointView), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/endpoints/:id', async (request: Req) => {
    enforce('identity:get_endpoint', requireAuth(request));
    return { endpoint: endpointView(await endpoint(request.params.id!)) };
  });
  app.post('/v3/endpoints', { schema: { body: endpointCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_endpoint', requireAuth(request));
    const e = (request.body as { endpoint: Body }).endpoint;
    await endpointService(e.service_id as string);
    const extra = extrasOf('endpoint', e, ENDPOINT_FIELDS);
    const row = await catalog.createEndpoint({
      service_id: e.service_id as string, interface: e.interface as string, url: e.url as string,
      region_id: (await endpointRegion(e)) ?? null, enabled: e.enabled === false ? 0 : 1, extra: toJson(extra),
    });
    return reply.status(201).send({ endpoint: endpointView(row) });
  });
  app.patch('/v3/endpoints/:id', { schema: { body: endpointUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_endpoint', requireAuth(request));
    const id = request.params.id!;
    const current = await endpoint(id);
    const e = (request.body as { endpoint: Body }).endpoint;
    if (e.id !== undefined && e.id !== id) throw new BadRequestError('body.endpoint.id: an endpoint\'s id cannot change.', { fields: { path: 'body.endpoint.id' } });
    const set: Partial<EndpointRow> = {};
    if (e.service_id !== undefined) {
      await endpointService(e.service_id as string);
      set.service_id = e.service_id as string;
    }
    if (e.interface !== undefined) set.interface = e.interface as string;
    // A URL the admin sets is kept as given: the endpoint no longer follows this server's URL.
    if (e.url !== undefined) {
      set.url = e.url as string;
      set.builtin_of = null;
    }
    const regionId = await endpointRegion(e);
    if (regionId !== undefined) set.region_id = regionId;
    if (e.enabled !== undefined) set.enabled = e.enabled ? 1 : 0;
    const extra = extrasOf('endpoint', e, ENDPOINT_FIELDS, extrasOfRow(current));
    if (Object.keys(extra).length || current.extra !== '{}') set.extra = toJson(extra);
    await catalog.updateEndpoint(id, set);
    return { endpoint: endpointView(await endpoint(id)) };
  });
  app.delete('/v3/endpoints/:id', async (request: Req, reply) => {
    enforce('identity:delete_endpoint', requireAuth(request));
    await endpoint(request.params.id!);
    await catalog.deleteEndpoint(request.params.id!);
    return reply.status(204).send();
  });
}
