// Tables of the bare-metal service. Portable column types only (see common/db.ts): JSON as text,
// timestamps as ISO text, booleans as 0/1. The conductor's in-flight work lives on the node row
// (reservation + operation), so a restarted server can see what was interrupted.
import type { Kysely } from 'kysely';
import type { AnyDB, ServiceMigration } from '../common/db.js';

export interface NodeRow {
  uuid: string;
  name: string | null;
  driver: string;
  driver_info: string;
  driver_internal_info: string;
  extra: string;
  instance_info: string;
  instance_uuid: string | null;
  properties: string;
  traits: string;
  conductor_group: string;
  last_error: string | null;
  maintenance: number;
  maintenance_reason: string | null;
  fault: string | null;
  power_state: string | null;
  target_power_state: string | null;
  provision_state: string;
  target_provision_state: string | null;
  provision_updated_at: string | null;
  reservation: string | null;
  /** JSON {kind, event, started_at, ...}: the conductor operation in flight, for restart recovery. */
  operation: string | null;
  resource_class: string | null;
  owner: string | null;
  lessee: string | null;
  protected: number;
  protected_reason: string | null;
  retired: number;
  retired_reason: string | null;
  boot_interface: string;
  deploy_interface: string;
  inspect_interface: string;
  management_interface: string;
  power_interface: string;
  automated_clean: number | null;
  description: string | null;
  allocation_uuid: string | null;
  boot_mode: string | null;
  clean_step: string;
  deploy_step: string;
  network_data: string;
  inspection_started_at: string | null;
  inspection_finished_at: string | null;
  /** The chassis the node is in (migration 0002): checked to exist by the API, not by a foreign key. */
  chassis_uuid: string | null;
  /** JSON: the RAID layout asked for with PUT /states/raid (0005), null = {}. Applied by a raid interface later. */
  target_raid_config?: string | null;
  /** 1 when the console was enabled with PUT /states/console (0005). */
  console_enabled?: number;
  /** The optional interfaces a hardware type may offer (0005); null = the FIXED_INTERFACES no-op name. */
  bios_interface?: string | null;
  console_interface?: string | null;
  raid_interface?: string | null;
  vendor_interface?: string | null;
  created_at: string;
  updated_at: string | null;
}

export interface ChassisRow {
  uuid: string;
  description: string | null;
  extra: string;
  created_at: string;
  updated_at: string | null;
}

export interface PortRow {
  uuid: string;
  address: string;
  node_uuid: string;
  extra: string;
  local_link_connection: string;
  pxe_enabled: number;
  physical_network: string | null;
  internal_info: string;
  is_smartnic: number;
  /** The port group the port is a member of (same node), or null (0003_portgroups). */
  portgroup_uuid: string | null;
  created_at: string;
  updated_at: string | null;
}

/** A port group (bond) of a node's ports: Ironic's portgroups (0003_portgroups). */
export interface PortgroupRow {
  uuid: string;
  name: string | null;
  address: string | null;
  node_uuid: string;
  standalone_ports_supported: number;
  mode: string | null;
  properties: string;
  extra: string;
  internal_info: string;
  created_at: string;
  updated_at: string | null;
}

/** A deploy template: a CUSTOM_ trait name and the deploy steps it stands for (stored only: issue 14 applies them). */
export interface DeployTemplateRow {
  uuid: string;
  name: string;
  /** JSON [{interface, step, args, priority}], in the order given. */
  steps: string;
  extra: string;
  created_at: string;
  updated_at: string | null;
}

/** How a node reaches remote storage (0004_volume): one (type, connector_id) in the whole cloud. */
export interface VolumeConnectorRow {
  uuid: string;
  node_uuid: string;
  /** iqn, ip, mac, wwnn, wwpn or portname. */
  type: string;
  connector_id: string;
  extra: string;
  created_at: string;
  updated_at: string | null;
}

/** A volume a node boots from or attaches (0004_volume): one per (node, boot_index). Stored only. */
export interface VolumeTargetRow {
  uuid: string;
  node_uuid: string;
  volume_type: string;
  volume_id: string;
  boot_index: number;
  properties: string;
  extra: string;
  created_at: string;
  updated_at: string | null;
}

export interface AllocationRow {
  uuid: string;
  name: string | null;
  state: string;
  owner: string | null;
  node_uuid: string | null;
  last_error: string | null;
  resource_class: string | null;
  traits: string;
  candidate_nodes: string;
  extra: string;
  created_at: string;
  updated_at: string | null;
}

export interface HistoryRow {
  uuid: string;
  node_uuid: string;
  event: string;
  event_type: string;
  severity: string;
  user: string | null;
  conductor: string | null;
  created_at: string;
}

export interface BaremetalDB {
  baremetal_nodes: NodeRow;
  baremetal_ports: PortRow;
  baremetal_allocations: AllocationRow;
  baremetal_node_history: HistoryRow;
  baremetal_chassis: ChassisRow;
  baremetal_portgroups: PortgroupRow;
  baremetal_deploy_templates: DeployTemplateRow;
  baremetal_volume_connectors: VolumeConnectorRow;
  baremetal_volume_targets: VolumeTargetRow;
}

export type BaremetalKysely = Kysely<BaremetalDB>;

export function typed(db: AnyDB): BaremetalKysely {
  return db as unknown as BaremetalKysely;
}

export const migrations: readonly ServiceMigration[] = [
  {
    name: '0001_nodes_ports_allocations',
    async up(db) {
      await db.schema
        .createTable('baremetal_nodes')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.unique())
        .addColumn('driver', 'text', (c) => c.notNull())
        .addColumn('driver_info', 'text', (c) => c.notNull())
        .addColumn('driver_internal_info', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('instance_info', 'text', (c) => c.notNull())
        .addColumn('instance_uuid', 'text', (c) => c.unique())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('traits', 'text', (c) => c.notNull())
        .addColumn('conductor_group', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('maintenance', 'integer', (c) => c.notNull())
        .addColumn('maintenance_reason', 'text')
        .addColumn('fault', 'text')
        .addColumn('power_state', 'text')
        .addColumn('target_power_state', 'text')
        .addColumn('provision_state', 'text', (c) => c.notNull())
        .addColumn('target_provision_state', 'text')
        .addColumn('provision_updated_at', 'text')
        .addColumn('reservation', 'text')
        .addColumn('operation', 'text')
        .addColumn('resource_class', 'text')
        .addColumn('owner', 'text')
        .addColumn('lessee', 'text')
        .addColumn('protected', 'integer', (c) => c.notNull())
        .addColumn('protected_reason', 'text')
        .addColumn('retired', 'integer', (c) => c.notNull())
        .addColumn('retired_reason', 'text')
        .addColumn('boot_interface', 'text', (c) => c.notNull())
        .addColumn('deploy_interface', 'text', (c) => c.notNull())
        .addColumn('inspect_interface', 'text', (c) => c.notNull())
        .addColumn('management_interface', 'text', (c) => c.notNull())
        .addColumn('power_interface', 'text', (c) => c.notNull())
        .addColumn('automated_clean', 'integer')
        .addColumn('description', 'text')
        .addColumn('allocation_uuid', 'text')
        .addColumn('boot_mode', 'text')
        .addColumn('clean_step', 'text', (c) => c.notNull())
        .addColumn('deploy_step', 'text', (c) => c.notNull())
        .addColumn('network_data', 'text', (c) => c.notNull())
        .addColumn('inspection_started_at', 'text')
        .addColumn('inspection_finished_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('baremetal_nodes_state').on('baremetal_nodes').column('provision_state').execute();
      await db.schema.createIndex('baremetal_nodes_created').on('baremetal_nodes').columns(['created_at', 'uuid']).execute();

      await db.schema
        .createTable('baremetal_ports')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull().unique())
        .addColumn('node_uuid', 'text', (c) => c.notNull().references('baremetal_nodes.uuid').onDelete('cascade'))
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('local_link_connection', 'text', (c) => c.notNull())
        .addColumn('pxe_enabled', 'integer', (c) => c.notNull())
        .addColumn('physical_network', 'text')
        .addColumn('internal_info', 'text', (c) => c.notNull())
        .addColumn('is_smartnic', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('baremetal_ports_node').on('baremetal_ports').column('node_uuid').execute();

      await db.schema
        .createTable('baremetal_allocations')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.unique())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('node_uuid', 'text')
        .addColumn('last_error', 'text')
        .addColumn('resource_class', 'text')
        .addColumn('traits', 'text', (c) => c.notNull())
        .addColumn('candidate_nodes', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();

      await db.schema
        .createTable('baremetal_node_history')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('node_uuid', 'text', (c) => c.notNull().references('baremetal_nodes.uuid').onDelete('cascade'))
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('user', 'text')
        .addColumn('conductor', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('baremetal_history_node').on('baremetal_node_history').columns(['node_uuid', 'created_at']).execute();
    },
  },
  {
    // Chassis group nodes (Ironic API 1.0). The node column is added without a foreign key
    // (SQLite cannot add one to an existing table); the API checks the chassis on every write
    // and refuses to delete a chassis that still has nodes.
    name: '0002_chassis',
    async up(db) {
      await db.schema
        .createTable('baremetal_chassis')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text')
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('baremetal_chassis_created').on('baremetal_chassis').columns(['created_at', 'uuid']).execute();
      await db.schema.alterTable('baremetal_nodes').addColumn('chassis_uuid', 'text').execute();
      await db.schema.createIndex('baremetal_nodes_chassis').on('baremetal_nodes').column('chassis_uuid').execute();
    },
  },
  {
    name: '0003_portgroups',
    async up(db) {
      await db.schema
        .createTable('baremetal_portgroups')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.unique())
        .addColumn('address', 'text', (c) => c.unique())
        .addColumn('node_uuid', 'text', (c) => c.notNull().references('baremetal_nodes.uuid').onDelete('cascade'))
        .addColumn('standalone_ports_supported', 'integer', (c) => c.notNull())
        .addColumn('mode', 'text')
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('internal_info', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('baremetal_portgroups_node').on('baremetal_portgroups').column('node_uuid').execute();
      // No foreign key: SQLite cannot add one to an existing table, and the API keeps it true
      // (same node on set, delete refused while ports are members, node delete removes both).
      await db.schema.alterTable('baremetal_ports').addColumn('portgroup_uuid', 'text').execute();
      await db.schema.createIndex('baremetal_ports_portgroup').on('baremetal_ports').column('portgroup_uuid').execute();

      await db.schema
        .createTable('baremetal_deploy_templates')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
    },
  },
  {
    // Volume connectors and targets (Ironic API 1.32): records only, there is no block-storage
    // service to attach them (docs/baremetal.md). Deleting a node deletes its records.
    name: '0004_volume',
    async up(db) {
      await db.schema
        .createTable('baremetal_volume_connectors')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('node_uuid', 'text', (c) => c.notNull().references('baremetal_nodes.uuid').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('connector_id', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .addUniqueConstraint('baremetal_volume_connectors_type_id', ['type', 'connector_id'])
        .execute();
      await db.schema.createIndex('baremetal_volume_connectors_node').on('baremetal_volume_connectors').column('node_uuid').execute();
      await db.schema
        .createTable('baremetal_volume_targets')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('node_uuid', 'text', (c) => c.notNull().references('baremetal_nodes.uuid').onDelete('cascade'))
        .addColumn('volume_type', 'text', (c) => c.notNull())
        .addColumn('volume_id', 'text', (c) => c.notNull())
        .addColumn('boot_index', 'integer', (c) => c.notNull())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .addUniqueConstraint('baremetal_volume_targets_node_boot_index', ['node_uuid', 'boot_index'])
        .execute();
    },
  },
  {
    // Target RAID layout and console state (PUT /states/raid, /states/console), and the optional
    // interfaces fake-hardware lets a node choose ("fake" console/raid/vendor/bios).
    name: '0005_node_raid_console',
    async up(db) {
      const t = 'baremetal_nodes';
      await db.schema.alterTable(t).addColumn('target_raid_config', 'text').execute();
      await db.schema.alterTable(t).addColumn('console_enabled', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      for (const kind of ['bios', 'console', 'raid', 'vendor']) {
        await db.schema.alterTable(t).addColumn(`${kind}_interface`, 'text').execute();
      }
    },
  },
];
