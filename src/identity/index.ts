// The identity service (Keystone v3 subset under /identity): tokens, the service catalog,
// projects, users, roles and role assignments, and the token validator every service relies on.
import type { ApiService, CatalogEntry, ServiceContext, TokenValidator } from '../common/service.js';
import type { PolicyTable } from '../common/auth.js';
import type { IdentityConfig } from './config.js';
import { IdentityStore } from './store.js';
import { TokenService } from './tokens.js';
import { Authenticator } from './authenticate.js';
import { buildCatalog } from './catalog.js';
import { registerIdentityRoutes } from './routes.js';
import { identityMigrations } from './migrations.js';
import { bootstrap } from './bootstrap.js';
import { CatalogStore, runningEntries } from './catalog-store.js';
import { registerCatalogRoutes } from './catalog-routes.js';
import { registerDomainRoutes } from './domain-routes.js';
import { CredentialCipher, CredentialStore } from './credential-store.js';
import { registerCredentialRoutes } from './credential-routes.js';
import { EndpointGroupStore, registerEndpointGroupRoutes } from './endpoint-groups.js';

export { identityConfigSchema, type IdentityConfig } from './config.js';
export { IdentityStore } from './store.js';
export { TokenService, hashToken } from './tokens.js';

/**
 * Operations open to non-admins; everything else (not listed) is admin-only. Keystone's ""
 * rules (any valid token, unscoped too: list_regions, get_region, the /v3/auth/* views) are not
 * checked against this table, since a role list cannot express them; their routes only require
 * a token. Reading your own user, token, domain or assignments is decided in the routes.
 */
export const identityPolicy: PolicyTable = {
  'identity:get_project': { roles: ['reader'], ownProjectOnly: true },
};

const SELF: CatalogEntry = { type: 'identity', name: 'keystone', prefix: '/identity' };

export interface IdentityService extends ApiService {
  tokenValidator: TokenValidator;
  tokens: TokenService;
  store: IdentityStore;
}

/** `others` is the server's list of services; it is read lazily, so later services appear in the catalog. */
export function createIdentityService(ctx: ServiceContext, config: IdentityConfig, others: readonly ApiService[]): IdentityService {
  const store = new IdentityStore(ctx.db);
  const tokens = new TokenService(store, config.token_ttl_hours * 3600_000, config.validation_cache_seconds * 1000);
  const authenticator = new Authenticator(store, tokens, { attempts: config.lockout_failure_attempts, durationMs: config.lockout_duration * 1000 });
  const base = () => `${ctx.publicUrl()}/identity`;
  // The stored catalog (catalog-store.ts); before it is loaded at init, the computed one.
  const catalogStore = new CatalogStore(ctx.db);
  const running = () => runningEntries(SELF, others);
  const catalog = (projectId: string | null = null) =>
    catalogStore.catalog(ctx.publicUrl(), running(), projectId) ?? buildCatalog(ctx.publicUrl(), others, SELF, projectId);
  return {
    name: 'identity',
    prefix: '/identity',
    faultStyle: 'keystone',
    catalog: SELF,
    migrations: identityMigrations,
    policy: identityPolicy,
    store,
    tokens,
    tokenValidator: { validate: (token) => tokens.validateAuth(token) },
    routes(app) {
      registerIdentityRoutes(app, { store, tokens, authenticator, policy: ctx.policy, base, catalog });
      registerCatalogRoutes(app, { catalog: catalogStore, policy: ctx.policy, base, publicUrl: ctx.publicUrl, running });
      registerDomainRoutes(app, { store, tokens, policy: ctx.policy, base });
      registerCredentialRoutes(app, { store, credentials: new CredentialStore(ctx.db, new CredentialCipher(ctx.stateDir)), policy: ctx.policy, base });
      registerEndpointGroupRoutes(app, { groups: new EndpointGroupStore(ctx.db), catalog: catalogStore, store, policy: ctx.policy, base, publicUrl: ctx.publicUrl, running });
    },
    async init() {
      await bootstrap(store, ctx.stateDir, ctx.publicUrl(), ctx.log);
      await catalogStore.seed(running(), ctx.publicUrl());
      tokens.invalidateAll();
      // Expired tokens can never validate again; dropping them keeps the table small.
      await store.purgeExpiredTokens(new Date(Date.now() - 24 * 3600_000).toISOString());
    },
  };
}
