// Keystone v3 roles and role inference rules (implied roles). Admin-only, as Keystone's
// defaults. A rule may go from a domain-specific role to any role, or between global roles; a
// global role may not imply a domain-specific one (403, as Keystone), nor a role itself.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext, Policy } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.js';
import type { IdentityStore, RoleRow } from './store.js';
import type { TokenService } from './tokens.js';
import { roleRefView, roleView } from './views.js';
import { roleCreateSchema, roleUpdateSchema } from './schemas.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: unknown }>;

export interface RoleRouteDeps {
  store: IdentityStore;
  tokens: TokenService;
  policy: Policy;
  base: () => string;
  listLinks: (request: FastifyRequest) => { self: string; previous: null; next: null };
}

export function registerRoleRoutes(app: FastifyInstance, deps: RoleRouteDeps): void {
  const { store, tokens } = deps;
  const enforce = (op: string, auth: AuthContext) => deps.policy.enforce(op, auth);
  async function role(id: string): Promise<RoleRow> {
    const r = await store.getRole(id);
    if (!r) throw new NotFoundError('Role', id);
    return r;
  }

  app.get('/v3/roles', async (request: Req) => {
    enforce('identity:list_roles', requireAuth(request));
    const rows = await store.listRoles({ name: request.query.name, domain_id: request.query.domain_id });
    return { roles: rows.map((r) => roleView(deps.base(), r)), links: deps.listLinks(request) };
  });
  app.post('/v3/roles', { schema: { body: roleCreateSchema } }, async (request: Req, reply) => {
    enforce('identity:create_role', requireAuth(request));
    const r = (request.body as { role: { name: string; description?: string | null; domain_id?: string | null } }).role;
    if (r.domain_id && !(await store.getDomain(r.domain_id))) throw new NotFoundError('Domain', r.domain_id);
    const row = await store.createRole({ name: r.name, description: r.description ?? '', domain_id: r.domain_id ?? null });
    tokens.invalidateAll();
    return reply.status(201).send({ role: roleView(deps.base(), row) });
  });
  app.get('/v3/roles/:id', async (request: Req) => {
    enforce('identity:get_role', requireAuth(request));
    return { role: roleView(deps.base(), await role(request.params.id!)) };
  });
  app.patch('/v3/roles/:id', { schema: { body: roleUpdateSchema } }, async (request: Req) => {
    enforce('identity:update_role', requireAuth(request));
    const id = request.params.id!;
    await role(id);
    const r = (request.body as { role: { name?: string; description?: string | null } }).role;
    await store.updateRole(id, { name: r.name, description: r.description === null ? '' : r.description });
    // Policies match roles by name: a rename changes what tokens may do.
    tokens.invalidateAll();
    return { role: roleView(deps.base(), await role(id)) };
  });
  app.delete('/v3/roles/:id', async (request: Req, reply) => {
    enforce('identity:delete_role', requireAuth(request));
    await role(request.params.id!);
    await store.deleteRole(request.params.id!);
    tokens.invalidateAll();
    return reply.status(204).send();
  });

  // --- inference rules
  async function rule(request: Req): Promise<{ prior: RoleRow; implied: RoleRow }> {
    return { prior: await role(request.params.prior!), implied: await role(request.params.implied!) };
  }
  const ruleLinks = (prior: RoleRow, implied: RoleRow) => ({ self: `${deps.base()}/v3/roles/${prior.id}/implies/${implied.id}` });
  async function impliedBy(prior: RoleRow): Promise<RoleRow[]> {
    const graph = await tokens.roles();
    return (graph.implies.get(prior.id) ?? []).map((id) => graph.roles.get(id)).filter((r): r is RoleRow => r !== undefined);
  }

  app.put('/v3/roles/:prior/implies/:implied', async (request: Req, reply) => {
    enforce('identity:create_implied_role', requireAuth(request));
    const { prior, implied } = await rule(request);
    if (prior.id === implied.id) throw new BadRequestError(`Role ${prior.id} cannot imply itself.`, { fields: { path: 'params.implied' } });
    if (prior.domain_id === null && implied.domain_id !== null) {
      throw new ForbiddenError(`A global role (${prior.id}) cannot imply a domain-specific role (${implied.id}).`);
    }
    await store.addImplication({ prior_role_id: prior.id, implied_role_id: implied.id });
    tokens.invalidateAll();
    return reply.status(201).send({ role_inference: { prior_role: roleRefView(deps.base(), prior), implies: roleRefView(deps.base(), implied) }, links: ruleLinks(prior, implied) });
  });
  // GET shows the rule; HEAD (answered by this route) checks it, with Keystone's 204.
  app.get('/v3/roles/:prior/implies/:implied', async (request: Req, reply) => {
    enforce('identity:get_implied_role', requireAuth(request));
    const { prior, implied } = await rule(request);
    if (!(await store.hasImplication({ prior_role_id: prior.id, implied_role_id: implied.id }))) {
      throw new NotFoundError('Role inference rule', `${prior.id} → ${implied.id}`);
    }
    if (request.method === 'HEAD') return reply.status(204).send();
    return { role_inference: { prior_role: roleRefView(deps.base(), prior), implies: roleRefView(deps.base(), implied) }, links: ruleLinks(prior, implied) };
  });
  app.delete('/v3/roles/:prior/implies/:implied', async (request: Req, reply) => {
    enforce('identity:delete_implied_role', requireAuth(request));
    const { prior, implied } = await rule(request);
    if (!(await store.removeImplication({ prior_role_id: prior.id, implied_role_id: implied.id }))) {
      throw new NotFoundError('Role inference rule', `${prior.id} → ${implied.id}`);
    }
    tokens.invalidateAll();
    return reply.status(204).send();
  });
  app.get('/v3/roles/:prior/implies', async (request: Req) => {
    enforce('identity:list_implied_roles', requireAuth(request));
    const prior = await role(request.params.prior!);
    const implies = (await impliedBy(prior)).map((r) => roleRefView(deps.base(), r));
    return { role_inference: { prior_role: roleRefView(deps.base(), prior), implies }, links: deps.listLinks(request) };
  });
  app.get('/v3/role_inferences', async (request: Req) => {
    enforce('identity:list_role_inference_rules', requireAuth(request));
    const graph = await tokens.roles();
    const out = [];
    for (const [priorId, impliedIds] of graph.implies) {
      const prior = graph.roles.get(priorId);
      if (!prior) continue;
      out.push({ prior_role: roleRefView(deps.base(), prior), implies: impliedIds.map((id) => graph.roles.get(id)).filter((r): r is RoleRow => r !== undefined).map((r) => roleRefView(deps.base(), r)) });
    }
    return { role_inferences: out, links: deps.listLinks(request) };
  });
}
