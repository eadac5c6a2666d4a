// Which tables a pivot moves, in an order that satisfies their foreign keys, and which it leaves
// behind. Every table in the database is in exactly one of the two lists (tables.test.ts checks
// it against a freshly migrated database), so a new migration cannot be forgotten silently.
import { sql } from 'kysely';
import type { AnyDB } from '../common/db.js';

/** Records the receiver takes over: ids, states, password hashes and secrets as they are. */
export const MOVED_TABLES = [
  'identity_domains',
  'identity_projects',
  'identity_users',
  'identity_roles',
  'identity_assignments',
  'identity_groups',
  'identity_group_members',
  'identity_group_assignments',
  'identity_role_implications',
  'identity_regions',
  'identity_services',
  'identity_endpoints',
  'identity_catalog_seeded',
  // Credential blobs move encrypted: the receiver needs the sender's <state_dir>/credential-key
  // (docs/pivot.md), or they do not decrypt there.
  'identity_credentials',
  'identity_policies',
  'identity_endpoint_groups',
  'identity_project_endpoint_groups',
  'identity_project_endpoints',
  'images_images',
  'images_members',
  'baremetal_chassis',
  'baremetal_nodes',
  'baremetal_portgroups',
  'baremetal_ports',
  'baremetal_volume_connectors',
  'baremetal_volume_targets',
  'baremetal_deploy_templates',
  'baremetal_allocations',
  'baremetal_node_history',
  'network_networks',
  'network_subnets',
  'network_ports',
  'network_ip_allocations',
  'compute_flavors',
  'compute_flavor_access',
  'compute_keypairs',
  'compute_server_groups',
  'compute_servers',
  'compute_quotas',
  'compute_instance_actions',
  'orchestration_stacks',
  'orchestration_resources',
  'orchestration_events',
  'orchestration_software_configs',
  'orchestration_software_deployments',
] as const;

/**
 * Left behind, with the reason: tokens and login failures belong to this server's sessions
 * (clients log in again at the receiver); boot_* is the state of deploys in progress, and a pivot
 * refuses to start while any is (see busy()); the migration bookkeeping and the pivot's own
 * state are each server's own.
 */
export const LOCAL_TABLES = [
  'identity_tokens',
  'identity_login_failures',
  'boot_secrets',
  'boot_pending',
  'boot_sessions',
  'boot_commands',
  'boot_image_grants',
  'kysely_migration',
  'kysely_migration_lock',
  'pivot_state',
] as const;

export type MovedTable = (typeof MOVED_TABLES)[number];
export type Row = Record<string, unknown>;

/** Every row of every moved table, in MOVED_TABLES order, rows in a stable order. */
export async function readMovedRows(db: AnyDB): Promise<Record<MovedTable, Row[]>> {
  const out = {} as Record<MovedTable, Row[]>;
  for (const table of MOVED_TABLES) {
    // The first column is the primary key or part of it in every moved table.
    out[table] = (await sql<Row>`select * from ${sql.table(table)}`.execute(db)).rows.sort(byJson);
  }
  return out;
}

function byJson(a: Row, b: Row): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Row counts per moved table. */
export async function countRows(db: AnyDB): Promise<Record<MovedTable, number>> {
  const out = {} as Record<MovedTable, number>;
  for (const table of MOVED_TABLES) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db);
    out[table] = Number(r.rows[0]?.n ?? 0);
  }
  return out;
}

/** Rows per insert statement: well under SQLite's 32,766 bound parameters for our widest table. */
const INSERT_BATCH = 100;

/** Inserts rows as they are (the caller holds the transaction). `afterTable` is a test hook. */
export async function insertMovedRows(trx: AnyDB, rows: Partial<Record<MovedTable, Row[]>>, afterTable?: (table: MovedTable) => void): Promise<void> {
  for (const table of MOVED_TABLES) {
    const list = rows[table] ?? [];
    for (let i = 0; i < list.length; i += INSERT_BATCH) {
      await trx.insertInto(table).values(list.slice(i, i + INSERT_BATCH)).execute();
    }
    afterTable?.(table);
  }
}

/** Every table in the database (SQLite or PostgreSQL), for the completeness check. */
export async function allTables(db: AnyDB): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.map((t) => t.name).sort();
}
