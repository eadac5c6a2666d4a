// Tables of the boot service: what a deploy in progress needs to survive a seed restart (a
// machine may be in its firmware, in iPXE or in the deploy ramdisk while the seed restarts).
// Secrets are stored only as SHA-256 digests: boot secrets, agent tokens, image download tokens.
// Portable column types (see common/db.ts): JSON and timestamps as text.
import type { Kysely } from 'kysely';
import type { AnyDB, ServiceMigration } from '../common/db.js';

export interface BootSecretRow {
  hash: string;
  node_id: string;
  expires_at: string;
  used_at: string | null;
}

/** A node expected to network-boot the deploy ramdisk (its secret is in boot_secrets, hashed). */
export interface BootPendingRow {
  node_id: string;
  /** JSON array of normalised MACs. */
  macs: string;
  firmware: string;
  expires_at: string;
  created_at: string;
  /** The one address the node's script and agent calls are accepted from (see BootManager's Binding); null until bound. */
  bound_ip: string | null;
  /** 'lease' (our dnsmasq ACKed it to the node's MAC) or 'first_fetch'. */
  bound_by: string | null;
  bound_at: string | null;
  /** When the script (with the secret) was first served. */
  script_at: string | null;
}

export interface BootSessionRow {
  node_id: string;
  token_hash: string;
  opened_at: string;
  /** Last heartbeat, command pull or result: the agent's last sign of life. */
  last_seen: string;
  /** Last time the agent reported a command in progress (lookup, command start/end, busy heartbeat). */
  last_activity: string;
}

export interface BootCommandRow {
  id: string;
  node_id: string;
  /** Queue order within the node. */
  seq: number;
  name: string;
  /** JSON; credentials (the image URL's download token) removed, see redactParams. */
  params: string;
  status: string;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: string | null;
  error: string | null;
  /** 1 when a seed restart happened while the command was queued or running. */
  interrupted: number;
}

export interface BootImageGrantRow {
  token_hash: string;
  node_id: string;
  image_id: string;
}

export interface BootDB {
  boot_secrets: BootSecretRow;
  boot_pending: BootPendingRow;
  boot_sessions: BootSessionRow;
  boot_commands: BootCommandRow;
  boot_image_grants: BootImageGrantRow;
}

export type BootKysely = Kysely<BootDB>;

export function typed(db: AnyDB): BootKysely {
  return db as BootKysely;
}

export const migrations: readonly ServiceMigration[] = [
  {
    name: '0001_deploy_state',
    async up(db) {
      await db.schema
        .createTable('boot_secrets')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
      await db.schema.createIndex('boot_secrets_node').on('boot_secrets').column('node_id').execute();
      await db.schema
        .createTable('boot_pending')
        .addColumn('node_id', 'text', (c) => c.primaryKey())
        .addColumn('macs', 'text', (c) => c.notNull())
        .addColumn('firmware', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('boot_sessions')
        .addColumn('node_id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text', (c) => c.notNull())
        .addColumn('last_activity', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('boot_commands')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('queued_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('interrupted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('boot_commands_node').on('boot_commands').columns(['node_id', 'seq']).execute();
      await db.schema
        .createTable('boot_image_grants')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('boot_image_grants_node').on('boot_image_grants').column('node_id').execute();
    },
    async down(db) {
      for (const t of ['boot_image_grants', 'boot_commands', 'boot_sessions', 'boot_pending', 'boot_secrets']) await db.schema.dropTable(t).execute();
    },
  },
  {
    // A restarted seed must keep refusing other addresses, and know the script was already served.
    name: '0002_boot_binding',
    async up(db) {
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      for (const c of ['bound_ip', 'bound_by', 'bound_at', 'script_at']) await db.schema.alterTable('boot_pending').addColumn(c, 'text').execute();
    },
    async down(db) {
      for (const c of ['bound_ip', 'bound_by', 'bound_at', 'script_at']) await db.schema.alterTable('boot_pending').dropColumn(c).execute();
    },
  },
];
