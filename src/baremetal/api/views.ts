// The JSON shapes of Ironic's API reference for nodes, ports, allocations, history and drivers.
// Secrets in node fields and in text that may quote them are masked for every caller
// (secrets.ts); a lessee also gets the owner's infrastructure details redacted, as in Ironic.
import { fromJson } from '../../common/db.js';
import type { AllocationRow, ChassisRow, HistoryRow, NodeRow, PortRow } from '../db.js';
import type { DeployTemplateRow, PortgroupRow } from '../db.js';
import { FIXED_INTERFACES, OPTIONAL_KINDS } from '../drivers/hardware-types.js';
import { maskSecretText, maskSecrets } from '../secrets.js';
import { FIELD_SINCE, hideNewerFields } from './versions.js';

/** What a lessee sees instead of the owner's details (BMC access, errors). */
export function redacted(field: string): string {
  return `** Redacted: ${field} is shown to the node's owner only **`;
}

export interface NodeViewOptions {
  /** The caller is the node's lessee, not its owner (nor an admin). */
  lessee?: boolean;
  /** The request's API minor version: fields newer than it are left out (NODE_FIELD_SINCE); absent: all. */
  version?: number;
}

/** Node fields that appeared in a later microversion than 1.1, and since which one (Ironic's API history). */
export const NODE_FIELD_SINCE: Readonly<Record<string, number>> = FIELD_SINCE.node;

/** The fields a lessee does not see, as /nodes/{id} and /nodes/{id}/states show them. */
function ownerDetails(row: NodeRow, lessee: boolean): Pick<Record<string, unknown>, 'driver_info' | 'driver_internal_info' | 'last_error' | 'reservation'> {
  if (lessee) {
    return {
      driver_info: { content: redacted('driver_info') },
      driver_internal_info: { content: redacted('driver_internal_info') },
      last_error: row.last_error === null ? null : redacted('last_error'),
      reservation: row.reservation === null ? null : redacted('reservation'),
    };
  }
  return {
    driver_info: maskSecrets(fromJson(row.driver_info, {})),
    driver_internal_info: maskSecrets(fromJson(row.driver_internal_info, {})),
    last_error: row.last_error === null ? null : maskSecretText(row.last_error),
    reservation: row.reservation,
  };
}

function link(base: string, path: string): Array<{ href: string; rel: string }> {
  return [
    { href: `${base}/v1/${path}`, rel: 'self' },
    { href: `${base}/${path}`, rel: 'bookmark' },
  ];
}

export const NODE_LIST_FIELDS = ['uuid', 'name', 'instance_uuid', 'power_state', 'provision_state', 'maintenance'] as const;

/** `conductor` is the host that manages the node (Ironic shows it always, not only while busy). */
export function nodeView(row: NodeRow, base: string, conductor: string | null = null, options: NodeViewOptions = {}): Record<string, unknown> {
  const owner = ownerDetails(row, options.lessee === true);
  const v: Record<string, unknown> = {
    uuid: row.uuid,
    name: row.name,
    driver: row.driver,
    driver_info: owner.driver_info,
    driver_internal_info: owner.driver_internal_info,
    extra: fromJson(row.extra, {}),
    instance_info: maskSecrets(fromJson(row.instance_info, {})),
    instance_uuid: row.instance_uuid,
    properties: fromJson(row.properties, {}),
    traits: fromJson(row.traits, []),
    chassis_uuid: row.chassis_uuid,
    conductor_group: row.conductor_group,
    conductor: row.reservation ?? conductor,
    console_enabled: row.console_enabled === 1,
    last_error: owner.last_error,
    maintenance: row.maintenance === 1,
    maintenance_reason: row.maintenance_reason,
    fault: row.fault,
    power_state: row.power_state,
    target_power_state: row.target_power_state,
    provision_state: row.provision_state,
    target_provision_state: row.target_provision_state,
    provision_updated_at: row.provision_updated_at,
    reservation: owner.reservation,
    resource_class: row.resource_class,
    owner: row.owner,
    lessee: row.lessee,
    protected: row.protected === 1,
    protected_reason: row.protected_reason,
    retired: row.retired === 1,
    retired_reason: row.retired_reason,
    boot_interface: row.boot_interface,
    deploy_interface: row.deploy_interface,
    inspect_interface: row.inspect_interface,
    management_interface: row.management_interface,
    power_interface: row.power_interface,
    automated_clean: row.automated_clean === null ? null : row.automated_clean === 1,
    description: row.description,
    allocation_uuid: row.allocation_uuid,
    boot_mode: row.boot_mode,
    secure_boot: null,
    clean_step: fromJson(row.clean_step, {}),
    deploy_step: fromJson(row.deploy_step, {}),
    network_data: fromJson(row.network_data, {}),
    raid_config: {},
    target_raid_config: fromJson(row.target_raid_config ?? null, {}),
    inspection_started_at: row.inspection_started_at,
    inspection_finished_at: row.inspection_finished_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    shard: null,
    parent_node: null,
    firmware_interface: FIXED_INTERFACES.firmware,
    links: link(base, `nodes/${row.uuid}`),
    ports: link(base, `nodes/${row.uuid}/ports`),
    portgroups: link(base, `nodes/${row.uuid}/portgroups`),
    states: link(base, `nodes/${row.uuid}/states`),
    volume: link(base, `nodes/${row.uuid}/volume`),
  };
  for (const [kind, name] of Object.entries(FIXED_INTERFACES)) if (kind !== 'firmware') v[`${kind}_interface`] = name;
  for (const kind of OPTIONAL_KINDS) v[`${kind}_interface`] = row[`${kind}_interface`] ?? FIXED_INTERFACES[kind];
  return options.version === undefined ? v : atVersion(v, options.version);
}

/** A node view as `version` shows it: newer fields hidden, and before 1.2 "available" was shown as no state (null). */
function atVersion(v: Record<string, unknown>, version: number): Record<string, unknown> {
  if (version < 2) for (const f of ['provision_state', 'target_provision_state']) if (v[f] === 'available') v[f] = null;
  return hideNewerFields('node', v, version);
}

/** GET /nodes/{id}/states. */
export function nodeStatesView(row: NodeRow, options: NodeViewOptions = {}): Record<string, unknown> {
  const v = {
    console_enabled: row.console_enabled === 1,
    last_error: ownerDetails(row, options.lessee === true).last_error,
    power_state: row.power_state,
    provision_state: row.provision_state,
    provision_updated_at: row.provision_updated_at,
    raid_config: {},
    target_power_state: row.target_power_state,
    target_provision_state: row.target_provision_state,
    target_raid_config: fromJson(row.target_raid_config ?? null, {}),
    boot_mode: row.boot_mode,
    secure_boot: null,
  };
  return options.version === undefined ? v : atVersion(v, options.version);
}

/** Keeps the requested fields (plus links, as Ironic does). */
export function pick(view: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in view) out[f] = view[f];
  if ('links' in view) out.links = view.links;
  return out;
}

/** `version`: the request's, hiding newer fields (FIELD_SINCE.port); absent: all. */
export function portView(row: PortRow, base: string, version?: number): Record<string, unknown> {
  const v = {
    uuid: row.uuid,
    address: row.address,
    node_uuid: row.node_uuid,
    portgroup_uuid: row.portgroup_uuid,
    extra: fromJson(row.extra, {}),
    local_link_connection: fromJson(row.local_link_connection, {}),
    pxe_enabled: row.pxe_enabled === 1,
    physical_network: row.physical_network,
    internal_info: fromJson(row.internal_info, {}),
    is_smartnic: row.is_smartnic === 1,
    name: null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: link(base, `ports/${row.uuid}`),
  };
  return version === undefined ? v : hideNewerFields('port', v, version);
}

export const PORT_LIST_FIELDS = ['uuid', 'address'] as const;

/** A port group; `mode` and `properties` (API 1.26) are shown to every version, as Ironic does. */
export function portgroupView(row: PortgroupRow, base: string): Record<string, unknown> {
  return {
    uuid: row.uuid,
    name: row.name,
    address: row.address,
    node_uuid: row.node_uuid,
    standalone_ports_supported: row.standalone_ports_supported === 1,
    internal_info: fromJson(row.internal_info, {}),
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: link(base, `portgroups/${row.uuid}`),
    ports: link(base, `portgroups/${row.uuid}/ports`),
    mode: row.mode,
    properties: fromJson(row.properties, {}),
  };
}

export const PORTGROUP_LIST_FIELDS = ['uuid', 'address', 'name'] as const;

export function deployTemplateView(row: DeployTemplateRow, base: string): Record<string, unknown> {
  return {
    uuid: row.uuid,
    name: row.name,
    steps: fromJson(row.steps, []),
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: link(base, `deploy_templates/${row.uuid}`),
  };
}

export const DEPLOY_TEMPLATE_LIST_FIELDS = ['uuid', 'name'] as const;

export function allocationView(row: AllocationRow, base: string): Record<string, unknown> {
  return {
    uuid: row.uuid,
    name: row.name,
    state: row.state,
    owner: row.owner,
    node_uuid: row.node_uuid,
    last_error: row.last_error,
    resource_class: row.resource_class,
    traits: fromJson(row.traits, []),
    candidate_nodes: fromJson(row.candidate_nodes, []),
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: link(base, `allocations/${row.uuid}`),
  };
}

export function historyView(row: HistoryRow, base: string, detail: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = {
    uuid: row.uuid,
    created_at: row.created_at,
    severity: row.severity,
    event: maskSecretText(row.event),
    links: link(base, `nodes/${row.node_uuid}/history/${row.uuid}`),
  };
  if (detail) Object.assign(v, { event_type: row.event_type, user: row.user, conductor: row.conductor });
  return v;
}

export const CHASSIS_LIST_FIELDS = ['uuid', 'description'] as const;

export function chassisView(row: ChassisRow, base: string): Record<string, unknown> {
  return {
    uuid: row.uuid,
    description: row.description,
    extra: fromJson(row.extra, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: link(base, `chassis/${row.uuid}`),
    nodes: link(base, `chassis/${row.uuid}/nodes`),
  };
}

/** What GET /conductors shows of a conductor (Bootstack runs one, in the seed's process). */
export interface ConductorInfo {
  hostname: string;
  conductor_group: string;
  alive: boolean;
  drivers: string[];
  created_at: string;
  updated_at: string | null;
}

export const CONDUCTOR_LIST_FIELDS = ['hostname', 'conductor_group', 'alive'] as const;

export function conductorView(c: ConductorInfo, base: string): Record<string, unknown> {
  return { ...c, links: link(base, `conductors/${encodeURIComponent(c.hostname)}`) };
}
