// What every service gives the composition root (src/server), and what it gets from it.
// A service is a config plus routes, migrations, policy rules and optional background work;
// server/ starts the enabled ones together and stops all of them on the first failure.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AnyDB, DatabaseKind, ServiceMigration } from './db.js';
import type { AuthContext, Policy, PolicyTable } from './auth.js';
import type { FaultStyle } from './http-fault.js';
import { UnauthorizedError } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles every route's request schemas now (they compile lazily, on first use); returns how many. */
    compileAllSchemas(): number;
  }
  interface FastifyRequest {
    /** Set by the server's auth hook for every route not marked public. */
    auth?: AuthContext;
  }
  interface FastifyContextConfig {
    /** The route needs no token (version documents, token issue, agent call-backs...). */
    public?: boolean;
  }
}

/** Validates an X-Auth-Token; provided by identity, installed by the server for every service. */
export interface TokenValidator {
  validate(token: string): Promise<AuthContext>;
}

export interface CatalogEntry {
  /** Service type as the clients look it up: identity, image, baremetal, orchestration. */
  type: string;
  name: string;
  /** Path prefix under the public URL, e.g. /image. */
  prefix: string;
  /** When the endpoint URL carries the project id (Heat: /orchestration/v1/<project_id>). */
  projectPath?: (projectId: string) => string;
}

export interface ServiceContext {
  db: AnyDB;
  dbKind: DatabaseKind;
  log: Logger;
  policy: Policy;
  /** Where this seed keeps its files. */
  stateDir: string;
  /** The URL clients reach this server at, without a trailing slash. */
  publicUrl: () => string;
  /** The server's background work (every service's start()), which a pivot stops for good. */
  background?: BackgroundControl;
  /**
   * Rewrites this cloud's URLs inside stored text (server metadata: os-collect-config's auth_url,
   * signal URLs) to the server that serves those records now, after a pivot moved them (set by the
   * pivot service; docs/pivot.md). Absent or the identity when nothing moved.
   */
  movedUrls?: (text: string) => string;
}

export interface BackgroundControl {
  /**
   * Stops every service's background work (conductor loops, the DHCP supervisor, the metadata
   * listener, ...) and resolves when it has stopped; the API keeps answering. Idempotent. Used by
   * a seed that hands its records over: from then on another server acts on them.
   */
  pause(): Promise<void>;
}

export interface ApiService {
  name: string;
  /** Path prefix; every route of the service is registered under it. */
  prefix: string;
  faultStyle: FaultStyle;
  catalog?: CatalogEntry;
  migrations: readonly ServiceMigration[];
  policy?: PolicyTable;
  routes(app: FastifyInstance): Promise<void> | void;
  /**
   * One-time work after migrations and after the server listens (so publicUrl() is final):
   * bootstrap records, write generated files. A failure stops the server from starting.
   */
  init?(): Promise<void>;
  /** Background work (conductor loops, supervisors). Resolves or rejects when it ends. */
  start?(signal: AbortSignal): Promise<void>;
  /** Only identity provides this. */
  tokenValidator?: TokenValidator;
}

/** The caller, or 401 when the route was reached without authentication. */
export function requireAuth(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth;
}
