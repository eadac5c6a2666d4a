// Keystone v3 routes under /identity. Thin: validate, check policy, call the store or the
// token service, render Keystone's JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAdmin, type Policy, type AuthContext } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import { SYSTEM_ALL, type IdentityStore, type ProjectRow, type UserRow, type RoleRow, type GroupRow, type TargetType, type UserOptions } from './store.js';
import type { TokenService } from './tokens.js';
import type { Authenticator, AuthRequest } from './authenticate.js';
import { authRequestSchema } from './authenticate.js';
import type { CatalogService } from './catalog.js';
import { versionDocument, versionsDocument } from './versions.js';
import { domainView, projectView, roleView, tokenView, userView } from './views.js';
import { projectCreateSchema, projectUpdateSchema, userCreateSchema, userUpdateSchema, userPasswordSchema, domainCreateSchema } from './schemas.js';
import { extrasOf, mergeExtras, storedExtras } from './user-extras.js';
import { toJson } from '../common/db.js';
import { hashPassword } from './passwords.js';
import { DEFAULT_DOMAIN_ID } from './bootstrap.js';
import { registerGroupRoutes } from './group-routes.js';
import { registerRoleRoutes } from './role-routes.js';
import { MAX_PROJECT_DEPTH, placeProject, refuseWithChildren } from './project-tree.js';
import { effectiveRoles } from './implied-roles.js';
import { domainProjectView, forwardToDomain } from './domain-projects.js';

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
  async function group(id: string): Promise<GroupRow> {
    const g = await store.getGroup(id);
    if (!g) throw new NotFoundError('Group', id);
    return g;
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
  /** The targets of a type the user has any role on, directly or through a group. */
  async function targetsOf(userId: string, targetType: TargetType): Promise<string[]> {
    const own = (await store.listAssignments({ user_id: userId, target_type: targetType })).map((a) => a.target_id);
    const groupIds = (await store.listUserGroups(userId)).map((g) => g.id);
    const viaGroups = (await store.listGroupAssignments({ group_ids: groupIds, target_type: targetType })).map((a) => a.target_id);
    return [...new Set([...own, ...viaGroups])];
  }
  app.get('/v3/auth/projects', async (request) => {
    const auth = requireAuth(request);
    const ids = await targetsOf(auth.userId, 'project');
    const rows = await store.listProjects({ ids, enabled: true });
    return { projects: rows.map((p) => projectView(deps.base(), p)), links: listLinks(request, deps.base()) };
  });
  app.get('/v3/auth/domains', async (request) => {
    const auth = requireAuth(request);
    const ids = new Set(await targetsOf(auth.userId, 'domain'));
    const rows = (await store.listDomains({ enabled: true })).filter((d) => ids.has(d.id));
    return { domains: rows.map((d) => domainView(deps.base(), d)), links: listLinks(request, deps.base()) };
  });
  // The system scopes the user may ask a token for: [{"all": true}] or none.
  app.get('/v3/auth/system', async (request) => {
    const auth = requireAuth(request);
    const onSystem = (await targetsOf(auth.userId, 'system')).includes(SYSTEM_ALL);
    return { system: onSystem ? [{ all: true }] : [], links: { self: `${deps.base()}/v3/auth/system`, previous: null, next: null } };
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
    // Keystone's domains are projects with is_domain true (domain-projects.ts).
    if (boolQuery(q.is_domain) === true) {
      const domains = await store.listDomains({ name: q.name, enabled: boolQuery(q.enabled) });
      return { projects: domains.map((d) => domainProjectView(deps.base(), d)), links: listLinks(request, deps.base()) };
    }
    const rows = await store.listProjects({ name: q.name, domain_id: q.domain_id, enabled: boolQuery(q.enabled), parent_id: q.parent_id });
    return { projects: rows.map((p) => projectView(deps.base(), p)), links: listLinks(request, deps.base()) };
  });
  app.post('/v3/projects', { schema: { body: projectCreateSchema } }, async (request: Req, reply) => {
    const auth = requireAuth(request);
    enforce('identity:create_project', auth);
    const p = (request.body as { project: { name: string; domain_id?: string | null; parent_id?: string | null; description?: string | null; enabled?: boolean; tags?: string[]; is_domain?: boolean } }).project;
    if (p.is_domain === true) {
      // A project that is a domain: a new domain, top-level (Keystone refuses a parent or domain for it).
      enforce('identity:create_domain', auth);
      for (const k of ['domain_id', 'parent_id'] as const) {
        if (p[k]) throw new BadRequestError(`body.project.${k}: a project that is a domain has none.`, { fields: { path: `body.project.${k}` } });
      }
      const d = await store.createDomain({ name: p.name, description: p.description ?? '', enabled: p.enabled });
      tokens.invalidateAll();
      return reply.status(201).send({ project: domainProjectView(deps.base(), d) });
    }
    const { domainId, parentId } = await placeProject(store, p.domain_id ?? null, p.parent_id ?? null);
    const row = await store.createProject({ name: p.name, domain_id: domainId, parent_id: parentId, description: p.description ?? '', enabled: p.enabled, tags: p.tags });
    return reply.status(201).send({ project: projectView(deps.base(), row) });
  });
  app.get('/v3/projects/:id', async (request: Req) => {
    const auth = requireAuth(request);
    enforce('identity:get_project', auth, { projectId: request.params.id });
    const d = (await store.getProject(request.params.id!)) ? undefined : await store.getDomain(request.params.id!);
    if (d) return { project: domainProjectView(deps.base(), d) };
    return { project: projectView(deps.base(), await project(request.params.id!)) };
  });
  app.patch('/v3/projects/:id', { schema: { body: projectUpdateSchema } }, async (request: Req, reply) => {
    enforce('identity:update_project', requireAuth(request));
    const id = request.params.id!;
    if (!(await store.getProject(id)) && (await store.getDomain(id))) {
      const body = (request.body as { project: Record<string, unknown> }).project;
      return forwardToDomain(request, reply, 'PATCH', id, body, async () => ({ project: domainProjectView(deps.base(), (await store.getDomain(id))!) }));
    }
    await project(id);
    const p = (request.body as { project: { name?: string; description?: string | null; enabled?: boolean; tags?: string[] } }).project;
    await store.updateProject(id, { name: p.name, description: p.description === null ? '' : p.description, enabled: p.enabled, tags: p.tags });
    // Any change (a rename too) must show in tokens validated from the cache.
    tokens.invalidateAll();
    return { project: projectView(deps.base(), await project(id)) };
  });
  app.delete('/v3/projects/:id', async (request: Req, reply) => {
    enforce('identity:delete_project', requireAuth(request));
    if (!(await store.getProject(request.params.id!)) && (await store.getDomain(request.params.id!))) {
      return forwardToDomain(request, reply, 'DELETE', request.params.id!, undefined, async () => undefined);
    }
    await project(request.params.id!);
    await refuseWithChildren(store, request.params.id!);
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
  // token is required, of that very user or of the cloud admin (Tempest's admin client calls it
  // so; the original password is the proof either way). The original password is checked as a
  // password login is: a wrong one counts towards the lockout, and a locked or disabled user is
  // refused.
  app.post('/v3/users/:id/password', { schema: { body: userPasswordSchema } }, async (request: Req, reply) => {
    const auth = requireAuth(request);
    const id = request.params.id!;
    if (auth.userId !== id && !isAdmin(auth)) throw new ForbiddenError('A user may change only their own password.');
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

  registerRoleRoutes(app, { store, tokens, policy, base: deps.base, listLinks: (request) => listLinks(request, deps.base()) });

  // --- role assignments of users and groups on projects, domains and the system
  // OS-INHERIT's routes end in /inherited_to_projects, after the role (or after "roles" to list).
  const targets = [
    { type: 'project', prefix: '/v3/projects/:target', suffix: '' },
    { type: 'domain', prefix: '/v3/domains/:target', suffix: '' },
    { type: 'system', prefix: '/v3/system', suffix: '' },
    { type: 'project:inherited', prefix: '/v3/OS-INHERIT/projects/:target', suffix: '/inherited_to_projects' },
    { type: 'domain:inherited', prefix: '/v3/OS-INHERIT/domains/:target', suffix: '/inherited_to_projects' },
  ] as const;
  for (const { type: targetType, prefix, suffix } of targets) {
    for (const actor of ['user', 'group'] as const) {
      const path = `${prefix}/${actor}s/:${actor}/roles`;
      // Keystone's policy names: identity:create_grant for projects and domains,
      // identity:create_system_grant_for_user / _for_group for the system (all admin-only here).
      const op = (verb: 'list' | 'check' | 'create' | 'revoke') =>
        targetType === 'system' ? `identity:${verb}_system_grant${verb === 'list' ? 's' : ''}_for_${actor}` : `identity:${verb}_grant${verb === 'list' ? 's' : ''}`;
      async function grantFrom(request: Req): Promise<{ actorId: string; target_type: TargetType; target_id: string; role_id: string }> {
        const params = request.params as Record<string, string>;
        const target = targetType === 'system' ? SYSTEM_ALL : params.target!;
        if (targetType === 'project' || targetType === 'project:inherited') await project(target);
        else if (targetType === 'domain' || targetType === 'domain:inherited') await domainExists(target);
        const actorId = params[actor]!;
        if (actor === 'user') await user(actorId);
        else await group(actorId);
        if (params.role !== undefined) await role(params.role);
        return { actorId, target_type: targetType, target_id: target, role_id: params.role ?? '' };
      }
      type Grant = Awaited<ReturnType<typeof grantFrom>>;
      const userRow = ({ actorId, target_type, target_id, role_id }: Grant) => ({ user_id: actorId, target_type, target_id, role_id });
      const groupRow = ({ actorId, target_type, target_id, role_id }: Grant) => ({ group_id: actorId, target_type, target_id, role_id });
      const has = (g: Grant) => (actor === 'user' ? store.hasGrant(userRow(g)) : store.hasGroupGrant(groupRow(g)));
      app.get(`${path}${suffix}`, async (request: Req) => {
        enforce(op('list'), requireAuth(request));
        const g = await grantFrom(request);
        const rows = actor === 'user'
          ? await store.rolesOn(g.actorId, targetType, g.target_id, { direct: true })
          : await store.rolesOfGroup(g.actorId, targetType, g.target_id);
        return { roles: rows.map((r) => roleView(deps.base(), r)), links: listLinks(request, deps.base()) };
      });
      app.put(`${path}/:role${suffix}`, async (request: Req, reply) => {
        enforce(op('create'), requireAuth(request));
        const g = await grantFrom(request);
        if (actor === 'user') await store.grant(userRow(g));
        else await store.grantGroup(groupRow(g));
        tokens.invalidateAll();
        return reply.status(204).send();
      });
      // Keystone's "check grant". For the system it is a GET (HEAD answered by it); for projects
      // and domains only a HEAD, a route of its own.
      const check = async (request: Req, reply: FastifyReply) => {
        enforce(op('check'), requireAuth(request));
        if (!(await has(await grantFrom(request)))) throw new NotFoundError('Role assignment', request.params.role!);
        return reply.status(204).send();
      };
      if (targetType === 'system') app.get(`${path}/:role`, check);
      else app.head(`${path}/:role${suffix}`, check);
      app.delete(`${path}/:role${suffix}`, async (request: Req, reply) => {
        enforce(op('revoke'), requireAuth(request));
        const g = await grantFrom(request);
        const done = actor === 'user' ? await store.revoke(userRow(g)) : await store.revokeGroup(groupRow(g));
        if (!done) throw new NotFoundError('Role assignment', request.params.role!);
        tokens.invalidateAll();
        return reply.status(204).send();
      });
    }
  }

  // Services, endpoints and regions: catalog-routes.ts, on the stored catalog.

  app.get('/v3/role_assignments', async (request: Req) => {
    const auth = requireAuth(request);
    const q = request.query;
    // A user may list their own assignments; anything wider is the admin's.
    if (q['user.id'] === undefined || q['user.id'] !== auth.userId) enforce('identity:list_role_assignments', auth);
    const scopes = ['scope.project.id', 'scope.domain.id', 'scope.system'].filter((k) => q[k] !== undefined);
    if (scopes.length > 1) throw new BadRequestError(`Filter by one scope only: ${scopes.join(', ')} given.`, { fields: { path: 'querystring.scope' } });
    if (q['user.id'] !== undefined && q['group.id'] !== undefined) throw new BadRequestError('Filter by user.id or group.id, not both.', { fields: { path: 'querystring.group.id' } });
    if (q['scope.system'] !== undefined && q['scope.system'] !== SYSTEM_ALL) throw new BadRequestError('scope.system must be "all".', { fields: { path: 'querystring.scope.system' } });
    const targetType: TargetType | undefined = q['scope.project.id'] !== undefined ? 'project' : q['scope.domain.id'] !== undefined ? 'domain' : q['scope.system'] !== undefined ? 'system' : undefined;
    const targetId = q['scope.project.id'] ?? q['scope.domain.id'] ?? q['scope.system'];
    const effective = q.effective !== undefined && boolQuery(q.effective) !== false;
    // With "effective", the role filter applies to the roles held after inference (below).
    const where = { role_id: effective ? undefined : q['role.id'], target_type: targetType, target_id: targetId };
    // The rows: users' own assignments, then groups' ones. "effective" shows each group
    // assignment as its members' (the roles they hold through it), and each role with the
    // global roles it implies (domain-specific roles left out), as Keystone does.
    // `inheritedFrom`: an inherited assignment (OS-INHERIT) shown on the project it reaches.
    type Row = {
      actor: 'user' | 'group'; actorId: string; target_type: TargetType; target_id: string; role_id: string;
      viaGroup?: string; prior?: string; inheritedFrom?: { target_type: TargetType; target_id: string };
    };
    const groupIds = q['group.id'] !== undefined ? [q['group.id']] : q['user.id'] !== undefined && effective ? (await store.listUserGroups(q['user.id'])).map((g) => g.id) : undefined;
    async function gather(w: { role_id?: string; target_type?: TargetType; target_id?: string }): Promise<Row[]> {
      const found: Row[] = [];
      if (q['group.id'] === undefined) {
        for (const a of await store.listAssignments({ ...w, user_id: q['user.id'] })) found.push({ actor: 'user', actorId: a.user_id, ...a });
      }
      const groupRows = await store.listGroupAssignments({ ...w, group_ids: groupIds });
      const members = effective ? await store.membersOf([...new Set(groupRows.map((g) => g.group_id))]) : new Map<string, string[]>();
      for (const a of groupRows) {
        if (!effective) found.push({ actor: 'group', actorId: a.group_id, ...a });
        else for (const userId of members.get(a.group_id) ?? []) {
          if (q['user.id'] === undefined || q['user.id'] === userId) found.push({ actor: 'user', actorId: userId, ...a, viaGroup: a.group_id });
        }
      }
      return found;
    }
    const rows = await gather(where);
    // Effective on a project: the inherited assignments of its domain and ancestors hold there.
    if (effective && targetType === 'project') {
      const p = await store.getProject(targetId!);
      for (const src of p ? await store.inheritedSources(p, MAX_PROJECT_DEPTH) : []) {
        for (const a of await gather({ target_type: src.target_type, target_id: src.target_id })) {
          rows.push({ ...a, target_type: 'project', target_id: p!.id, inheritedFrom: src });
        }
      }
    }
    if (effective) {
      const graph = await tokens.roles();
      const expanded: Row[] = [];
      for (const a of rows) {
        for (const e of effectiveRoles(graph, [a.role_id])) {
          if (q['role.id'] === undefined || q['role.id'] === e.role.id) expanded.push({ ...a, role_id: e.role.id, ...(e.prior ? { prior: a.role_id } : {}) });
        }
      }
      rows.splice(0, rows.length, ...expanded);
    }
    const names = q.include_names !== undefined && boolQuery(q.include_names) !== false;
    const out = [];
    for (const a of rows) {
      let role: object = { id: a.role_id };
      let who: object = { id: a.actorId };
      // An inherited assignment listed as such: its target, and Keystone's inherited_to marker.
      const shownType = a.target_type.replace(':inherited', '');
      const inheritedRow = a.target_type !== shownType;
      let scope: object = a.target_type === 'system' ? { all: true } : { id: a.target_id };
      if (names) {
        const r = await store.getRole(a.role_id);
        role = { id: a.role_id, name: r?.name };
        const holder = a.actor === 'user' ? await store.getUser(a.actorId) : await store.getGroup(a.actorId);
        who = { id: a.actorId, name: holder?.name, domain: await domainRef(holder?.domain_id) };
        if (shownType === 'project') {
          const p = await store.getProject(a.target_id);
          scope = { id: a.target_id, name: p?.name, domain: await domainRef(p?.domain_id) };
        } else if (shownType === 'domain') scope = await domainRef(a.target_id);
      }
      // Where the assignment was made: an inherited one's own target (OS-INHERIT's path).
      const made = a.inheritedFrom ?? { target_type: a.target_type, target_id: a.target_id };
      const inherited = made.target_type.endsWith(':inherited');
      const madeType = made.target_type.replace(':inherited', '');
      const targetPath = made.target_type === 'system' ? 'system' : `${inherited ? 'OS-INHERIT/' : ''}${madeType}s/${made.target_id}`;
      const holderPath = a.viaGroup ? `groups/${a.viaGroup}` : `${a.actor}s/${a.actorId}`;
      // An implied role's assignment is the one of the role that was assigned (Keystone's link).
      const assignedRole = a.prior ?? a.role_id;
      out.push({
        role,
        [a.actor]: who,
        scope: { [shownType]: scope, ...(inheritedRow ? { 'OS-INHERIT:inherited_to': 'projects' } : {}) },
        links: {
          assignment: `${deps.base()}/v3/${targetPath}/${holderPath}/roles/${assignedRole}${inherited ? '/inherited_to_projects' : ''}`,
          ...(a.prior ? { prior_role: `${deps.base()}/v3/roles/${a.prior}` } : {}),
          ...(a.viaGroup ? { membership: `${deps.base()}/v3/groups/${a.viaGroup}/users/${a.actorId}` } : {}),
        },
      });
    }
    return { role_assignments: out, links: listLinks(request, deps.base()) };
  });

  registerGroupRoutes(app, { store, tokens, policy, base: deps.base, listLinks: (request) => listLinks(request, deps.base()) });
}
