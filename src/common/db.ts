// The database: Kysely over SQLite (better-sqlite3, in the state directory; the seed's default)
// or PostgreSQL (when database.url is postgres://; the HA undercloud). Each service brings its
// own versioned migrations; they run at start in name order.
//
// To keep one set of queries for both engines, columns use portable types: JSON as text,
// timestamps as ISO-8601 text, booleans as integer 0/1, ids as text (UUIDs).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type Migration,
  type MigrationProvider,
  sql,
} from 'kysely';
import { BootstackError } from './errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDB = Kysely<any>;

export interface ServiceMigration {
  /** Sortable within the service, e.g. "0001_nodes". */
  name: string;
  up(db: AnyDB): Promise<void>;
  down?(db: AnyDB): Promise<void>;
}

export type DatabaseKind = 'sqlite' | 'postgres';

export interface Database {
  db: AnyDB;
  kind: DatabaseKind;
  close(): Promise<void>;
}

/** "sqlite:/path/db.sqlite", a bare path, or "postgres://user@host/db". */
export function openDatabase(url: string): Database {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const path = url.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL: readers never wait for the writer; NORMAL sync is durable across process crashes
  // (kill -9), which is what resumable operations need.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, kind: 'sqlite', close: () => db.destroy() };
}

/** Runs every service's migrations that have not run yet. Names are "<service>/<name>". */
export async function migrate(db: AnyDB, migrations: Record<string, readonly ServiceMigration[]>): Promise<string[]> {
  const all: Record<string, Migration> = {};
  for (const [service, list] of Object.entries(migrations)) {
    for (const m of list) {
      all[`${service}/${m.name}`] = { up: m.up, down: m.down };
    }
  }
  const provider: MigrationProvider = { getMigrations: async () => all };
  // Services are added over time; a new service's first migration may sort before another
  // service's later one, which is fine because services do not share tables.
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new BootstackError(500, 'migration_failed', `database migration ${failed ?? ''} failed: ${(error as Error).message}`, {
      cause: error,
      fields: { migration: failed },
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Current time as the ISO text we store. */
export function now(): string {
  return new Date().toISOString();
}

/** JSON column helpers (text in both engines). */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}
export function fromJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

export { sql };
