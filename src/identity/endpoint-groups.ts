// Keystone's OS-EP-FILTER extension under /identity: endpoint groups (a name and filters on
// service_id, interface and region_id, matched against the stored endpoints), the projects an
// endpoint group is given to, and endpoints given to a project one by one. All of it is the
// admin's (Keystone's defaults: admin_required). These are stored and listed only: as in a
// Keystone without the endpoint_filter catalog driver, a token's catalog is not filtered by them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AnyDB } from '../common/db.js';
import { now, toJson, fromJson } from '../common/db.js';
import type { Policy, AuthContext } from '../common/auth.js';
import { requireAuth, type CatalogEntry } from '../common/service.js';
import { BadRequestError, NotFoundError } from '../common/errors.js';
import type { CatalogStore, EndpointRow } from './catalog-store.js';
import type { IdentityStore } from './store.js';
import { newId } from './store.js';
import { projectView } from './views.js';

export interface EndpointGroupRow { id: string; name: string; description: string | null; filters: string; created_at: string }
interface Tables {
  identity_endpoint_groups: EndpointGroupRow;
  identity_project_endpoint_groups: { endpoint_group_id: string; project_id: string };
  identity_project_endpoints: { endpoint_id: string; project_id: string };
}

/** The attributes an endpoint group may filter on (Keystone's valid filters). */
export const FILTER_KEYS = ['service_id', 'interface', 'region_id'] as const;
type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

/** Whether an endpoint matches every filter of a group (no filter: every endpoint). */
export function matches(filters: Filters, e: EndpointRow): boolean {
  return FILTER_KEYS.every((k) => filters[k] === undefined || filters[k] === e[k]);
}

export class EndpointGroupStore {
  private readonly db: Kysely<Tables>;
  constructor(db: AnyDB) {
    this.db = db as unknown as Kysely<Tables>;
  }
  get(id: string) {
    return this.db.selectFrom('identity_endpoint_groups').selectAll().where('id', '=', id).executeTakeFirst();
  }
  list(name?: string) {
    let q = this.db.selectFrom('identity_endpoint_groups').selectAll().orderBy('created_at').orderBy('id');
    if (name !== undefined) q = q.where('name', '=', name);
    return q.execute();
  }
  async create(g: { name: string; description: string | null; filters: Filters }): Promise<EndpointGroupRow> {
    const row: EndpointGroupRow = { id: newId(), name: g.name, description: g.description, filters: toJson(g.filters), created_at: now() };
    await this.db.insertInto('identity_endpoint_groups').values(row).execute();
    return row;
  }
  async update(id: string, set: Partial<Pick<EndpointGroupRow, 'name' | 'description' | 'filters'>>): Promise<void> {
    if (Object.keys(set).length) await this.db.updateTable('identity_endpoint_groups').set(set).where('id', '=', id).execute();
  }
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('identity_endpoint_groups').where('id', '=', id).execute();
  }
  // --- endpoint group <-> project
  async addProject(groupId: string, projectId: string): Promise<void> {
    await this.db.insertInto('identity_project_endpoint_groups').values({ endpoint_group_id: groupId, project_id: projectId })
      .onConflict((oc) => oc.doNothing()).execute();
  }
  async hasProject(groupId: string, projectId: string): Promise<boolean> {
    return !!(await this.db.selectFrom('identity_project_endpoint_groups').select('project_id')
      .where('endpoint_group_id', '=', groupId).where('project_id', '=', projectId).executeTakeFirst());
  }
  async removeProject(groupId: string, projectId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('identity_project_endpoint_groups').where('endpoint_group_id', '=', groupId).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async projectsOfGroup(groupId: string): Promise<string[]> {
    return (await this.db.selectFrom('identity_project_endpoint_groups').select('project_id').where('endpoint_group_id', '=', groupId).orderBy('project_id').execute()).map((r) => r.project_id);
  }
  async groupsOfProject(projectId: string): Promise<string[]> {
    return (await this.db.selectFrom('identity_project_endpoint_groups').select('endpoint_group_id').where('project_id', '=', projectId).execute()).map((r) => r.endpoint_group_id);
  }
  // --- endpoint <-> project
  async addEndpoint(projectId: string, endpointId: string): Promise<void> {
    await this.db.insertInto('identity_project_endpoints').values({ endpoint_id: endpointId, project_id: projectId })
      .onConflict((oc) => oc.doNothing()).execute();
  }
  async hasEndpoint(projectId: string, endpointId: string): Promise<boolean> {
    return !!(await this.db.selectFrom('identity_project_endpoints').select('project_id')
      .where('endpoint_id', '=', endpointId).where('project_id', '=', projectId).executeTakeFirst());
  }
  async removeEndpoint(projectId: string, endpointId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('identity_project_endpoints').where('endpoint_id', '=', endpointId).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async endpointsOfProject(projectId: string): Promise<string[]> {
    return (await this.db.selectFrom('identity_project_endpoints').select('endpoint_id').where('project_id', '=', projectId).execute()).map((r) => r.endpoint_id);
  }
  async projectsOfEndpoint(endpointId: string): Promise<string[]> {
    return (await this.db.selectFrom('identity_project_endpoints').select('project_id').where('endpoint_id', '=', endpointId).orderBy('project_id').execute()).map((r) => r.project_id);
  }
}

export interface EndpointGroupDeps {
  groups: EndpointGroupStore;
  catalog: CatalogStore;
  store: IdentityStore;
  policy: Policy;
  base: () => string;
  publicUrl: () => string;
  running: () => readonly CatalogEntry[];
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: unknown }>;

function bad(path: string, why: string): never {
  throw new BadRequestError(`${path}: ${why}`, { fields: { path } });
}

/** The endpoint_group of a request body, checked; `partial` for an update. */
function parseGroup(body: unknown, partial: boolean): { name?: string; description?: string | null; filters?: Filters } {
  const g = (body as { endpoint_group?: unknown } | null)?.endpoint_group;
  if (typeof g !== 'object' || g === null || Array.isArray(g)) bad('body.endpoint_group', 'an object is required.');
  const out: { name?: string; description?: string | null; filters?: Filters } = {};
  for (const [k, v] of Object.entries(g)) {
    if (k === 'name') {
      if (typeof v !== 'string' || v.length < 1 || v.length > 255) bad('body.endpoint_group.name', 'a string of 1 to 255 characters.');
      out.name = v;
    } else if (k === 'description') {
      if (v !== null && (typeof v !== 'string' || v.length > 65535)) bad('body.endpoint_group.description', 'a string or null.');
      out.description = v;
    } else if (k === 'filters') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('body.endpoint_group.filters', 'an object is required.');
      const filters: Filters = {};
      for (const [fk, fv] of Object.entries(v)) {
        if (!(FILTER_KEYS as readonly string[]).includes(fk)) bad(`body.endpoint_group.filters.${fk.slice(0, 64)}`, `not a valid filter (${FILTER_KEYS.join(', ')}).`);
        if (typeof fv !== 'string' || fv.length > 255) bad(`body.endpoint_group.filters.${fk}`, 'a string of at most 255 characters.');
        filters[fk as keyof Filters] = fv;
      }
      out.filters = filters;
    } else if (k !== 'id' && k !== 'links') {
      bad(`body.endpoint_group.${k.slice(0, 64)}`, 'not an attribute of an endpoint group.');
    }
  }
  if (!partial && out.name === undefined) bad('body.endpoint_group.name', 'is required.');
  if (!partial && out.filters === undefined) bad('body.endpoint_group.filters', 'is required.');
  return out;
}

export function registerEndpointGroupRoutes(app: FastifyInstance, deps: EndpointGroupDeps): void {
  const { groups, catalog } = deps;
  const P = '/v3/OS-EP-FILTER';
  const enforce = (op: string, auth: AuthContext) => deps.policy.enforce(op, auth, {});
  const links = (request: FastifyRequest) => ({ self: `${deps.base()}${request.url.replace(/^\/identity/, '')}`, previous: null, next: null });

  const groupView = (g: EndpointGroupRow) => ({
    id: g.id, name: g.name, description: g.description, filters: fromJson<Filters>(g.filters, {}),
    links: { self: `${deps.base()}${P}/endpoint_groups/${g.id}` },
  });
  const endpointView = (e: EndpointRow) => ({
    id: e.id, service_id: e.service_id, interface: e.interface,
    url: catalog.endpointUrl(e, deps.publicUrl(), deps.running()) ?? e.url,
    region_id: e.region_id, region: e.region_id, enabled: e.enabled === 1,
    links: { self: `${deps.base()}/v3/endpoints/${e.id}` },
  });

  async function group(id: string): Promise<EndpointGroupRow> {
    const g = await groups.get(id);
    if (!g) throw new NotFoundError('EndpointGroup', id);
    return g;
  }
  async function project(id: string) {
    const p = await deps.store.getProject(id);
    if (!p) throw new NotFoundError('Project', id);
    return p;
  }
  async function endpoint(id: string): Promise<EndpointRow> {
    const e = await catalog.getEndpoint(id);
    if (!e) throw new NotFoundError('Endpoint', id);
    return e;
  }
  async function projectViews(ids: string[]) {
    const rows = await Promise.all(ids.map((id) => deps.store.getProject(id)));
    return rows.filter((p) => p !== undefined).map((p) => projectView(deps.base(), p));
  }
  async function endpointsOfGroup(g: EndpointGroupRow): Promise<EndpointRow[]> {
    const filters = fromJson<Filters>(g.filters, {});
    return (await catalog.listEndpoints()).filter((e) => matches(filters, e));
  }

  // --- endpoint groups
  app.post(`${P}/endpoint_groups`, async (request: Req, reply) => {
    enforce('identity:create_endpoint_group', requireAuth(request));
    const g = parseGroup(request.body, false);
    const row = await groups.create({ name: g.name!, description: g.description ?? null, filters: g.filters! });
    return reply.status(201).send({ endpoint_group: groupView(row) });
  });
  app.get(`${P}/endpoint_groups`, async (request: Req) => {
    enforce('identity:list_endpoint_groups', requireAuth(request));
    return { endpoint_groups: (await groups.list(request.query.name)).map(groupView), links: links(request) };
  });
  app.get(`${P}/endpoint_groups/:id`, async (request: Req) => {
    enforce('identity:get_endpoint_group', requireAuth(request));
    return { endpoint_group: groupView(await group(request.params.id!)) };
  });
  app.head(`${P}/endpoint_groups/:id`, async (request: Req, reply: FastifyReply) => {
    enforce('identity:get_endpoint_group', requireAuth(request));
    await group(request.params.id!);
    return reply.status(200).send();
  });
  app.patch(`${P}/endpoint_groups/:id`, async (request: Req) => {
    enforce('identity:update_endpoint_group', requireAuth(request));
    const id = request.params.id!;
    await group(id);
    const g = parseGroup(request.body, true);
    await groups.update(id, {
      ...(g.name !== undefined ? { name: g.name } : {}),
      ...(g.description !== undefined ? { description: g.description } : {}),
      ...(g.filters !== undefined ? { filters: toJson(g.filters) } : {}),
    });
    return { endpoint_group: groupView(await group(id)) };
  });
  app.delete(`${P}/endpoint_groups/:id`, async (request: Req, reply) => {
    enforce('identity:delete_endpoint_group', requireAuth(request));
    const id = request.params.id!;
    await group(id);
    await groups.delete(id);
    return reply.status(204).send();
  });
  app.get(`${P}/endpoint_groups/:id/endpoints`, async (request: Req) => {
    enforce('identity:list_endpoints_associated_with_endpoint_group', requireAuth(request));
    return { endpoints: (await endpointsOfGroup(await group(request.params.id!))).map(endpointView), links: links(request) };
  });

  // --- endpoint group <-> project
  app.get(`${P}/endpoint_groups/:id/projects`, async (request: Req) => {
    enforce('identity:list_projects_associated_with_endpoint_group', requireAuth(request));
    const g = await group(request.params.id!);
    return { projects: await projectViews(await groups.projectsOfGroup(g.id)), links: links(request) };
  });
  const association = `${P}/endpoint_groups/:id/projects/:project`;
  app.put(association, async (request: Req, reply) => {
    enforce('identity:add_endpoint_group_to_project', requireAuth(request));
    const g = await group(request.params.id!);
    const p = await project(request.params.project!);
    await groups.addProject(g.id, p.id);
    return reply.status(204).send();
  });
  async function checkAssociation(request: Req) {
    enforce('identity:get_endpoint_group_in_project', requireAuth(request));
    const g = await group(request.params.id!);
    const p = await project(request.params.project!);
    if (!(await groups.hasProject(g.id, p.id))) throw new NotFoundError('EndpointGroupProjectAssociation', `${g.id}/${p.id}`);
    return { g, p };
  }
  app.get(association, async (request: Req) => {
    const { p } = await checkAssociation(request);
    return { project: projectView(deps.base(), p) };
  });
  app.head(association, async (request: Req, reply: FastifyReply) => {
    await checkAssociation(request);
    return reply.status(200).send();
  });
  app.delete(association, async (request: Req, reply) => {
    enforce('identity:remove_endpoint_group_from_project', requireAuth(request));
    const g = await group(request.params.id!);
    const p = await project(request.params.project!);
    if (!(await groups.removeProject(g.id, p.id))) throw new NotFoundError('EndpointGroupProjectAssociation', `${g.id}/${p.id}`);
    return reply.status(204).send();
  });
  app.get(`${P}/projects/:project/endpoint_groups`, async (request: Req) => {
    enforce('identity:list_endpoint_groups_for_project', requireAuth(request));
    const p = await project(request.params.project!);
    const rows = await Promise.all((await groups.groupsOfProject(p.id)).map((id) => groups.get(id)));
    return { endpoint_groups: rows.filter((g) => g !== undefined).map(groupView), links: links(request) };
  });

  // --- endpoint <-> project, one by one
  const pe = `${P}/projects/:project/endpoints/:endpoint`;
  app.put(pe, async (request: Req, reply) => {
    enforce('identity:add_endpoint_to_project', requireAuth(request));
    const p = await project(request.params.project!);
    const e = await endpoint(request.params.endpoint!);
    await groups.addEndpoint(p.id, e.id);
    return reply.status(204).send();
  });
  async function checkEndpoint(request: Req) {
    enforce('identity:check_endpoint_in_project', requireAuth(request));
    const p = await project(request.params.project!);
    const e = await endpoint(request.params.endpoint!);
    if (!(await groups.hasEndpoint(p.id, e.id))) throw new NotFoundError('ProjectEndpoint', `${p.id}/${e.id}`);
  }
  app.get(pe, async (request: Req, reply: FastifyReply) => {
    await checkEndpoint(request);
    return reply.status(204).send();
  });
  app.head(pe, async (request: Req, reply: FastifyReply) => {
    await checkEndpoint(request);
    return reply.status(204).send();
  });
  app.delete(pe, async (request: Req, reply) => {
    enforce('identity:remove_endpoint_from_project', requireAuth(request));
    const p = await project(request.params.project!);
    const e = await endpoint(request.params.endpoint!);
    if (!(await groups.removeEndpoint(p.id, e.id))) throw new NotFoundError('ProjectEndpoint', `${p.id}/${e.id}`);
    return reply.status(204).send();
  });
  // A project's endpoints: those given to it one by one and those of its endpoint groups.
  app.get(`${P}/projects/:project/endpoints`, async (request: Req) => {
    enforce('identity:list_endpoints_for_project', requireAuth(request));
    const p = await project(request.params.project!);
    const ids = new Set(await groups.endpointsOfProject(p.id));
    for (const gid of await groups.groupsOfProject(p.id)) {
      const g = await groups.get(gid);
      if (g) for (const e of await endpointsOfGroup(g)) ids.add(e.id);
    }
    const rows = (await catalog.listEndpoints()).filter((e) => ids.has(e.id));
    return { endpoints: rows.map(endpointView), links: links(request) };
  });
  app.get(`${P}/endpoints/:endpoint/projects`, async (request: Req) => {
    enforce('identity:list_projects_for_endpoint', requireAuth(request));
    const e = await endpoint(request.params.endpoint!);
    return { projects: await projectViews(await groups.projectsOfEndpoint(e.id)), links: links(request) };
  });
}
