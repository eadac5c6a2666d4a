// Keystone v3 groups: users of a domain gathered so that roles can be assigned to all of them at
// once (the assignments themselves are in routes.ts, beside the users' ones). Admin-only, as
// Keystone's defaults are, except that users may list their own groups.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext, Policy } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { NotFoundError } from '../common/errors.js';
import type { IdentityStore, GroupRow } from './store.js';
import type { TokenService } from './tokens.js';
import { groupView, userView } from './views.js';
import { groupCreateSchema, groupUpdateSchema } from './schemas.js';
import { DEFAULT_DOMAIN_ID } from './bootstrap.js';
import { GROUP_EXTRAS, extrasOf, mergeExtras, storedExtras } from './user-extras.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: unknown }>;

export interface GroupRouteDeps {
  store: IdentityStore;
  tokens: TokenService;
  policy: Policy;
  base: () => string;
  listLinks: (request: FastifyRequest) => { self: string; previous: null; next: null };
}

export function registerGroupRoutes(app: FastifyInstance, deps: GroupRouteDeps): void {
  const { store, tokens } = deps;
  const enforce = (op: string, auth: AuthContext) => deps.policy.enforce(op, auth);
  async function group(id: string): Promise<GroupRow> {
    const g = await store.getGroup(id);
    if (!g) throw new NotFoundError('Group', id);
    return g;
  }
  async function userExists(id: string): Promise<void> {
    if (!(await store.getUser(id))) throw new NotFoundError('User', id);
  }

  app.get('/v3/groups', async (request: Req) => {
    enforce('identity:list_groups', requireAuth(request));
    const rows = await store.listGroups({ name: request.query.name, domain_id: request.query.domain_id });
    return { groups: rows.map((g) => groupView(deps.base(), g)), links: deps.listLinks(request) };
  });
  app.post('/v3/groups', { schema: { body: groupCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_group', requireAuth(request));
    const g = (request.body as { group: { name: string; domain_id?: string | null; description?: string | null } }).group;
    const extra = mergeExtras({}, extrasOf(g, undefined, GROUP_EXTRAS), GROUP_EXTRAS);
    const domainId = g.domain_id ?? DEFAULT_DOMAIN_ID;
    if (!(await store.getDomain(domainId))) throw new NotFoundError('Domain', domainId);
    const row = await store.createGroup({ name: g.name, domain_id: domainId, description: g.description ?? '', extra });
    return reply.status(201).send({ group: groupView(deps.base(), row) });
  });
  app.get('/v3/groups/:id', async (request: Req) => {
    enforce('identity:get_group', requireAuth(request));
    return { group: groupView(deps.base(), await group(request.params.id!)) };
  });
  app.patch('/v3/groups/:id', { schema: { body: groupUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_group', requireAuth(request));
    const id = request.params.id!;
    const current = await group(id);
    const g = (request.body as { group: { name?: string; description?: string | null } }).group;
    const extraPatch = extrasOf(g, id, GROUP_EXTRAS);
    const extra = Object.keys(extraPatch).length ? mergeExtras(storedExtras(current.extra, GROUP_EXTRAS), extraPatch, GROUP_EXTRAS) : undefined;
    await store.updateGroup(id, { name: g.name, description: g.description === null ? '' : g.description, extra });
    return { group: groupView(deps.base(), await group(id)) };
  });
  app.delete('/v3/groups/:id', async (request: Req, reply) => {
    enforce('identity:delete_group', requireAuth(request));
    await group(request.params.id!);
    await store.deleteGroup(request.params.id!);
    // Its members lose the roles it held.
    tokens.invalidateAll();
    return reply.status(204).send();
  });

  // --- membership
  app.get('/v3/groups/:id/users', async (request: Req) => {
    enforce('identity:list_users_in_group', requireAuth(request));
    await group(request.params.id!);
    const rows = await store.listGroupMembers(request.params.id!);
    return { users: rows.map((u) => userView(deps.base(), u)), links: deps.listLinks(request) };
  });
  app.put('/v3/groups/:id/users/:user', async (request: Req, reply) => {
    enforce('identity:add_user_to_group', requireAuth(request));
    await group(request.params.id!);
    await userExists(request.params.user!);
    await store.addGroupMember(request.params.id!, request.params.user!);
    tokens.invalidateAll();
    return reply.status(204).send();
  });
  // GET and HEAD: Keystone's check_user_in_group (HEAD is answered by the GET route).
  app.get('/v3/groups/:id/users/:user', async (request: Req, reply) => {
    enforce('identity:check_user_in_group', requireAuth(request));
    await group(request.params.id!);
    await userExists(request.params.user!);
    if (!(await store.isGroupMember(request.params.id!, request.params.user!))) {
      throw new NotFoundError('Group membership', `${request.params.user} in ${request.params.id}`);
    }
    return reply.status(204).send();
  });
  app.delete('/v3/groups/:id/users/:user', async (request: Req, reply) => {
    enforce('identity:remove_user_from_group', requireAuth(request));
    await group(request.params.id!);
    await userExists(request.params.user!);
    if (!(await store.removeGroupMember(request.params.id!, request.params.user!))) {
      throw new NotFoundError('Group membership', `${request.params.user} in ${request.params.id}`);
    }
    tokens.invalidateAll();
    return reply.status(204).send();
  });
  app.get('/v3/users/:id/groups', async (request: Req) => {
    const auth = requireAuth(request);
    if (request.params.id !== auth.userId) enforce('identity:list_groups_for_user', auth);
    await userExists(request.params.id!);
    const rows = await store.listUserGroups(request.params.id!);
    // Keystone shows when a membership ends (federated ones do); local memberships never do.
    return { groups: rows.map((g) => ({ ...groupView(deps.base(), g), membership_expires_at: null })), links: deps.listLinks(request) };
  });
}
