// /v1/drivers: the hardware types with their default and enabled interfaces.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError, NotFoundError } from '../../common/errors.js';
import { INTERFACE_KINDS } from '../drivers/interfaces.js';
import { FIXED_INTERFACES } from '../drivers/hardware-types.js';
import { authorize, parseBool, type ApiDeps, type Query } from './context.js';

/** What each driver_info key means, for GET /v1/drivers/{name}/properties. */
const PROPERTIES: Record<string, Record<string, string>> = {
  'fake-hardware': { fake_delay_ms: 'Milliseconds each fake driver call takes. Optional.' },
  redfish: {
    redfish_address: 'The URL of the Redfish controller (https://host[:port]). Required.',
    redfish_system_id: 'The canonical path or Id of the ComputerSystem; needed when the BMC has several systems. Optional.',
    redfish_username: 'User name for the BMC. Optional.',
    redfish_password: 'Password for the BMC. Optional.',
    redfish_verify_ca: 'false to skip TLS certificate verification. Optional, default true.',
    redfish_auth_type: 'basic, session or auto. Optional, default auto.',
  },
  ipmi: {
    ipmi_address: 'IP address or host name of the BMC. Required.',
    ipmi_port: 'UDP port of the BMC. Optional, default 623.',
    ipmi_username: 'User name. Optional.',
    ipmi_password: 'Password (passed to ipmitool through the environment). Optional.',
    ipmi_cipher_suite: 'IPMI 2.0 cipher suite. Optional.',
  },
};

/**
 * The keys of one logical disk in a node's target_raid_config (Ironic's RAID configuration
 * schema), for GET /v1/drivers/{name}/raid/logical_disk_properties.
 */
export const LOGICAL_DISK_PROPERTIES: Readonly<Record<string, string>> = {
  size_gb: 'Size of the logical disk in GiB, or "MAX" for the rest of the space. Required.',
  raid_level: 'RAID level: one of "0", "1", "2", "5", "6", "1+0", "5+0", "6+0". Required.',
  volume_name: 'Name of the volume. Optional.',
  is_root_volume: 'true to make it the root volume (at most one). Optional.',
  share_physical_disks: 'true if it may share physical disks with other logical disks. Optional.',
  disk_type: 'Kind of physical disks to use: "hdd" or "ssd". Optional.',
  interface_type: 'Interface of the physical disks: "sata", "scsi" or "sas". Optional.',
  number_of_physical_disks: 'How many physical disks to use. Optional.',
  controller: 'The RAID controller to use. Optional.',
  physical_disks: 'The physical disks to use, as the controller names them. Optional.',
};

export function driverRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const registry = deps.conductor.registry;
  const host = deps.conductor.options.host;

  function view(name: string, detail: boolean): Record<string, unknown> {
    const base = deps.base();
    const v: Record<string, unknown> = {
      name,
      hosts: [host],
      type: 'dynamic',
      links: [
        { href: `${base}/v1/drivers/${name}`, rel: 'self' },
        { href: `${base}/drivers/${name}`, rel: 'bookmark' },
      ],
      properties: [
        { href: `${base}/v1/drivers/${name}/properties`, rel: 'self' },
        { href: `${base}/drivers/${name}/properties`, rel: 'bookmark' },
      ],
    };
    if (detail) {
      for (const kind of INTERFACE_KINDS) {
        v[`default_${kind}_interface`] = registry.enabled(name, kind)[0] ?? null;
        v[`enabled_${kind}_interfaces`] = registry.enabled(name, kind);
      }
      for (const [kind, impl] of Object.entries(FIXED_INTERFACES)) {
        v[`default_${kind}_interface`] = impl;
        v[`enabled_${kind}_interfaces`] = [impl];
      }
    }
    return v;
  }

  const listDrivers = async (request: FastifyRequest) => {
    authorize(request, 'baremetal:driver:get');
    const q = request.query as Query;
    // Ironic has had only dynamic (hardware type) drivers since classic ones were removed; the
    // filter still accepts "classic" (matching nothing), anything else is a 400.
    if (q.type !== undefined && q.type !== '' && q.type !== 'classic' && q.type !== 'dynamic') {
      throw new BadRequestError(`Invalid type "${q.type}": expected "classic" or "dynamic"`);
    }
    if (q.type === 'classic') return { drivers: [] };
    const detail = parseBool(q.detail, 'detail') === true;
    return { drivers: Object.keys(registry.hardwareTypes).map((n) => view(n, detail)) };
  };
  app.get('/v1/drivers', listDrivers);
  app.get('/v1/drivers/', listDrivers);

  app.get('/v1/drivers/:name', async (request) => {
    authorize(request, 'baremetal:driver:get');
    const { name } = request.params as { name: string };
    if (!registry.hardwareTypes[name]) throw new NotFoundError('Driver', name);
    return view(name, true);
  });

  app.get('/v1/drivers/:name/properties', async (request) => {
    authorize(request, 'baremetal:driver:get_properties');
    const { name } = request.params as { name: string };
    if (!registry.hardwareTypes[name]) throw new NotFoundError('Driver', name);
    return PROPERTIES[name] ?? {};
  });

  app.get('/v1/drivers/:name/raid/logical_disk_properties', async (request) => {
    authorize(request, 'baremetal:driver:get_raid_logical_disk_properties');
    const { name } = request.params as { name: string };
    if (!registry.hardwareTypes[name]) throw new NotFoundError('Driver', name);
    return LOGICAL_DISK_PROPERTIES;
  });
}
