// Builds the one HTTP server that carries every service under its path prefix:
// request ids, access logs, authentication, schema validation and OpenStack fault rendering.
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { BootstackError, ConflictError, ForbiddenError, UnauthorizedError, ValidationError, asBootstackError } from '../common/errors.js';
import { isAdmin } from '../common/auth.js';
import { renderFault, type FaultStyle } from '../common/http-fault.js';
import type { ApiService, TokenValidator } from '../common/service.js';
import { parseJsonBody } from '../common/json-body.js';

export interface AppOptions {
  services: readonly ApiService[];
  log: Logger;
  bodyLimit: number;
  tls?: { cert: string; key: string };
  /** When it returns a reason, every change is refused with 409 and that reason (a seed that handed over). */
  readOnly?: () => string | undefined;
}

/** What a read-only server still accepts: reads, logging in, and the pivot's own steps. */
function allowedWhileReadOnly(request: FastifyRequest): boolean {
  if (['GET', 'HEAD', 'OPTIONS'].includes(request.method)) return true;
  const path = request.url.split('?')[0]!;
  return path.startsWith('/pivot/') || (request.method === 'POST' && path.replace(/\/+$/, '') === '/identity/v3/auth/tokens');
}

/**
 * HEAD is answered by the GET route of the same path, without its body (RFC 9110 9.3.2), unless a
 * route is declared for HEAD itself (Keystone's grant check). Fastify's own way, a second HEAD
 * route per GET route, made 477 routes of 299 (the extra ~180 cost ~15 % of the CPU to the first
 * answer, docs/benchmarks/startup.md). The router sees GET; the method is HEAD again before any hook runs, so
 * handlers, policy and the access log see what the client sent, and Node sends no body for it.
 */
const HEAD_AS_GET = Symbol('bootstack.headAsGet');
type RawRequest = IncomingMessage & { [HEAD_AS_GET]?: true };

/**
 * Services whose root sends a path that names no API version to their default one, as Ironic's
 * root controller does (ironicclient asks for /baremetal/nodes/detail).
 */
const DEFAULT_VERSIONS: ReadonlyArray<{ prefix: string; version: string }> = [{ prefix: '/baremetal/', version: 'v1' }];

export function withDefaultVersion(url: string): string {
  for (const { prefix, version } of DEFAULT_VERSIONS) {
    if (!url.startsWith(prefix)) continue;
    const rest = url.slice(prefix.length);
    const first = /^[^/?]*/.exec(rest)![0];
    return first === '' || first === version ? url : `${prefix}${version}/${rest}`;
  }
  return url;
}

/** The one URL rewrite: a path without its service's version gets the default, and a HEAD without a route becomes a GET. */
function routeHeadAsGet(this: Pick<FastifyInstance, 'findRoute'>, req: RawRequest): string {
  const url = withDefaultVersion(req.url ?? '/');
  if (req.method === 'HEAD' && !hasHeadRoute(this, url)) {
    req.method = 'GET';
    req[HEAD_AS_GET] = true;
  }
  return url;
}

function hasHeadRoute(app: Pick<FastifyInstance, 'findRoute'>, url: string): boolean {
  try {
    return app.findRoute({ method: 'HEAD', url: url.split('?')[0]! }) !== null;
  } catch {
    return false; // a path the router cannot read: it answers that itself
  }
}

/** The body a GET route gave a HEAD request: its length is kept, its bytes are not read. */
async function dropHeadBody(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (!(request.raw as RawRequest)[HEAD_AS_GET] || payload === null || payload === undefined) return payload;
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    if (!reply.hasHeader('content-length')) reply.header('content-length', Buffer.byteLength(payload));
  } else if (typeof (payload as NodeJS.ReadableStream).resume === 'function') {
    // A file or image stream: closed unread (Fastify's own HEAD routes read it to the end).
    (payload as NodeJS.ReadableStream & { destroy(): void }).destroy();
  } else if (typeof (payload as ReadableStream).cancel === 'function') {
    await (payload as ReadableStream).cancel().catch(() => undefined);
  }
  return null;
}

/** What Fastify calls to validate a request part: Ajv's signature, errors left on the function. */
interface LazyValidator {
  (data: unknown, ctx?: object): boolean;
  errors?: ValidateFunction['errors'];
  /** Fastify passes Ajv's data context (parentData, so a root value can be coerced) only to functions that have this. */
  schemaEnv?: unknown;
}

/**
 * Bodies are validated strictly (no type coercion, unknown fields refused where the schema says
 * additionalProperties: false); query strings and path parameters are coerced from text.
 *
 * Fastify asks for every route's validators while the server starts, and compiling all the
 * schemas with Ajv was a fifth of the CPU time before the first answer
 * (docs/benchmarks/startup.md). So each schema is compiled on the first request that needs it,
 * once: Ajv keeps the compiled function per schema object, and the wrapper keeps it too.
 * The wrapper behaves like Ajv's function for Fastify (same call, `errors` set after a failure),
 * so a failed check still takes the error handler's path (toBootstackError).
 */
function validatorCompiler(pending: Array<() => void>) {
  const body = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const query = new Ajv({ allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }): LazyValidator => {
    const ajv = httpPart === 'body' ? body : query;
    let compiled: ValidateFunction | undefined;
    pending.push(() => void (compiled ??= ajv.compile(schema)));
    const validate: LazyValidator = (data, ctx) => {
      compiled ??= ajv.compile(schema);
      // No route schema is $async, so Ajv's answer is a boolean.
      const ok = compiled(data, ctx as Parameters<ValidateFunction>[1]) as boolean;
      validate.errors = compiled.errors;
      return ok;
    };
    // Every Ajv function has a schemaEnv, so Fastify gave them all the data context: keep that.
    validate.schemaEnv = true;
    return validate;
  };
}

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Turns a schema failure into "body.disk_format: must be one of raw, qcow2, ...". */
function describeValidation(err: FastifyError): ValidationError {
  const issue = (err.validation?.[0] ?? {}) as AjvIssue;
  const part = err.validationContext ?? 'body';
  let path = (issue.instancePath ?? '').split('/').filter(Boolean).join('.');
  let message = issue.message ?? 'is invalid';
  if (issue.keyword === 'additionalProperties') {
    const extra = String(issue.params?.additionalProperty);
    path = path ? `${path}.${extra}` : extra;
    message = 'is not an allowed field';
  } else if (issue.keyword === 'required') {
    const missing = String(issue.params?.missingProperty);
    path = path ? `${path}.${missing}` : missing;
    message = 'is required';
  } else if (issue.keyword === 'enum') {
    message = `must be one of ${(issue.params?.allowedValues as unknown[]).map(String).join(', ')}`;
  }
  return new ValidationError(message, { path: path ? `${part}.${path}` : part }, { cause: err });
}

export function toBootstackError(err: unknown, request?: FastifyRequest): BootstackError {
  if (err instanceof BootstackError) return err;
  const fe = err as FastifyError;
  if (fe && Array.isArray(fe.validation)) return describeValidation(fe);
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' && request) {
    // Fastify's "Unsupported Media Type" names nothing: say what was sent, and where.
    const sent = String(request.headers['content-type'] ?? '').slice(0, 100) || 'none';
    return new BootstackError(415, 'fst_err_ctp_invalid_media_type', `Unsupported Media Type: this service does not take a body of Content-Type '${sent}' on ${request.method} ${request.url.split('?')[0]}.`, { cause: err });
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new BootstackError(fe.statusCode, String(fe.code ?? 'bad_request').toLowerCase(), fe.message, { cause: err });
  }
  return asBootstackError(err);
}

function styleFor(url: string, services: readonly ApiService[]): FaultStyle {
  const svc = services.find((s) => url === s.prefix || url.startsWith(`${s.prefix}/`) || url.startsWith(`${s.prefix}?`));
  return svc?.faultStyle ?? 'plain';
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const https = options.tls
    ? { key: readFileSync(options.tls.key), cert: readFileSync(options.tls.cert) }
    : null;
  const app = Fastify({
    loggerInstance: options.log,
    // We write one access-log line per request ourselves (onResponse), with tokens redacted.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    exposeHeadRoutes: false,
    rewriteUrl: routeHeadAsGet,
    genReqId: () => `req-${randomUUID()}`,
    // The router's own refusals (an over-long URL, bad percent-encoding) never reach the error
    // handler: render them in the service's fault format too.
    frameworkErrors: (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const e = toBootstackError(err, request);
      void reply.status(e.status).send(renderFault(styleFor(request.url, options.services), e));
    },
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;
  // A schema that Ajv cannot compile would only show on its route's first request: the tests
  // compile them all through this (src/server/server.test.ts), so a broken one fails there.
  const schemas: Array<() => void> = [];
  app.setValidatorCompiler(validatorCompiler(schemas));
  app.decorate('compileAllSchemas', () => {
    for (const compile of schemas) compile();
    return schemas.length;
  });
  // One JSON parser for every service (src/common/json-body.ts: empty bodies, nesting depth,
  // prototype keys); services add parsers only for other media types.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(String(body)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const validator: TokenValidator | undefined = options.services.find((s) => s.tokenValidator)?.tokenValidator;

  // First of all hooks: from here on the request is the HEAD it was (routeHeadAsGet above).
  app.addHook('onRequest', async (request) => {
    if ((request.raw as RawRequest)[HEAD_AS_GET]) request.raw.method = 'HEAD';
  });
  app.addHook('onSend', dropHeadBody);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
    const reason = options.readOnly?.();
    if (reason && !allowedWhileReadOnly(request)) throw new ConflictError(reason, { fields: { read_only: true } });
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      // request.log already carries reqId (Fastify's child logger per request).
      { method: request.method, url: redactUrl(request.url, request.params), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  app.addHook('preHandler', async (request: FastifyRequest) => {
    // Unmatched routes have no url: let the not-found handler answer 404, not 401.
    if (request.routeOptions.config?.public || request.routeOptions.url === undefined) return;
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string' || !token) throw new UnauthorizedError();
    if (!validator) throw new UnauthorizedError('No identity service is enabled to validate tokens.');
    request.auth = await validator.validate(token);
    // A system-scoped token is the cloud admin with the admin role. Without it (Keystone's system
    // reader or member) it has no project, and no service but identity has rules for it yet: it
    // is refused at the door, before any handler could read its missing project as "none".
    if (request.auth.system && !isAdmin(request.auth) && !request.url.startsWith('/identity')) {
      throw new ForbiddenError('A system-scoped token without the admin role has no access to this service yet; use a project-scoped token.');
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toBootstackError(err, request);
    if (e.status >= 500) request.log.error({ err }, e.message);
    if (e.status === 401) reply.header('www-authenticate', 'Keystone uri="' + request.protocol + '://' + request.host + '/identity"');
    reply.status(e.status).send(renderFault(styleFor(request.url, options.services), e));
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new BootstackError(404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}`);
    reply.status(404).send(renderFault(styleFor(request.url, options.services), e));
  });

  app.get('/', { config: { public: true } }, async () => ({
    name: 'bootstack',
    services: options.services.map((s) => ({ name: s.name, href: s.prefix })),
  }));

  for (const service of options.services) {
    await app.register(async (scope) => service.routes(scope), { prefix: service.prefix });
  }
  return app;
}

/** Route parameters whose value is a credential (signal URLs, deploy-image URLs carry one in the path). */
const SECRET_PARAMS = /token|secret|signature|sig$/i;

/**
 * Tokens never appear in access logs: not in a query string, and not in the path when a route
 * takes one as a parameter (e.g. /orchestration/signal/wait/:id/:token, /boot/images/:token).
 */
function redactUrl(url: string, params: unknown = {}): string {
  let out = url.replace(/([?&](?:token|temp_url_sig|agent_token|signature)=)[^&]*/gi, '$1***');
  for (const [name, value] of Object.entries((params ?? {}) as Record<string, unknown>)) {
    if (SECRET_PARAMS.test(name) && typeof value === 'string' && value.length > 0) {
      out = out.split(encodeURIComponent(value)).join('***').split(value).join('***');
    }
  }
  return out;
}
