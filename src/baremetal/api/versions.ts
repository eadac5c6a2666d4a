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
      // Ironic answers 404 for resources newer than the requested version (a few: 405 or 406 by method).
      const status = gate.byMethod?.[request.method];
      const what = `${gate.what} (available from API 1.${gate.since})`;
      if (status === 405) throw new BootstackError(405, 'method_not_allowed', `${what}: ${request.method} is not allowed at version 1.${minor}.`);
      if (status === 406) throw new NotAcceptableVersionError(`${what} are not available at version 1.${minor}.`);
      throw new NotFoundError(`${what} at version`, `1.${minor}`);
    }
  });
}

/** Resources that appeared in a later microversion (Ironic's API history). */
export const VERSION_GATES: ReadonlyArray<{ route: RegExp; since: number; what: string; byMethod?: Readonly<Record<string, 405 | 406>> }> = [
  // Ironic's traits controller: a listing is 406, a set 405, a removal 404.
  { route: /\/v1\/nodes\/:ident\/traits/, since: 37, what: 'Node traits', byMethod: { GET: 406, PUT: 405 } },
  { route: /\/v1\/allocations/, since: 52, what: 'Allocations' },
  { route: /\/v1\/drivers\/:name\/raid\//, since: 12, what: 'RAID logical disk properties' },
  { route: /\/v1\/nodes\/:ident\/allocation$/, since: 52, what: 'Node allocation' },
  { route: /\/v1\/conductors/, since: 49, what: 'Conductors' },
  { route: /\/v1\/nodes\/:ident\/history/, since: 78, what: 'Node history' },
  // The sub-resources came one version after port groups themselves.
  { route: /\/v1\/nodes\/:ident\/portgroups/, since: 24, what: 'Node port groups' },
  { route: /\/v1\/portgroups\/:ident\/ports/, since: 24, what: 'Port group ports' },
  { route: /\/v1\/portgroups/, since: 23, what: 'Port groups' },
  { route: /\/v1\/deploy_templates/, since: 55, what: 'Deploy templates' },
  { route: /\/v1\/volume/, since: 32, what: 'Volume' },
  { route: /\/v1\/nodes\/:ident\/volume/, since: 32, what: 'Node volume' },
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

// ------------------------------------------------------------ fields by microversion
// Ironic's API history of fields: a view leaves out what the request's version did not have yet,
// and a request that names such a field (in a body, a patch, ?fields= or a filter) is a 406.
// Every resource's gating goes through these two functions and this table.

export type GatedResource = 'node' | 'port';

export const FIELD_SINCE: Readonly<Record<GatedResource, Readonly<Record<string, number>>>> = {
  node: {
    driver_internal_info: 3, name: 5, inspection_started_at: 6, inspection_finished_at: 6, clean_step: 7,
    raid_config: 12, target_raid_config: 12, network_interface: 20, resource_class: 21, portgroups: 24,
    boot_interface: 31, console_interface: 31, deploy_interface: 31, inspect_interface: 31, management_interface: 31,
    power_interface: 31, raid_interface: 31, vendor_interface: 31, volume: 32, storage_interface: 33, traits: 37,
    rescue_interface: 38, bios_interface: 40, fault: 42, deploy_step: 44, conductor_group: 46, automated_clean: 47,
    protected: 48, protected_reason: 48, conductor: 49, owner: 50, description: 51, description_contains: 51,
    allocation_uuid: 52, retired: 61, retired_reason: 61, lessee: 65, network_data: 66, boot_mode: 75, secure_boot: 75,
    // Newer than the 1.78 we serve: never shown.
    shard: 82, parent_node: 83, firmware_interface: 86,
  },
  port: {
    internal_info: 18, pxe_enabled: 19, local_link_connection: 19, portgroup_uuid: 24, physical_network: 34, is_smartnic: 53,
    name: 88,
  },
};

/** The view without the fields newer than `version` (the view itself, changed). */
export function hideNewerFields<T extends Record<string, unknown>>(resource: GatedResource, view: T, version: number): T {
  for (const [field, since] of Object.entries(FIELD_SINCE[resource])) if (version < since) delete view[field];
  return view;
}

/** A 406 naming the first of `names` that `version` does not have (Ironic's NotAcceptable). */
export function requireFieldsAt(resource: GatedResource, names: Iterable<string>, version: number): void {
  const table = FIELD_SINCE[resource];
  for (const name of names) {
    const since = table[name];
    if (since !== undefined && version < since) {
      throw new NotAcceptableVersionError(`The ${resource} field "${name}" needs API version 1.${since} or later; the request asked for 1.${version}.`);
    }
  }
}

/** The top-level fields a JSON patch touches ("/extra/a" → "extra"). */
export function patchedFields(ops: ReadonlyArray<{ path: string }>): string[] {
  return ops.map((o) => o.path.split('/')[1] ?? '');
}
