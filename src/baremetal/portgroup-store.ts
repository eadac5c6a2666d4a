// Port group lookups shared by the port and port group routes: a group by UUID or name, and the
// rule for a port joining one (Ironic's): the same node, and one physical network per group.
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.js';
import type { BaremetalKysely, PortgroupRow } from './db.js';
import { isUuid } from './node-store.js';

export async function findPortgroup(db: BaremetalKysely, ident: string): Promise<PortgroupRow> {
  const row = await db
    .selectFrom('baremetal_portgroups')
    .selectAll()
    .where(isUuid(ident) ? 'uuid' : 'name', '=', isUuid(ident) ? ident.toLowerCase() : ident)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Portgroup', ident);
  return row;
}

/**
 * The group a port (`portUuid`, null when new) of `nodeUuid` on `physicalNetwork` may be a member
 * of: 400 naming portgroup_uuid when it is missing or on another node, 409 when its other members
 * are on another physical network.
 */
export async function memberGroup(
  db: BaremetalKysely,
  ident: string,
  port: { uuid: string | null; nodeUuid: string; physicalNetwork: string | null },
): Promise<PortgroupRow> {
  // By UUID or name: the CLI's --port-group passes what it was given.
  const pg = await findPortgroup(db, ident).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new BadRequestError(`portgroup_uuid: port group ${ident} could not be found`);
    throw err;
  });
  if (pg.node_uuid !== port.nodeUuid) {
    throw new BadRequestError(`portgroup_uuid: port group ${pg.uuid} belongs to node ${pg.node_uuid}, not to the port's node ${port.nodeUuid}`);
  }
  let others = db.selectFrom('baremetal_ports').select(['uuid', 'physical_network']).where('portgroup_uuid', '=', pg.uuid);
  if (port.uuid) others = others.where('uuid', '!=', port.uuid);
  const other = (await others.execute()).find((p) => p.physical_network !== port.physicalNetwork);
  if (other) {
    // A conflict with the group's other members, as Ironic's PortgroupPhysnetInconsistent (409).
    throw new ConflictError(
      `portgroup_uuid: the ports of port group ${pg.uuid} are on physical network ${JSON.stringify(other.physical_network)}; this port is on ${JSON.stringify(port.physicalNetwork)}`,
    );
  }
  return pg;
}
