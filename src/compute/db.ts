// Tables of the compute service (portable types: JSON as text, booleans 0/1, ISO timestamps).
// A server row is the whole record of a server, including where its lifecycle stands
// (vm_state/task_state, attempts, hosts tried), so a restarted seed's lifecycle loop carries on.
import type { Kysely } from 'kysely';
import type { AnyDB, ServiceMigration } from '../common/db.js';

export interface FlavorRow {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  rxtx_factor: number;
  is_public: number;
  description: string | null;
  extra_specs: string;
  created_at: string;
}

export interface FlavorAccessRow {
  flavor_id: string;
  project_id: string;
}

export interface KeypairRow {
  user_id: string;
  name: string;
  type: string;
  public_key: string;
  fingerprint: string;
  created_at: string;
}

export interface ServerRow {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  image_id: string;
  flavor_id: string;
  /** Snapshot of the flavor at create time (Nova's embedded flavor): survives the flavor's deletion. */
  flavor: string;
  /** The flavor's vcpus and ram, as columns so that quota usage is one SUM. */
  vcpus: number;
  ram: number;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  config_drive: number;
  /**
   * Extra top-level meta_data.json keys from trusted in-process callers (orchestration's
   * `os-collect-config` section for the machine); never from the API. JSON object.
   */
  instance_meta: string;
  metadata: string;
  description: string | null;
  /** The request's networks (JSON): "none" | "auto" | [{uuid|port|fixed_ip}]. */
  networks: string;
  /** Port ids this server uses (JSON [{id, created}]): created ones are deleted with the server. */
  ports: string;
  /** Cached addresses view (JSON {network: [{addr, version, mac, type}]}). */
  addresses: string;
  group_id: string | null;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  /** Hypervisor hostname (bare metal: the node uuid) once claimed. */
  host: string | null;
  /** Hosts of failed attempts (JSON), excluded when rescheduling. */
  tried_hosts: string;
  attempts: number;
  /** A host whose claim must still be released (teardown after a failure), polled by the loop. */
  releasing: number;
  fault: string | null;
  launched_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ServerGroupRow {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  rules: string;
  created_at: string;
}

export interface QuotaRow {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface InstanceActionRow {
  id: string;
  server_id: string;
  action: string;
  request_id: string;
  user_id: string | null;
  project_id: string;
  start_time: string;
  message: string | null;
  /** JSON [{event, start_time, finish_time, result, traceback, host}] */
  events: string;
}

export interface ComputeDB {
  compute_flavors: FlavorRow;
  compute_flavor_access: FlavorAccessRow;
  compute_keypairs: KeypairRow;
  compute_servers: ServerRow;
  compute_server_groups: ServerGroupRow;
  compute_quotas: QuotaRow;
  compute_instance_actions: InstanceActionRow;
}

export type ComputeKysely = Kysely<ComputeDB>;

export function typed(db: AnyDB): ComputeKysely {
  return db as unknown as ComputeKysely;
}

export const computeMigrations: readonly ServiceMigration[] = [
  {
    name: '0001_compute',
    async up(db) {
      await db.schema
        .createTable('compute_flavors')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('ram', 'integer', (c) => c.notNull())
        .addColumn('disk', 'integer', (c) => c.notNull())
        .addColumn('ephemeral', 'integer', (c) => c.notNull())
        .addColumn('swap', 'integer', (c) => c.notNull())
        .addColumn('rxtx_factor', 'real', (c) => c.notNull())
        .addColumn('is_public', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('extra_specs', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('compute_flavor_access')
        .addColumn('flavor_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('compute_flavor_access_pk', ['flavor_id', 'project_id'])
        .execute();
      await db.schema
        .createTable('compute_keypairs')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('compute_keypairs_pk', ['user_id', 'name'])
        .execute();
      await db.schema
        .createTable('compute_servers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text', (c) => c.notNull())
        .addColumn('flavor_id', 'text', (c) => c.notNull())
        .addColumn('flavor', 'text', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('ram', 'integer', (c) => c.notNull())
        .addColumn('key_name', 'text')
        .addColumn('key_data', 'text')
        .addColumn('user_data', 'text')
        .addColumn('config_drive', 'integer', (c) => c.notNull())
        .addColumn('instance_meta', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('networks', 'text', (c) => c.notNull())
        .addColumn('ports', 'text', (c) => c.notNull())
        .addColumn('addresses', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text')
        .addColumn('vm_state', 'text', (c) => c.notNull())
        .addColumn('task_state', 'text')
        .addColumn('power_state', 'integer', (c) => c.notNull())
        .addColumn('host', 'text')
        .addColumn('tried_hosts', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('releasing', 'integer', (c) => c.notNull())
        .addColumn('fault', 'text')
        .addColumn('launched_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('compute_servers_project').on('compute_servers').columns(['project_id', 'created_at']).execute();
      await db.schema.createIndex('compute_servers_task').on('compute_servers').column('task_state').execute();
      await db.schema.createIndex('compute_servers_group').on('compute_servers').column('group_id').execute();
      await db.schema
        .createTable('compute_server_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('compute_quotas')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('compute_quotas_pk', ['project_id', 'resource'])
        .execute();
      await db.schema
        .createTable('compute_instance_actions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('start_time', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('events', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('compute_instance_actions_server').on('compute_instance_actions').column('server_id').execute();
    },
  },
];
