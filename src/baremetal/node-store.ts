// Reading and writing node rows: lookup by uuid or name, the driver's view of a node, the
// compare-and-set update that takes a node's reservation (the lock every operation holds),
// and the node history.
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../common/errors.js';
import { fromJson, now } from '../common/db.js';
import type { BaremetalKysely, HistoryRow, NodeRow } from './db.js';
import type { DriverNode } from './drivers/interfaces.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export async function findNode(db: BaremetalKysely, ident: string): Promise<NodeRow> {
  const row = await db
    .selectFrom('baremetal_nodes')
    .selectAll()
    .where(isUuid(ident) ? 'uuid' : 'name', '=', isUuid(ident) ? ident.toLowerCase() : ident)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Node', ident);
  return row;
}

export function driverNode(row: NodeRow): DriverNode {
  return {
    uuid: row.uuid,
    name: row.name,
    driver_info: fromJson(row.driver_info, {}),
    properties: fromJson(row.properties, {}),
    instance_info: fromJson(row.instance_info, {}),
    power_state: row.power_state,
    boot_mode: row.boot_mode,
  };
}

export function lockedError(row: { uuid: string; reservation: string | null }): ConflictError {
  return new ConflictError(
    `Node ${row.uuid} is locked by host ${row.reservation ?? 'unknown'}, please retry after the current operation is completed.`,
    { fields: { node: row.uuid, reservation: row.reservation } },
  );
}

/**
 * Takes the node's reservation and applies `changes` in one conditional UPDATE, so two
 * requests (or two conductors) cannot both win. Fails with 409 when someone holds it or the
 * node left `expectedState` meanwhile.
 */
export async function reserve(
  db: BaremetalKysely,
  row: NodeRow,
  conductor: string,
  changes: Partial<NodeRow>,
): Promise<void> {
  const res = await db
    .updateTable('baremetal_nodes')
    .set({ ...changes, reservation: conductor, updated_at: now() })
    .where('uuid', '=', row.uuid)
    .where('reservation', 'is', null)
    .where('provision_state', '=', row.provision_state)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) {
    const fresh = await db.selectFrom('baremetal_nodes').select(['uuid', 'reservation', 'provision_state']).where('uuid', '=', row.uuid).executeTakeFirst();
    if (!fresh) throw new NotFoundError('Node', row.uuid);
    if (fresh.reservation) throw lockedError(fresh);
    throw new ConflictError(`Node ${row.uuid} moved to "${fresh.provision_state}" while the request was processed; retry.`);
  }
}

export type Severity = 'INFO' | 'WARNING' | 'ERROR';

let lastStamp = 0;
/**
 * History rows are listed by created_at: stamps from this process strictly increase, so events
 * recorded in the same millisecond (a command ending, the next starting) keep their order.
 */
function historyStamp(at?: Date): string {
  const ms = Math.max(at ? at.getTime() : Date.now(), lastStamp + 1);
  lastStamp = ms;
  return new Date(ms).toISOString();
}

export async function recordHistory(
  db: BaremetalKysely,
  nodeUuid: string,
  event: string,
  eventType: string,
  severity: Severity,
  user: string | null,
  conductor: string | null,
  at?: Date,
): Promise<void> {
  const row: HistoryRow = {
    uuid: randomUUID(),
    node_uuid: nodeUuid,
    event,
    event_type: eventType,
    severity,
    user,
    conductor,
    created_at: historyStamp(at),
  };
  await db.insertInto('baremetal_node_history').values(row).execute();
}
