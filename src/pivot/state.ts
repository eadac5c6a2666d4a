// The pivot's own record on each side (one row, never moved): a source says it is handing over or
// has handed over, and to whom; a receiver says it received, from whom, and what. This row is how
// every record "says where it lives": on a source that handed over, all of them live at `peer_url`.
import type { AnyDB, ServiceMigration } from '../common/db.js';
import { fromJson, now, toJson } from '../common/db.js';

export type PivotStatus = 'handing_over' | 'handed_over' | 'received';

export interface PivotState {
  role: 'source' | 'receiver';
  pivot_id: string;
  status: PivotStatus;
  /** The receiver's URL (on a source) or the source's URL (on a receiver). */
  peer_url: string;
  /** Rows per moved table: what was handed over or received. */
  counts: Record<string, number>;
  /** Image bytes moved (receiver) or handed over (source). */
  bytes: number;
  started_at: string;
  finished_at: string | null;
}

export const pivotMigrations: ServiceMigration[] = [
  {
    name: '0001_pivot_state',
    async up(db: AnyDB) {
      await db.schema
        .createTable('pivot_state')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('pivot_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('peer_url', 'text', (c) => c.notNull())
        .addColumn('counts', 'text', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
    },
  },
];

const ROW_ID = 'self';

export async function readPivotState(db: AnyDB): Promise<PivotState | undefined> {
  const row = (await db.selectFrom('pivot_state').selectAll().where('id', '=', ROW_ID).executeTakeFirst()) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    role: row.role as PivotState['role'],
    pivot_id: String(row.pivot_id),
    status: row.status as PivotStatus,
    peer_url: String(row.peer_url),
    counts: fromJson(row.counts as string, {}),
    bytes: Number(row.bytes),
    started_at: String(row.started_at),
    finished_at: (row.finished_at as string | null) ?? null,
  };
}

export async function writePivotState(db: AnyDB, state: PivotState): Promise<void> {
  const values = { ...state, counts: toJson(state.counts), id: ROW_ID };
  await db
    .insertInto('pivot_state')
    .values(values)
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute();
}

export async function clearPivotState(db: AnyDB): Promise<void> {
  await db.deleteFrom('pivot_state').where('id', '=', ROW_ID).execute();
}

export { now };
