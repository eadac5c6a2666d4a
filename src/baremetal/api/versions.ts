// Ironic API microversions: the client says which version it speaks in
// X-OpenStack-Ironic-API-Version ("1.78", "latest"); no header means the minimum. A version out
// of range is 406 with the supported range in headers, which is how ironicclient negotiates
// down. Every response carries the min/max/selected version headers.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BootstackError, NotFoundError } from '../../common/errors.js';

export const MIN_VERSION = 1;
/** Debian 12's python-ironicclient asks for 1.78 (its LAST_KNOWN_API_VERSION) by default. */
export const MAX_VERSION = 78;
export const HEADER = 'x-openstack-ironic-api-version';

const versions = new WeakMap<FastifyRequest, number>();

/** The minor version of this request (1.x → x). */
export function apiVersion(request: FastifyRequest): number {
  return versions.get(request) ?? MIN_VERSION;
}

export class NotAcceptableVersionError extends BootstackError {
  constructor(message: string) {
    super(406, 'version_not_acceptable', message);
  }
}

function setHeaders(reply: FastifyReply, minor: number): void {
  reply.header('X-OpenStack-Ironic-API-Minimum-Version', `1.${MIN_VERSION}`);
  reply.header('X-OpenStack-Ironic-API-Maximum-Version', `1.${MAX_VERSION}`);
  reply.header('X-OpenStack-Ironic-API-Version', `1.${minor}`);
  reply.header('Vary', HEADER);
}

export function installVersionHook(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.headers[HEADER];
    const text = Array.isArray(raw) ? raw[0] : raw;
    let minor = MIN_VERSION;
    if (text !== undefined && text.trim() !== '') {
      const v = text.trim().toLowerCase();
      if (v === 'latest') minor = MAX_VERSION;
      else {
        const m = /^(\d+)\.(\d+)$/.exec(v);
        if (!m) {
          setHeaders(reply, MIN_VERSION);
          throw new BootstackError(400, 'bad_version', `Invalid value for ${HEADER} header: "${text}"; expected "1.<minor>" or "latest".`);
        }
        minor = Number(m[2]);
        if (m[1] !== '1' || minor < MIN_VERSION || minor > MAX_VERSION) {
          setHeaders(reply, MIN_VERSION);
          throw new NotAcceptableVersionError(
            `Version ${v} was requested but the minor version is not supported by this service. The supported version range is: [1.${MIN_VERSION}, 1.${MAX_VERSION}].`,
          );
        }
      }
    }
    versions.set(request, minor);
    setHeaders(reply, minor);
    const route = request.routeOptions.url ?? '';
    const gate = VERSION_GATES.find((g) => g.route.test(route));
    if (gate && minor < gate.since) {
      // Ironic answers 404 for resources newer than the requested version.
      throw new NotFoundError(`${gate.what} (available from API 1.${gate.since}) at version`, `1.${minor}`);
    }
  });
}

/** Resources that appeared in a later microversion (Ironic's API history). */
export const VERSION_GATES: ReadonlyArray<{ route: RegExp; since: number; what: string }> = [
  { route: /\/v1\/nodes\/:ident\/traits/, since: 37, what: 'Node traits' },
  { route: /\/v1\/allocations/, since: 52, what: 'Allocations' },
  { route: /\/v1\/nodes\/:ident\/allocation$/, since: 52, what: 'Node allocation' },
  { route: /\/v1\/nodes\/:ident\/history/, since: 78, what: 'Node history' },
];

/** The version document Ironic puts in its root and /v1 answers. */
export function versionDocument(base: string): Record<string, unknown> {
  return {
    id: 'v1',
    links: [{ href: `${base}/v1/`, rel: 'self' }],
    status: 'CURRENT',
    min_version: `1.${MIN_VERSION}`,
    version: `1.${MAX_VERSION}`,
  };
}
