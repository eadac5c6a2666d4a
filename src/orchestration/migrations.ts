// Orchestration tables. JSON columns are text; timestamps ISO text (portable SQLite/PostgreSQL).
import type { ServiceMigration } from '../common/db.js';

export interface StackTable {
  id: string;
  name: string;
  project_id: string;
  owner_id: string | null;
  owner_resource: string | null;
  /** The user who created the (top-level) stack; nested stacks carry their parent's. Null for stacks made before it was kept. */
  user_id: string | null;
  action: string;
  status: string;
  status_reason: string;
  template: string;
  template_file: string;
  files: string;
  environment: string;
  params: string;
  prev: string | null;
  disable_rollback: number;
  timeout_mins: number | null;
  tags: string;
  batch: string | null;
  created_at: string;
  updated_at: string | null;
  deleted_at: string | null;
}

export interface ResourceTable {
  id: string;
  stack_id: string;
  name: string;
  type: string;
  action: string;
  status: string;
  status_reason: string;
  physical_id: string | null;
  properties: string;
  data: string;
  metadata: string;
  requires: string;
  created_at: string;
  updated_at: string | null;
}

export interface EventTable {
  id: string;
  seq: number;
  stack_id: string;
  resource_name: string;
  physical_id: string | null;
  resource_type: string;
  action: string;
  status: string;
  reason: string;
  created_at: string;
}

export interface SoftwareConfigTable {
  id: string;
  project_id: string;
  name: string;
  group_name: string;
  config: string;
  inputs: string;
  outputs: string;
  options: string;
  created_at: string;
}

export interface SoftwareDeploymentTable {
  id: string;
  project_id: string;
  config_id: string;
  server_id: string;
  action: string;
  status: string;
  status_reason: string;
  input_values: string;
  output_values: string;
  stack_id: string | null;
  resource_name: string | null;
  created_at: string;
  updated_at: string | null;
}

export interface OrchestrationDB {
  orchestration_stacks: StackTable;
  orchestration_resources: ResourceTable;
  orchestration_events: EventTable;
  orchestration_software_configs: SoftwareConfigTable;
  orchestration_software_deployments: SoftwareDeploymentTable;
}

export const migrations: ServiceMigration[] = [
  {
    name: '0001_stacks',
    async up(db) {
      await db.schema
        .createTable('orchestration_stacks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text')
        .addColumn('owner_resource', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('template_file', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('prev', 'text')
        .addColumn('disable_rollback', 'integer', (c) => c.notNull())
        .addColumn('timeout_mins', 'integer')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('batch', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .addColumn('deleted_at', 'text')
        .execute();
      await db.schema.createIndex('orchestration_stacks_name').on('orchestration_stacks').columns(['project_id', 'name']).execute();
      await db.schema.createIndex('orchestration_stacks_owner').on('orchestration_stacks').column('owner_id').execute();
      await db.schema
        .createTable('orchestration_resources')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('stack_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('physical_id', 'text')
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('requires', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('orchestration_resources_stack').on('orchestration_resources').columns(['stack_id', 'name']).unique().execute();
      await db.schema.createIndex('orchestration_resources_physical').on('orchestration_resources').column('physical_id').execute();
      await db.schema
        .createTable('orchestration_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('stack_id', 'text', (c) => c.notNull())
        .addColumn('resource_name', 'text', (c) => c.notNull())
        .addColumn('physical_id', 'text')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('orchestration_events_stack').on('orchestration_events').columns(['stack_id', 'seq']).execute();
      await db.schema
        .createTable('orchestration_software_configs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('group_name', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('inputs', 'text', (c) => c.notNull())
        .addColumn('outputs', 'text', (c) => c.notNull())
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('orchestration_software_deployments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('config_id', 'text', (c) => c.notNull())
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('input_values', 'text', (c) => c.notNull())
        .addColumn('output_values', 'text', (c) => c.notNull())
        .addColumn('stack_id', 'text')
        .addColumn('resource_name', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .execute();
      await db.schema.createIndex('orchestration_deployments_server').on('orchestration_software_deployments').column('server_id').execute();
    },
  },
  {
    // Servers act for the stack's user where the user matters (their key pairs, as Heat's trust does).
    name: '0002_stack_user',
    async up(db) {
      await db.schema.alterTable('orchestration_stacks').addColumn('user_id', 'text').execute();
    },
  },
];
