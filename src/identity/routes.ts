// Keystone v3 routes under /identity. Thin: validate, check policy, call the store or the
// token service, render Keystone's JSON.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Policy, AuthContext } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import type { IdentityStore, ProjectRow, UserRow, RoleRow, AssignmentRow, UserOptions } from './store.js';
import type { TokenService } from './tokens.js';
import type { Authenticator, AuthRequest } from './authenticate.js';
import { authRequestSchema } from './authenticate.js';
import { REGION, type CatalogService } from './catalog.js';
import { versionDocument, versionsDocument } from './versions.js';
import { domainView, projectView, roleView, tokenView, userView } from './views.js';
import { projectCreateSchema, projectUpdateSchema, userCreateSchema, userUpdateSchema, userPasswordSchema, roleCreateSchema, domainCreateSchema } from './schemas.js';
import { extrasOf, mergeExtras, storedExtras } from './user-extras.js';
import { toJson } from '../common/db.js';
import { hashPassword } from './passwords.js';
import { DEFAULT_DOMAIN_ID } from './bootstrap.js';

export interface IdentityRouteDeps {
  store: IdentityStore;
  tokens: TokenService;
  authenticator: Authenticator;
  policy: Policy;
  /** http://host:port/identity */
  base: () => string;
  /** The catalog, with project-specific endpoint URLs when a project is given. */
  catalog: (projectId?: string | null) => CatalogService[];
}

const pub = { config: { public: true } };
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: unknown }>;

function listLinks(request: FastifyRequest, base: string) {
  return { self: `${base}${request.url.replace(/^\/identity/, '')}`, previous: null, next: null };
}

function serviceView(base: string, c: CatalogService) {
  return { id: c.id, type: c.type, name: c.name, enabled: true, description: '', links: { self: `${base}/v3/services/${c.id}` } };
}

function subjectToken(request: FastifyRequest): string {
  const t = request.headers['x-subject-token'];
  if (typeof t !== 'string' || !t) throw new BadRequestError('X-Subject-Token header is required.', { fields: { path: 'headers.x-subject-token' } });
  return t;
}

function boolQuery(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return !['0', 'false', 'False', 'no'].includes(v);
}

export function registerIdentityRoutes(app: FastifyInstance, deps: IdentityRouteDeps): void {
  const { store, tokens, policy } = deps;
  const enforce = (op: string, auth: AuthContext, target: { projectId?: string | null } = {}) => policy.enforce(op, auth, target);

  async function project(id: string): Promise<ProjectRow> {
    const p = await store.getProject(id);
    if (!p) throw new NotFoundError('Project', id);
    return p;
  }
  async function user(id: string): Promise<UserRow> {
    const u = await store.getUser(id);
    if (!u) throw new NotFoundError('User', id);
    return u;
  }
  async function role(id: string): Promise<RoleRow> {
    const r = await store.getRole(id);
    if (!r) throw new NotFoundError('Role', id);
    return r;
  }
  async function domainRef(id: string | undefined): Promise<{ id?: string; name?: string }> {
    const d = id === undefined ? undefined : await store.getDomain(id);
    return { id, name: d?.name };
  }
  async function domainExists(id: string): Promise<void> {
    if (!(await store.getDomain(id))) throw new NotFoundError('Domain', id);
  }

  // --- version discovery
  app.get('/', pub, async (_req, reply) => reply.status(300).send(versionsDocument(deps.base())));
  app.get('/v3', pub, async () => versionDocument(deps.base()));
  app.get('/v3/', pub, async () => versionDocument(deps.base()));

  // --- tokens
  app.post('/v3/auth/tokens', { ...pub, schema: { body: authRequestSchema } }, async (request: Req, reply) => {
    const body = request.body as { auth: AuthRequest };
    const { token, info } = await deps.authenticator.authenticate(body.auth);
    const nocatalog = request.query.nocatalog !== undefined;
    reply.header('x-subject-token', token);
    return reply.status(201).send(tokenView(info, nocatalog ? null : deps.catalog(info.project?.id)));
  });

  async function subject(request: FastifyRequest) {
    const auth = requireAuth(request);
    const info = await tokens.validate(subjectToken(request)).catch((err: unknown) => {
      // An invalid subject token is "not found" (404), not a failure of the caller's own token.
      if (err instanceof UnauthorizedError) throw new NotFoundError('Token', 'given in X-Subject-Token', { cause: err });
      throw err;
    });
    if (info.user.id !== auth.userId) enforce('identity:validate_token', auth);
    return info;
  }

  app.get('/v3/auth/tokens', async (request: Req, reply) => {
    const info = await subject(request);
    reply.header('x-subject-token', subjectToken(request));
    return tokenView(info, request.query.nocatalog !== undefined ? null : deps.catalog(info.project?.id));
  });
  app.delete('/v3/auth/tokens', async (request, reply) => {
    const info = await subject(request);
    const auth = requireAuth(request);
    if (info.user.id !== auth.userId) enforce('identity:revoke_token', auth);
    await tokens.revoke(subjectToken(request));
    return reply.status(204).send();
  });
  app.get('/v3/auth/catalog', async (request) => {
    const auth = requireAuth(request);
    if (!auth.projectId && !auth.roles.length) throw new ForbiddenError('An unscoped token has no catalog.');
    return { catalog: deps.catalog(auth.projectId), links: { self: `${deps.base()}/v3/auth/catalog`, previous: null, next: null } };
  });
  app.get('/v3/auth/projects', async (request) => {
    const auth = requireAuth(request);
    const ids = [...new Set((await store.listAssignments({ user_id: auth.userId, target_type: 'project' })).map((a) => a.target_id))];
    const rows = await store.listProjects({ ids, enabled: true });
    return { projects: rows.map((p) => projectView(deps.base(), p)), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/auth/domains', async (request) => {
    const auth = requireAuth(request);
    const ids = new Set((await store.listAssignments({ user_id: auth.userId, target_type: 'domain' })).map((a) => a.target_id));
    const rows = (await store.listDomains({ enabled: true })).filter((d) => ids.has(d.id));
    return { domains: rows.map((d) => domainView(deps.base(), d)), links: listLinks(request, deps.base()) };
  });

  // --- domains
  app.get('/v3/domains', async (request: Req) => {
    enforce('identity:list_domains', requireAuth(request));
    const rows = await store.listDomains({ name: request.query.name, enabled: boolQuery(request.query.enabled) });
    return { domains: rows.map((d) => domainView(deps.base(), d)), links: listLinks(request, deps.base()) };
  });
  app.post('/v3/domains', { schema: { body: domainCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_domain', requireAuth(request));
    const d = (request.body as { domain: { name: string; description?: string | null; enabled?: boolean } }).domain;
    const row = await store.createDomain({ name: d.name, description: d.description ?? '', enabled: d.enabled });
    tokens.invalidateAll();
    return reply.status(201).send({ domain: domainView(deps.base(), row) });
  });
  app.get('/v3/domains/:id', async (request: Req) => {
    const auth = requireAuth(request);
    if (auth.domainId !== request.params.id) enforce('identity:get_domain', auth);
    const row = await store.getDomain(request.params.id!);
    if (!row) throw new NotFoundError('Domain', request.params.id!);
    return { domain: domainView(deps.base(), row) };
  });

  // --- projects
  app.get('/v3/projects', async (request: Req) => {
    enforce('identity:list_projects', requireAuth(request));
    const q = request.query;
    const rows = await store.listProjects({ name: q.name, domain_id: q.domain_id, enabled: boolQuery(q.enabled) });
    return { projects: rows.map((p) => projectView(deps.base(), p)), links: listLinks(request, deps.base()) };
  });
  app.post('/v3/projects', { schema: { body: projectCreateSchema } }, async (request: Req, reply) => {
    const auth = requireAuth(request);
    enforce('identity:create_project', auth);
    const p = (request.body as { project: { name: string; domain_id?: string | null; parent_id?: string | null; description?: string | null; enabled?: boolean; tags?: string[] } }).project;
    const domainId = p.domain_id ?? (p.parent_id && (await store.getDomain(p.parent_id)) ? p.parent_id : DEFAULT_DOMAIN_ID);
    if (p.parent_id && p.parent_id !== domainId) throw new BadRequestError('Nested projects are not supported: parent_id must be the domain.', { fields: { path: 'body.project.parent_id' } });
    if (!(await store.getDomain(domainId))) throw new NotFoundError('Domain', domainId);
    const row = await store.createProject({ name: p.name, domain_id: domainId, description: p.description ?? '', enabled: p.enabled, tags: p.tags });
    return reply.status(201).send({ project: projectView(deps.base(), row) });
  });
  app.get('/v3/projects/:id', async (request: Req) => {
    const auth = requireAuth(request);
    enforce('identity:get_project', auth, { projectId: request.params.id });
    return { project: projectView(deps.base(), await project(request.params.id!)) };
  });
  app.patch('/v3/projects/:id', { schema: { body: projectUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_project', requireAuth(request));
    const id = request.params.id!;
    await project(id);
    const p = (request.body as { project: { name?: string; description?: string | null; enabled?: boolean; tags?: string[] } }).project;
    await store.updateProject(id, { name: p.name, description: p.description === null ? '' : p.description, enabled: p.enabled, tags: p.tags });
    // Any change (a rename too) must show in tokens validated from the cache.
    tokens.invalidateAll();
    return { project: projectView(deps.base(), await project(id)) };
  });
  app.delete('/v3/projects/:id', async (request: Req, reply) => {
    enforce('identity:delete_project', requireAuth(request));
    await project(request.params.id!);
    await store.deleteProject(request.params.id!);
    tokens.invalidateAll();
    return reply.status(204).send();
  });

  // --- users
  app.get('/v3/users', async (request: Req) => {
    enforce('identity:list_users', requireAuth(request));
    const q = request.query;
    const rows = await store.listUsers({ name: q.name, domain_id: q.domain_id, enabled: boolQuery(q.enabled) });
    return { users: rows.map((u) => userView(deps.base(), u)), links: listLinks(request, deps.base()) };
  });
  type UserBody = {
    name?: string; domain_id?: string | null; password?: string | null; enabled?: boolean; default_project_id?: string | null;
    description?: string | null; email?: string | null; options?: UserOptions;
  };
  app.post('/v3/users', { schema: { body: userCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_user', requireAuth(request));
    const u = (request.body as { user: UserBody & { name: string } }).user;
    const extra = mergeExtras({}, extrasOf(u));
    const domainId = u.domain_id ?? DEFAULT_DOMAIN_ID;
    await domainExists(domainId);
    if (u.default_project_id) await project(u.default_project_id);
    const row = await store.createUser({
      name: u.name, domain_id: domainId, enabled: u.enabled, default_project_id: u.default_project_id ?? null,
      email: u.email ?? null, description: u.description ?? '', options: u.options, extra,
      password_hash: u.password ? await hashPassword(u.password) : null,
    });
    return reply.status(201).send({ user: userView(deps.base(), row) });
  });
  app.get('/v3/users/:id', async (request: Req) => {
    const auth = requireAuth(request);
    if (auth.userId !== request.params.id) enforce('identity:get_user', auth);
    return { user: userView(deps.base(), await user(request.params.id!)) };
  });
  app.patch('/v3/users/:id', { schema: { body: userUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_user', requireAuth(request));
    const id = request.params.id!;
    const current = await user(id);
    const u = (request.body as { user: UserBody }).user;
    const extraPatch = extrasOf(u, id);
    if (u.default_project_id) await project(u.default_project_id);
    const set: Partial<UserRow> = {};
    // Keystone's update: the extra attributes given replace theirs, the others stay.
    if (Object.keys(extraPatch).length) set.extra = toJson(mergeExtras(storedExtras(current.extra), extraPatch));
    if (u.name !== undefined) set.name = u.name;
    if (u.enabled !== undefined) set.enabled = u.enabled ? 1 : 0;
    if (u.default_project_id !== undefined) set.default_project_id = u.default_project_id;
    if (u.email !== undefined) set.email = u.email;
    if (u.description !== undefined) set.description = u.description ?? '';
    if (u.password !== undefined) set.password_hash = u.password ? await hashPassword(u.password) : null;
    await store.updateUser(id, set, u.options);
    tokens.invalidateAll();
    return { user: userView(deps.base(), await user(id)) };
  });
  // A user changes their own password, proving it with the current one. Keystone lets this
  // through without a token (for users whose password expired; Bootstack has no expiry): here a
  // token of that very user is required, so nobody, an admin neither (who has PATCH), changes
  // another user's password this way. The original password is checked as a password login is:
  // a wrong one counts towards the lockout, and a locked or disabled user is refused.
  app.post('/v3/users/:id/password', { schema: { body: userPasswordSchema } }, async (request: Req, reply) => {
    const auth = requireAuth(request);
    const id = request.params.id!;
    if (auth.userId !== id) throw new ForbiddenError('A user may change only their own password.');
    const body = (request.body as { user: { password: string; original_password: string } }).user;
    await deps.authenticator.checkUserPassword(id, body.original_password);
    // Setting the hash ends every token of the user, the caller's too, as in Keystone.
    await store.updateUser(id, { password_hash: await hashPassword(body.password) });
    tokens.invalidateAll();
    return reply.status(204).send();
  });
  app.delete('/v3/users/:id', async (request: Req, reply) => {
    enforce('identity:delete_user', requireAuth(request));
    await user(request.params.id!);
    await store.deleteUser(request.params.id!);
    tokens.invalidateAll();
    return reply.status(204).send();
  });
  app.get('/v3/users/:id/projects', async (request: Req) => {
    const auth = requireAuth(request);
    if (auth.userId !== request.params.id) enforce('identity:list_user_projects', auth);
    await user(request.params.id!);
    const ids = [...new Set((await store.listAssignments({ user_id: request.params.id!, target_type: 'project' })).map((a) => a.target_id))];
    const rows = await store.listProjects({ ids });
    return { projects: rows.map((p) => projectView(deps.base(), p)), links: listLinks(request, deps.base()) };
  });

  // --- roles
  app.get('/v3/roles', async (request: Req) => {
    enforce('identity:list_roles', requireAuth(request));
    const rows = await store.listRoles({ name: request.query.name });
    return { roles: rows.map((r) => roleView(deps.base(), r)), links: listLinks(request, deps.base()) };
  });
  app.post('/v3/roles', { schema: { body: roleCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_role', requireAuth(request));
    const r = (request.body as { role: { name: string; description?: string | null } }).role;
    const row = await store.createRole({ name: r.name, description: r.description ?? '' });
    tokens.invalidateAll();
    return reply.status(201).send({ role: roleView(deps.base(), row) });
  });
  app.get('/v3/roles/:id', async (request: Req) => {
    enforce('identity:get_role', requireAuth(request));
    return { role: roleView(deps.base(), await role(request.params.id!)) };
  });
  app.delete('/v3/roles/:id', async (request: Req, reply) => {
    enforce('identity:delete_role', requireAuth(request));
    await role(request.params.id!);
    await store.deleteRole(request.params.id!);
    tokens.invalidateAll();
    return reply.status(204).send();
  });

  // --- role assignments on projects and domains
  for (const targetType of ['project', 'domain'] as const) {
    const path = `/v3/${targetType}s/:target/users/:user/roles`;
    async function grantFrom(request: Req): Promise<AssignmentRow> {
      const { target, user: userId, role: roleId } = request.params as Record<string, string>;
      if (targetType === 'project') await project(target!);
      else await domainExists(target!);
      await user(userId!);
      if (roleId !== undefined) await role(roleId);
      return { user_id: userId!, target_type: targetType, target_id: target!, role_id: roleId ?? '' };
    }
    app.get(path, async (request: Req) => {
      enforce('identity:list_grants', requireAuth(request));
      const g = await grantFrom(request);
      const rows = await store.rolesOn(g.user_id, targetType, g.target_id);
      return { roles: rows.map((r) => roleView(deps.base(), r)), links: listLinks(request, deps.base()) };
    });
    app.put(`${path}/:role`, async (request: Req, reply) => {
      enforce('identity:create_grant', requireAuth(request));
      await store.grant(await grantFrom(request));
      tokens.invalidateAll();
      return reply.status(204).send();
    });
    // HEAD is its own route here (no GET on this path): Keystone's "check grant".
    app.head(`${path}/:role`, async (request: Req, reply) => {
      enforce('identity:check_grant', requireAuth(request));
      if (!(await store.hasGrant(await grantFrom(request)))) throw new NotFoundError('Role assignment', request.params.role!);
      return reply.status(204).send();
    });
    app.delete(`${path}/:role`, async (request: Req, reply) => {
      enforce('identity:revoke_grant', requireAuth(request));
      if (!(await store.revoke(await grantFrom(request)))) throw new NotFoundError('Role assignment', request.params.role!);
      tokens.invalidateAll();
      return reply.status(204).send();
    });
  }

  // --- services, endpoints, regions: read-only views of the computed catalog
  app.get('/v3/services', async (request: Req) => {
    enforce('identity:list_services', requireAuth(request));
    const q = request.query;
    const rows = deps.catalog().filter((c) => (q.type === undefined || c.type === q.type) && (q.name === undefined || c.name === q.name));
    return { services: rows.map((c) => serviceView(deps.base(), c)), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/services/:id', async (request: Req) => {
    enforce('identity:get_service', requireAuth(request));
    const c = deps.catalog().find((x) => x.id === request.params.id);
    if (!c) throw new NotFoundError('Service', request.params.id!);
    return { service: serviceView(deps.base(), c) };
  });
  const endpoints = () => deps.catalog().flatMap((c) => c.endpoints.map((e) => ({ ...e, service_id: c.id })));
  app.get('/v3/endpoints', async (request: Req) => {
    enforce('identity:list_endpoints', requireAuth(request));
    const q = request.query;
    const rows = endpoints().filter((e) => (q.service_id === undefined || e.service_id === q.service_id)
      && (q.interface === undefined || e.interface === q.interface) && (q.region_id === undefined || e.region_id === q.region_id));
    return { endpoints: rows.map((e) => ({ ...e, enabled: true, links: { self: `${deps.base()}/v3/endpoints/${e.id}` } })), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/endpoints/:id', async (request: Req) => {
    enforce('identity:get_endpoint', requireAuth(request));
    const e = endpoints().find((x) => x.id === request.params.id);
    if (!e) throw new NotFoundError('Endpoint', request.params.id!);
    return { endpoint: { ...e, enabled: true, links: { self: `${deps.base()}/v3/endpoints/${e.id}` } } };
  });
  const region = () => ({ id: REGION, description: '', parent_region_id: null, links: { self: `${deps.base()}/v3/regions/${REGION}` } });
  // Keystone's list_regions and get_region are "" (any valid token, an unscoped one too), which
  // a role list in the policy table cannot say (an unscoped token has no roles): a token is all
  // these ask for, as for /v3/auth/catalog.
  app.get('/v3/regions', async (request: Req) => {
    requireAuth(request);
    return { regions: [region()], links: listLinks(request, deps.base()) };
  });
  app.get('/v3/regions/:id', async (request: Req) => {
    requireAuth(request);
    if (request.params.id !== REGION) throw new NotFoundError('Region', request.params.id!);
    return { region: region() };
  });

  app.get('/v3/role_assignments', async (request: Req) => {
    const auth = requireAuth(request);
    const q = request.query;
    // A user may list their own assignments; anything wider is the admin's.
    if (q['user.id'] !== auth.userId) enforce('identity:list_role_assignments', auth);
    const targetType = q['scope.project.id'] !== undefined ? 'project' : q['scope.domain.id'] !== undefined ? 'domain' : undefined;
    const rows = await store.listAssignments({
      user_id: q['user.id'], role_id: q['role.id'], target_type: targetType,
      target_id: q['scope.project.id'] ?? q['scope.domain.id'],
    });
    const names = q.include_names !== undefined && boolQuery(q.include_names) !== false;
    const out = [];
    for (const a of rows) {
      let role: object = { id: a.role_id };
      let who: object = { id: a.user_id };
      let scope: object = { id: a.target_id };
      if (names) {
        const r = await store.getRole(a.role_id);
        const u = await store.getUser(a.user_id);
        role = { id: a.role_id, name: r?.name };
        who = { id: a.user_id, name: u?.name, domain: await domainRef(u?.domain_id) };
        if (a.target_type === 'project') {
          const p = await store.getProject(a.target_id);
          scope = { id: a.target_id, name: p?.name, domain: await domainRef(p?.domain_id) };
        } else scope = await domainRef(a.target_id);
      }
      out.push({
        role,
        user: who,
        scope: { [a.target_type]: scope },
        links: { assignment: `${deps.base()}/v3/${a.target_type}s/${a.target_id}/users/${a.user_id}/roles/${a.role_id}` },
      });
    }
    return { role_assignments: out, links: listLinks(request, deps.base()) };
  });
}
