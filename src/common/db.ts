// The database: Kysely over SQLite (better-sqlite3, in the state directory; the seed's default)
// or PostgreSQL (when database.url is postgres://; the HA undercloud). Each service brings its
// own versioned migrations; they run at start in name order.
//
// To keep one set of queries for both engines, columns use portable types: JSON as text,
// timestamps as ISO-8601 text, booleans as integer 0/1, ids as text (UUIDs).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
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
    // pg is loaded when the first query needs the pool: a SQLite seed never evaluates it (a
    // twentieth of start-up time, with the fetch implementation it pulls in).
    const pool = async () => new (await import('pg')).default.Pool({ connectionString: url, max: 10 });
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
  const db = new Kysely({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, kind: 'sqlite', close: () => db.destroy() };
}

/** Prepared statements kept per SQL text (Kysely prepares every query anew): bounded, oldest out. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver calls prepare() for every query; SQLite's parse and plan of the same
 * text each time was a tenth of an orchestration create. The same statement is reused instead,
 * except while it is still being iterated (a streamed select), when a fresh one serves the other
 * caller. SQLite re-prepares a cached statement itself if a migration changed the schema.
 */
export function withStatementCache(sqlite: SQLite.Database, size = STATEMENT_CACHE_SIZE): { prepare(sql: string): SQLite.Statement; close(): void; readonly cached: number } {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(sql: string) {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        // Most recently used last: Map keeps insertion order, so the first key is the oldest.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = sqlite.prepare(sql);
      if (!hit) {
        cache.set(sql, stmt);
        if (cache.size > size) cache.delete(cache.keys().next().value!);
      }
      return stmt;
    },
    close: () => {
      cache.clear();
      sqlite.close();
    },
    get cached() {
      return cache.size;
    },
  };
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
  // Names are ASCII: compared by code unit, not by Kysely's default localeCompare, whose first
  // call loads ICU's collation data (~10 ms of every start).
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true, nameComparator: (a, b) => (a < b ? -1 : a > b ? 1 : 0) });
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
/** A unique constraint refused the write (PostgreSQL's 23505, SQLite's message): the caller's 409. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(e?.message ?? '');
}

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
