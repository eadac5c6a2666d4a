// Keystone v3 credentials (/v3/credentials), the OS-EC2 view of a user's EC2 credentials
// (/v3/users/{id}/credentials/OS-EC2) and the deprecated policy store (/v3/policies).
// Who may do what, as Keystone's default policies: a credential is the admin's or its own
// user's; a user's EC2 credentials are the admin's or that user's; policies are the admin's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import { isAdmin, type AuthContext, type Policy } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { isUniqueViolation } from '../common/db.js';
import type { IdentityStore } from './store.js';
import { ec2CredentialId, type Credential, type CredentialStore, type PolicyRecord } from './credential-store.js';

export interface CredentialRouteDeps {
  store: IdentityStore;
  credentials: CredentialStore;
  policy: Policy;
  base: () => string;
}

type Req = FastifyRequest<{ Params: Record<string, string>; Body: unknown; Querystring: Record<string, string | undefined> }>;

/** The named object of a request body ({credential: {...}}), or a 400 naming what is missing. */
function member(body: unknown, name: string): Record<string, unknown> {
  const v = (body as Record<string, unknown> | null | undefined)?.[name];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError(`body.${name}: an object is required.`, { fields: { path: `body.${name}` } });
  return v as Record<string, unknown>;
}

function str(obj: Record<string, unknown>, path: string, key: string, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined || (v === null && !required)) {
    if (required) throw new BadRequestError(`${path}.${key}: a string is required.`, { fields: { path: `${path}.${key}` } });
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 65535) {
    throw new BadRequestError(`${path}.${key}: must be a non-empty string.`, { fields: { path: `${path}.${key}` } });
  }
  return v;
}

/** An EC2 blob must be a JSON object with an access key: Keystone names the credential by it. */
function ec2Blob(blob: string, path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadRequestError(`${path}.blob: an ec2 credential's blob must be a JSON object.`, { fields: { path: `${path}.blob` } });
  const access = (parsed as Record<string, unknown>).access;
  if (typeof access !== 'string' || !access) throw new BadRequestError(`${path}.blob: an ec2 credential's blob needs an "access" key.`, { fields: { path: `${path}.blob.access` } });
  return parsed as Record<string, unknown>;
}

export function registerCredentialRoutes(app: FastifyInstance, deps: CredentialRouteDeps): void {
  const { store, credentials } = deps;
  const view = (c: Credential) => ({ id: c.id, user_id: c.user_id, project_id: c.project_id, type: c.type, blob: c.blob, links: { self: `${deps.base()}/v3/credentials/${c.id}` } });
  const listLinks = (request: FastifyRequest) => ({ self: `${deps.base()}${request.url.replace(/^\/identity/, '')}`, previous: null, next: null });

  /** Keystone's admin_or_owner on a user id: the admin, or a token of that very user. */
  function ownerOrAdmin(auth: AuthContext, userId: string, what: string): void {
    if (isAdmin(auth) || auth.userId === userId) return;
    throw new ForbiddenError(`You are not authorized to ${what}: it belongs to another user.`, { fields: { user_id: userId } });
  }

  async function existingUser(id: string, path: string): Promise<void> {
    if (!(await store.getUser(id))) throw new NotFoundError('User', id, { fields: { path } });
  }
  async function existingProject(id: string, path: string): Promise<void> {
    if (!(await store.getProject(id))) throw new NotFoundError('Project', id, { fields: { path } });
  }

  async function credential(id: string): Promise<Credential> {
    const c = await credentials.get(id);
    if (!c) throw new NotFoundError('Credential', id);
    return c;
  }

  async function insert(c: Credential): Promise<Credential> {
    try {
      return await credentials.create(c);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`Conflict occurred attempting to store credential - Duplicate entry ${c.id}.`, { cause: err, fields: { id: c.id } });
      throw err;
    }
  }

  // --- /v3/credentials
  app.post('/v3/credentials', async (request: Req, reply) => {
    const auth = requireAuth(request);
    const body = member(request.body, 'credential');
    const userId = str(body, 'body.credential', 'user_id', true)!;
    const type = str(body, 'body.credential', 'type', true)!;
    const blob = str(body, 'body.credential', 'blob', true)!;
    const projectId = str(body, 'body.credential', 'project_id', false) ?? null;
    ownerOrAdmin(auth, userId, 'create this credential');
    await existingUser(userId, 'body.credential.user_id');
    let id: string = randomUUID().replace(/-/g, '');
    if (type === 'ec2') {
      if (!projectId) throw new BadRequestError('body.credential.project_id: an ec2 credential needs a project.', { fields: { path: 'body.credential.project_id' } });
      id = ec2CredentialId(ec2Blob(blob, 'body.credential').access as string);
    }
    if (projectId) await existingProject(projectId, 'body.credential.project_id');
    const c = await insert({ id, user_id: userId, project_id: projectId, type, blob });
    return reply.status(201).send({ credential: view(c) });
  });

  app.get('/v3/credentials', async (request: Req) => {
    const auth = requireAuth(request);
    const q = request.query ?? {};
    // A non-admin sees their own credentials only, whatever user_id they ask for.
    const userId = isAdmin(auth) ? q.user_id : auth.userId;
    if (!isAdmin(auth) && q.user_id !== undefined && q.user_id !== auth.userId) return { credentials: [], links: listLinks(request) };
    const rows = await credentials.list({ userId, type: q.type });
    return { credentials: rows.map(view), links: listLinks(request) };
  });

  app.get('/v3/credentials/:id', async (request: Req) => {
    const auth = requireAuth(request);
    const c = await credential(request.params.id!);
    ownerOrAdmin(auth, c.user_id, 'read this credential');
    return { credential: view(c) };
  });

  app.patch('/v3/credentials/:id', async (request: Req) => {
    const auth = requireAuth(request);
    const c = await credential(request.params.id!);
    ownerOrAdmin(auth, c.user_id, 'change this credential');
    const body = member(request.body, 'credential');
    if (body.id !== undefined && body.id !== c.id) throw new BadRequestError('body.credential.id: a credential\'s id cannot change.', { fields: { path: 'body.credential.id' } });
    const set: Partial<Omit<Credential, 'id'>> = {};
    const userId = str(body, 'body.credential', 'user_id', false);
    if (userId !== undefined && userId !== c.user_id) {
      // Giving a credential away is the admin's: a user could otherwise plant secrets on others.
      if (!isAdmin(auth)) throw new ForbiddenError('body.credential.user_id: only the admin can give a credential to another user.', { fields: { path: 'body.credential.user_id' } });
      await existingUser(userId, 'body.credential.user_id');
      set.user_id = userId;
    }
    const type = str(body, 'body.credential', 'type', false);
    if (type !== undefined) set.type = type;
    const blob = str(body, 'body.credential', 'blob', false);
    if (blob !== undefined) set.blob = blob;
    if (body.project_id !== undefined) {
      const p = str(body, 'body.credential', 'project_id', false) ?? null;
      if (p) await existingProject(p, 'body.credential.project_id');
      set.project_id = p;
    }
    const next = { ...c, ...set };
    if (next.type === 'ec2') {
      if (!next.project_id) throw new BadRequestError('body.credential.project_id: an ec2 credential needs a project.', { fields: { path: 'body.credential.project_id' } });
      const parsed = ec2Blob(next.blob, 'body.credential');
      // A blob scoped to a trust stays scoped to it (Keystone refuses the change too).
      const old = c.type === 'ec2' ? ec2Blob(c.blob, 'stored') : {};
      if (old.trust_id !== parsed.trust_id) throw new BadRequestError('body.credential.blob: trust_id cannot be changed.', { fields: { path: 'body.credential.blob.trust_id' } });
    }
    await credentials.update(c.id, set);
    return { credential: view(await credential(c.id)) };
  });

  app.delete('/v3/credentials/:id', async (request: Req, reply) => {
    const auth = requireAuth(request);
    const c = await credential(request.params.id!);
    ownerOrAdmin(auth, c.user_id, 'delete this credential');
    await credentials.delete(c.id);
    return reply.status(204).send();
  });

  // --- OS-EC2: a user's EC2 key pairs, stored as credentials of type "ec2"
  const ec2Base = (userId: string) => `${deps.base()}/v3/users/${userId}/credentials/OS-EC2`;
  /** withSecret: the secret goes only into the create and show answers (not the listing). */
  const ec2View = (c: Credential, withSecret: boolean) => {
    const b = JSON.parse(c.blob) as Record<string, unknown>;
    return {
      user_id: c.user_id,
      tenant_id: c.project_id,
      access: b.access,
      ...(withSecret ? { secret: b.secret ?? null } : {}),
      trust_id: b.trust_id ?? null,
      links: { self: `${ec2Base(c.user_id)}/${String(b.access)}` },
    };
  };
  async function ec2Of(userId: string, access: string): Promise<Credential> {
    const c = await credentials.get(ec2CredentialId(access));
    // Another user's key is reported missing: its existence is not the caller's business.
    if (!c || c.type !== 'ec2' || c.user_id !== userId) throw new NotFoundError('EC2 credential', access);
    return c;
  }

  app.post('/v3/users/:id/credentials/OS-EC2', async (request: Req, reply) => {
    const auth = requireAuth(request);
    const userId = request.params.id!;
    ownerOrAdmin(auth, userId, 'create EC2 credentials for this user');
    await existingUser(userId, 'path.user_id');
    const body = (request.body ?? {}) as Record<string, unknown>;
    const tenantId = str(body, 'body', 'tenant_id', true)!;
    await existingProject(tenantId, 'body.tenant_id');
    const access = randomBytes(16).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const c = await insert({ id: ec2CredentialId(access), user_id: userId, project_id: tenantId, type: 'ec2', blob: JSON.stringify({ access, secret, trust_id: null }) });
    return reply.status(201).send({ credential: ec2View(c, true) });
  });

  app.get('/v3/users/:id/credentials/OS-EC2', async (request: Req) => {
    const auth = requireAuth(request);
    const userId = request.params.id!;
    ownerOrAdmin(auth, userId, 'list this user\'s EC2 credentials');
    await existingUser(userId, 'path.user_id');
    const rows = await credentials.list({ userId, type: 'ec2' });
    return { credentials: rows.map((c) => ec2View(c, false)), links: listLinks(request) };
  });

  app.get('/v3/users/:id/credentials/OS-EC2/:access', async (request: Req) => {
    const auth = requireAuth(request);
    ownerOrAdmin(auth, request.params.id!, 'read this user\'s EC2 credentials');
    return { credential: ec2View(await ec2Of(request.params.id!, request.params.access!), true) };
  });

  app.delete('/v3/users/:id/credentials/OS-EC2/:access', async (request: Req, reply) => {
    const auth = requireAuth(request);
    ownerOrAdmin(auth, request.params.id!, 'delete this user\'s EC2 credentials');
    const c = await ec2Of(request.params.id!, request.params.access!);
    await credentials.delete(c.id);
    return reply.status(204).send();
  });

  // --- /v3/policies: stored and returned, enforced by nothing (as in Keystone)
  const policyView = (p: PolicyRecord) => ({ ...p.extra, id: p.id, type: p.type, blob: p.blob, links: { self: `${deps.base()}/v3/policies/${p.id}` } });
  const RESERVED = new Set(['id', 'type', 'blob', 'links']);
  const extras = (body: Record<string, unknown>) => Object.fromEntries(Object.entries(body).filter(([k]) => !RESERVED.has(k)));
  async function policyRecord(id: string): Promise<PolicyRecord> {
    const p = await credentials.getPolicy(id);
    if (!p) throw new NotFoundError('Policy', id);
    return p;
  }

  app.post('/v3/policies', async (request: Req, reply) => {
    deps.policy.enforce('identity:create_policy', requireAuth(request), {});
    const body = member(request.body, 'policy');
    const p: PolicyRecord = {
      id: randomUUID().replace(/-/g, ''),
      type: str(body, 'body.policy', 'type', true)!,
      blob: str(body, 'body.policy', 'blob', true)!,
      extra: extras(body),
    };
    return reply.status(201).send({ policy: policyView(await credentials.createPolicy(p)) });
  });

  app.get('/v3/policies', async (request: Req) => {
    deps.policy.enforce('identity:list_policies', requireAuth(request), {});
    const rows = await credentials.listPolicies(request.query?.type);
    return { policies: rows.map(policyView), links: listLinks(request) };
  });

  app.get('/v3/policies/:id', async (request: Req) => {
    deps.policy.enforce('identity:get_policy', requireAuth(request), {});
    return { policy: policyView(await policyRecord(request.params.id!)) };
  });

  app.patch('/v3/policies/:id', async (request: Req) => {
    deps.policy.enforce('identity:update_policy', requireAuth(request), {});
    const p = await policyRecord(request.params.id!);
    const body = member(request.body, 'policy');
    if (body.id !== undefined && body.id !== p.id) throw new BadRequestError('body.policy.id: a policy\'s id cannot change.', { fields: { path: 'body.policy.id' } });
    const next: PolicyRecord = {
      id: p.id,
      type: str(body, 'body.policy', 'type', false) ?? p.type,
      blob: str(body, 'body.policy', 'blob', false) ?? p.blob,
      extra: { ...p.extra, ...extras(body) },
    };
    await credentials.updatePolicy(next);
    return { policy: policyView(next) };
  });

  app.delete('/v3/policies/:id', async (request: Req, reply) => {
    deps.policy.enforce('identity:delete_policy', requireAuth(request), {});
    await policyRecord(request.params.id!);
    await credentials.deletePolicy(request.params.id!);
    return reply.status(204).send();
  });
}
