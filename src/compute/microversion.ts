// Compute API microversions (Nova's): negotiated per request from `OpenStack-API-Version:
// compute X.Y` or the legacy `X-OpenStack-Nova-API-Version: X.Y`; none means 2.1, "latest" the
// highest. The answer carries the version in both headers and `Vary` on both.
//
// MAX is 2.73: Debian 12's openstacksdk 0.101 negotiates min(its resource's max, ours) and
// its Server resource asks for 2.73 (flavor embedded since 2.47, locked_reason 2.73); its
// Flavor asks 2.61 (extra_specs inline), Keypair 2.10, ServerGroup 2.64, Hypervisor 2.88 (we
// answer 2.73, keeping the statistics 2.88 drops). What `openstack --debug` shows from OSC 6.0:
// `server list/create/show` and `hypervisor list` go through python-novaclient 18.1 with
// X-OpenStack-Nova-API-Version: 2.1 (the minimum, so 2.1 shapes must stay right); `flavor *`
// sends compute 2.61 and `keypair *` compute 2.10 through the SDK. Nothing above 2.73 is
// implemented (2.74+ adds host/hypervisor_hostname on create, 2.88 changes hypervisors).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError, BootstackError } from '../common/errors.js';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.73';

export interface Microversion {
  major: number;
  minor: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    computeVersion?: Microversion;
  }
}

export function parseVersion(text: string): Microversion | null {
  const m = /^(\d+)\.(\d+)$/.exec(text.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

const MIN = parseVersion(MIN_VERSION)!;
const MAX = parseVersion(MAX_VERSION)!;

function cmp(a: Microversion, b: Microversion): number {
  return a.major - b.major || a.minor - b.minor;
}

/** The version a request asked for, or throws 400 (malformed) / 406 (out of range). */
export function negotiate(headers: FastifyRequest['headers']): Microversion {
  let asked: string | undefined;
  const modern = headers['openstack-api-version'];
  if (typeof modern === 'string') {
    // "compute 2.60" possibly among other services' entries: "compute 2.60, image 2.5".
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version) asked = version;
    }
  }
  const legacy = headers['x-openstack-nova-api-version'];
  if (asked === undefined && typeof legacy === 'string' && legacy.trim()) asked = legacy.trim();
  if (asked === undefined) return MIN;
  if (asked.toLowerCase() === 'latest') return MAX;
  const v = parseVersion(asked);
  if (!v) throw new BadRequestError(`Invalid API version request string: ${asked} (headers.OpenStack-API-Version: expected "compute X.Y" or "compute latest").`);
  if (cmp(v, MIN) < 0 || cmp(v, MAX) > 0) {
    throw new BootstackError(406, 'version_not_supported', `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return v;
}

const parsed = new Map<string, Microversion>();

/** True when the request's version is at least `version` ("2.47"); called per field of every listed server. */
export function atLeast(request: FastifyRequest, version: string): boolean {
  const v = request.computeVersion ?? MIN;
  let want = parsed.get(version);
  if (!want) parsed.set(version, (want = parseVersion(version)!));
  return cmp(v, want) >= 0;
}

export function versionText(v: Microversion): string {
  return `${v.major}.${v.minor}`;
}

/**
 * Negotiates on every versioned route of the scope and echoes the result. Refusals are echoed
 * with the minimum (Nova answers its errors with a version header too).
 */
export function installMicroversions(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
    if (request.routeOptions.config?.public) return;
    try {
      request.computeVersion = negotiate(request.headers);
    } catch (err) {
      request.computeVersion = MIN;
      throw err;
    }
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.routeOptions.config?.public) return;
    const v = versionText(request.computeVersion ?? MIN);
    reply.header('openstack-api-version', `compute ${v}`);
    reply.header('x-openstack-nova-api-version', v);
  });
}
