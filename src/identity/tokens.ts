// Tokens: opaque random strings handed to the client once; only their sha256 is stored.
// Validation is what every request of every service does, so results are kept in memory for a
// few seconds; revoking a token (or changing roles, users or projects) clears them at once.
import { createHash, randomBytes } from 'node:crypto';
import type { AuthContext } from '../common/auth.js';
import { NotFoundError, UnauthorizedError } from '../common/errors.js';
import { toJson, fromJson } from '../common/db.js';
import { effectiveRoles, loadRoleGraph, type RoleGraph } from './implied-roles.js';
import { MAX_PROJECT_DEPTH } from './project-tree.js';
import { SYSTEM_ALL, type IdentityStore, type DomainRow, type ProjectRow, type RoleRow, type UserRow, type TokenRow } from './store.js';

export interface TokenInfo {
  row: TokenRow;
  user: UserRow;
  userDomain: DomainRow;
  project: ProjectRow | null;
  projectDomain: DomainRow | null;
  domain: DomainRow | null;
  /** Scoped to the whole deployment (Keystone's system scope). */
  system: boolean;
  /** Effective roles (implied ones included). */
  roles: RoleRow[];
  auth: AuthContext;
}

/** At most one of them; none is an unscoped token. */
export interface TokenScope { project?: ProjectRow; domain?: DomainRow; system?: boolean }

export interface IssueRequest {
  user: UserRow;
  methods: string[];
  scope: TokenScope;
  /** For the token method: the new token does not outlive the one it was made from. */
  notAfter?: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenService {
  private readonly cache = new Map<string, { info: TokenInfo; until: number }>();

  constructor(
    private readonly store: IdentityStore,
    private readonly ttlMs: number,
    private readonly cacheMs: number,
  ) {}

  async issue(req: IssueRequest): Promise<{ token: string; info: TokenInfo }> {
    const token = randomBytes(32).toString('base64url');
    const issued = new Date();
    let expires = new Date(issued.getTime() + this.ttlMs).toISOString();
    if (req.notAfter && req.notAfter < expires) expires = req.notAfter;
    const row: TokenRow = {
      token_hash: hashToken(token),
      user_id: req.user.id,
      project_id: req.scope.project?.id ?? null,
      domain_id: req.scope.domain?.id ?? null,
      system_scope: req.scope.system ? SYSTEM_ALL : null,
      methods: toJson(req.methods),
      audit_id: randomBytes(16).toString('base64url').slice(0, 22),
      issued_at: issued.toISOString(),
      expires_at: expires,
      revoked: 0,
    };
    // Scoping to a project, a domain or the system needs a role on it (checked before anything is stored).
    const info = await this.resolve(row, req.user, req.scope.project);
    await this.store.insertToken(row);
    return { token, info };
  }

  /** The token's details, or 401 when it is unknown, expired, revoked or no longer authorised. */
  async validate(token: string): Promise<TokenInfo> {
    const hash = hashToken(token);
    const hit = this.cache.get(hash);
    const nowMs = Date.now();
    if (hit && hit.until > nowMs) return hit.info;
    if (hit) this.cache.delete(hash);
    const row = await this.store.getToken(hash);
    if (!row) throw new UnauthorizedError('The request you have made requires authentication.');
    if (row.revoked) throw new UnauthorizedError('The token has been revoked.');
    const expiresMs = Date.parse(row.expires_at);
    if (expiresMs <= nowMs) throw new UnauthorizedError('The token has expired.');
    const info = await this.resolve(row);
    if (this.cacheMs > 0) {
      // Bounded: a flood of distinct tokens must not grow memory without limit.
      if (this.cache.size >= 10000) this.cache.clear();
      this.cache.set(hash, { info, until: Math.min(nowMs + this.cacheMs, expiresMs) });
    }
    return info;
  }

  async validateAuth(token: string): Promise<AuthContext> {
    return (await this.validate(token)).auth;
  }

  async revoke(token: string): Promise<void> {
    const hash = hashToken(token);
    this.cache.delete(hash);
    const done = await this.store.revokeToken(hash);
    if (!done) throw new NotFoundError('Token', 'given in X-Subject-Token');
  }

  /** After role, user or project changes: cached validations may be out of date. */
  invalidateAll(): void {
    this.cache.clear();
    this.domains = null;
    this.roleGraph = null;
  }

  /** `knownUser`/`knownProject`: rows the caller has just read (token issue), not read again. */
  private async resolve(row: TokenRow, knownUser?: UserRow, knownProject?: ProjectRow): Promise<TokenInfo> {
    const user = knownUser ?? (await this.store.getUser(row.user_id));
    if (!user || !user.enabled) throw new UnauthorizedError('The user is unknown or disabled.');
    const userDomain = await this.domain(user.domain_id);
    if (!userDomain || !userDomain.enabled) throw new UnauthorizedError("The user's domain is disabled.");
    let project: ProjectRow | null = null;
    let projectDomain: DomainRow | null = null;
    let domain: DomainRow | null = null;
    let direct: RoleRow[] = [];
    if (row.project_id) {
      project = knownProject ?? (await this.store.getProject(row.project_id)) ?? null;
      if (!project || !project.enabled) throw new UnauthorizedError(`Project ${row.project_id} is unknown or disabled.`);
      projectDomain = (await this.domain(project.domain_id)) ?? null;
      direct = await this.store.rolesOn(user.id, 'project', project.id);
      // Inherited assignments from the project's domain and ancestors (OS-INHERIT) count too.
      const inherited = await this.store.inheritedRolesOn(user.id, project, MAX_PROJECT_DEPTH);
      if (inherited.length) direct = [...new Map([...direct, ...inherited].map((r) => [r.id, r])).values()];
      if (!direct.length) throw new UnauthorizedError(`User ${user.id} has no access to project ${project.id}.`);
    } else if (row.domain_id) {
      domain = (await this.domain(row.domain_id)) ?? null;
      if (!domain || !domain.enabled) throw new UnauthorizedError(`Domain ${row.domain_id} is unknown or disabled.`);
      direct = await this.store.rolesOn(user.id, 'domain', domain.id);
      if (!direct.length) throw new UnauthorizedError(`User ${user.id} has no access to domain ${domain.id}.`);
    } else if (row.system_scope) {
      direct = await this.store.rolesOn(user.id, 'system', SYSTEM_ALL);
      if (!direct.length) throw new UnauthorizedError(`User ${user.id} has no role on the system.`);
    }
    const roles = await this.withImplied(direct);
    // Only domain-specific roles on the target: they imply nothing global, so nothing is held.
    if (direct.length && !roles.length) throw new UnauthorizedError(`User ${user.id} holds no role that applies on this scope.`);
    const auth: AuthContext = {
      userId: user.id,
      userName: user.name,
      domainId: user.domain_id,
      projectId: project?.id ?? null,
      projectName: project?.name ?? null,
      roles: roles.map((r) => r.name),
      ...(row.system_scope ? { system: true } : {}),
      tokenExpiresAt: row.expires_at,
    };
    return { row, user, userDomain, project, projectDomain, domain, system: !!row.system_scope, roles, auth };
  }

  // Domains and roles change rarely (and only through this service, which calls
  // invalidateAll()); keeping them in memory saves queries on every validation.
  private domains: Map<string, DomainRow> | null = null;
  private roleGraph: RoleGraph | null = null;

  private async domain(id: string): Promise<DomainRow | undefined> {
    if (!this.domains?.has(id)) {
      this.domains = new Map((await this.store.listDomains()).map((d) => [d.id, d]));
    }
    return this.domains.get(id);
  }

  /** The direct roles and all they imply (implied-roles.ts); domain-specific roles left out. */
  async withImplied(direct: RoleRow[]): Promise<RoleRow[]> {
    this.roleGraph ??= await loadRoleGraph(this.store);
    return effectiveRoles(this.roleGraph, direct.map((r) => r.id)).map((e) => e.role);
  }
  /** The role graph (cached like the domains; invalidateAll() drops it). */
  async roles(): Promise<RoleGraph> {
    this.roleGraph ??= await loadRoleGraph(this.store);
    return this.roleGraph;
  }
}

export function tokenMethods(row: TokenRow): string[] {
  return fromJson<string[]>(row.methods, []);
}
