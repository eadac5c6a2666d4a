// IP address management: which address of a subnet a port gets. The guarantee that an address
// is never handed out twice is the table's primary key (subnet_id, ip_address): every
// allocation is an INSERT ... ON CONFLICT DO NOTHING inside the caller's transaction, and an
// insert that took no row lost a race (or asked for a taken address). No lock is taken, so the
// same code is right on SQLite (one writer at a time anyway) and on PostgreSQL (READ COMMITTED:
// a concurrent uncommitted insert of the same key makes ours wait for its outcome, then do
// nothing, and we move on to the next free address).
//
// Cost of finding the lowest free address: the allocations of the pool are walked in address
// order on the (subnet_id, ip_int) index, CHUNK rows per query, until the first gap. Memory is one
// chunk whatever the subnet's size, and each query is one short turn of the event loop (about a
// millisecond for 512 rows on SQLite), so a request never holds the loop for long even in a full
// /16. The walk is linear in the number of allocated addresses below the first gap, so filling a
// subnet of n addresses costs O(n²/CHUNK) queries in total; remembering the lowest free address
// per subnet would make it amortised O(1), and is not done yet (docs/network.md "Limits").
import type { AnyDB } from '../common/db.js';
import { NeutronError } from './errors.js';
import { contains, intToIp, ipToInt, type Cidr, type Range } from './ip.js';

const CHUNK = 512;
/** Lost races tolerated for one address before giving up (only reachable under heavy contention). */
const MAX_RACES = 1000;

export interface IpamSubnet {
  id: string;
  network_id: string;
  cidr: Cidr;
  gateway: number | null;
  pools: Range[];
}

/** The lowest address of [from, to] with no allocation in the subnet, or undefined when all are taken. */
export async function lowestFree(db: AnyDB, subnetId: string, from: number, to: number): Promise<number | undefined> {
  let expected = from;
  for (;;) {
    if (expected > to) return undefined;
    const rows = await db
      .selectFrom('network_ip_allocations')
      .select('ip_int')
      .where('subnet_id', '=', subnetId)
      .where('ip_int', '>=', expected)
      .where('ip_int', '<=', to)
      .orderBy('ip_int')
      .limit(CHUNK)
      .execute();
    for (const r of rows) {
      const v = Number(r.ip_int); // PostgreSQL returns bigint as text
      if (v > expected) return expected;
      expected = v + 1;
    }
    if (rows.length < CHUNK) return expected <= to ? expected : undefined;
  }
}

/** Inserts one allocation; false when the address was already taken (by anyone, committed or racing). */
async function claim(db: AnyDB, subnet: IpamSubnet, portId: string, ip: number): Promise<boolean> {
  const inserted = await db
    .insertInto('network_ip_allocations')
    .values({ subnet_id: subnet.id, ip_address: intToIp(ip), ip_int: ip, port_id: portId, network_id: subnet.network_id })
    .onConflict((oc) => oc.doNothing())
    .returning('ip_address')
    .execute();
  return inserted.length === 1;
}

/**
 * Allocates `requested` (an address inside the CIDR, in or outside the pools, as Neutron allows)
 * or else the lowest free address of the pools, in pool order. `field` names the request field
 * for errors. Returns the address, or undefined for "no address free" when `orNothing` is set
 * (so a caller can try the next subnet).
 */
export async function allocate(db: AnyDB, subnet: IpamSubnet, portId: string, requested: string | undefined, field: string): Promise<string>;
export async function allocate(db: AnyDB, subnet: IpamSubnet, portId: string, requested: undefined, field: string, orNothing: true): Promise<string | undefined>;
export async function allocate(db: AnyDB, subnet: IpamSubnet, portId: string, requested: string | undefined, field: string, orNothing = false): Promise<string | undefined> {
  if (requested !== undefined) {
    const ip = ipToInt(requested, field);
    checkRequestable(subnet, ip, requested, field);
    if (!(await claim(db, subnet, portId, ip))) {
      throw NeutronError.conflict('IpAddressAlreadyAllocated', `IP address ${requested} already allocated in subnet ${subnet.id}.`, { path: field, ip_address: requested, subnet_id: subnet.id });
    }
    return requested;
  }
  let races = 0;
  for (const pool of subnet.pools) {
    let cursor = pool.start;
    for (;;) {
      const ip = await lowestFree(db, subnet.id, cursor, pool.end);
      if (ip === undefined) break;
      if (await claim(db, subnet, portId, ip)) return intToIp(ip);
      // Taken between our read and our insert by a concurrent transaction: try the next one.
      if (++races > MAX_RACES) break;
      cursor = ip + 1;
    }
  }
  if (orNothing) return undefined;
  throw NeutronError.conflict('IpAddressGenerationFailure', `No more IP addresses available for subnet ${subnet.id}.`, { subnet_id: subnet.id, network_id: subnet.network_id });
}

/** A fixed address must be a host address of the subnet and not its gateway. */
export function checkRequestable(subnet: IpamSubnet, ip: number, text: string, field: string): void {
  const c = subnet.cidr;
  if (!contains(c, ip)) throw NeutronError.invalidInput(field, `${text} is not in the CIDR of subnet ${subnet.id}`);
  if (c.prefix < 31 && (ip === c.network || ip === c.broadcast)) {
    throw NeutronError.invalidInput(field, `${text} is the ${ip === c.network ? 'network' : 'broadcast'} address of subnet ${subnet.id}`);
  }
  if (subnet.gateway === ip) throw NeutronError.invalidInput(field, `${text} is the gateway_ip of subnet ${subnet.id}`);
}
