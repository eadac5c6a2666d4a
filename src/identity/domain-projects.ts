// Keystone's domains are projects with is_domain true: a project created with is_domain true is a
// domain, GET /v3/projects?is_domain=true lists the domains, and the project routes given a
// domain's id act on that domain. Here domains stay in their own table; these helpers show a
// domain as a project and hand a project route's update or delete of a domain to the domain
// routes (domain-routes.ts), so that their checks (the default domain kept, an enabled domain not
// deleted, tokens revoked on disable) are the same whichever route is used.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DomainRow } from './store.js';

/** A domain as Keystone shows it through the project API. */
export function domainProjectView(base: string, d: DomainRow) {
  return {
    id: d.id, name: d.name, domain_id: null, description: d.description, enabled: d.enabled === 1,
    is_domain: true, parent_id: null, tags: [], options: {}, links: { self: `${base}/v3/projects/${d.id}` },
  };
}

/**
 * Runs PATCH or DELETE /v3/domains/{id} with the caller's token, and answers with its outcome:
 * an error as the domain route gave it, a success as the project route's (`view` of the domain).
 */
export async function forwardToDomain(
  request: FastifyRequest, reply: FastifyReply, method: 'PATCH' | 'DELETE', id: string,
  project: Record<string, unknown> | undefined, view: () => Promise<unknown>,
): Promise<unknown> {
  const headers: Record<string, string> = {};
  const token = request.headers['x-auth-token'];
  if (typeof token === 'string') headers['x-auth-token'] = token;
  let payload: string | undefined;
  if (project) {
    // The attributes a project update and a domain share (projectUpdateSchema allows no is_domain).
    const domain: Record<string, unknown> = {};
    for (const k of ['name', 'description', 'enabled'] as const) if (project[k] !== undefined) domain[k] = project[k];
    headers['content-type'] = 'application/json';
    payload = JSON.stringify({ domain });
  }
  const res = await request.server.inject({ method, url: `/identity/v3/domains/${encodeURIComponent(id)}`, headers, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) {
    return reply.status(res.statusCode).header('content-type', res.headers['content-type'] ?? 'application/json').send(res.payload);
  }
  if (method === 'DELETE') return reply.status(204).send();
  return view();
}
