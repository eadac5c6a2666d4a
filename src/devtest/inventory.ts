// What a cloud holds, as the openstack CLI lists it — nodes with their states, images with their
// checksums, servers, stacks — taken on the seed before the pivot and on the undercloud after it
// (and around the undercloud's own update), and compared: the same ids on both sides, each node
// in the state it was in, each image with the checksum it had.
import { BootstackError } from '../common/errors.js';
import type { CloudName, Clients } from './clients.js';

export interface Inventory {
  nodes: Array<{ uuid: string; name: string | null; provision_state: string; instance_uuid: string | null }>;
  images: Array<{ id: string; name: string; checksum: string | null }>;
  servers: Array<{ id: string; name: string; status: string }>;
  stacks: Array<{ id: string; name: string; status: string }>;
}

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export async function takeInventory(clients: Clients, cloud: CloudName, signal: AbortSignal): Promise<Inventory> {
  const list = (args: string[]) => clients.openstackJson<Row[]>(cloud, args, { signal, timeoutMs: 120_000 });
  const [nodes, images, servers, stacks] = [
    await list(['baremetal', 'node', 'list']),
    await list(['image', 'list', '--long']),
    await list(['server', 'list']),
    await list(['stack', 'list']),
  ];
  return {
    nodes: nodes.map((n) => ({ uuid: String(n.UUID), name: str(n.Name), provision_state: String(n['Provisioning State']), instance_uuid: str(n['Instance UUID']) })),
    images: images.map((i) => ({ id: String(i.ID), name: String(i.Name), checksum: str(i.Checksum) })),
    servers: servers.map((s) => ({ id: String(s.ID), name: String(s.Name), status: String(s.Status) })),
    stacks: stacks.map((s) => ({ id: String(s.ID), name: String(s['Stack Name']), status: String(s['Stack Status']) })),
  };
}

export function inventorySummary(inv: Inventory): string {
  return `${inv.nodes.length} nodes, ${inv.images.length} images, ${inv.servers.length} servers, ${inv.stacks.length} stacks`;
}

/**
 * What differs between two inventories, one sentence each (empty: the same records). Node states
 * must match; stack and server statuses may differ (an update changes them), their ids may not.
 */
export function compareInventories(before: Inventory, after: Inventory, names = { before: 'before', after: 'after' }): string[] {
  const out: string[] = [];
  const sameIds = (what: string, a: Array<{ id: string; name: string | null }>, b: Array<{ id: string; name: string | null }>) => {
    const bIds = new Set(b.map((x) => x.id));
    const aIds = new Set(a.map((x) => x.id));
    for (const x of a) if (!bIds.has(x.id)) out.push(`${what} ${x.name ?? x.id} (${x.id}) is in ${names.before} but not in ${names.after}`);
    for (const x of b) if (!aIds.has(x.id)) out.push(`${what} ${x.name ?? x.id} (${x.id}) is in ${names.after} but not in ${names.before}`);
  };
  const node = (n: Inventory['nodes'][number]) => ({ id: n.uuid, name: n.name });
  sameIds('node', before.nodes.map(node), after.nodes.map(node));
  sameIds('image', before.images, after.images);
  sameIds('server', before.servers, after.servers);
  sameIds('stack', before.stacks, after.stacks);
  const afterNodes = new Map(after.nodes.map((n) => [n.uuid, n]));
  for (const n of before.nodes) {
    const m = afterNodes.get(n.uuid);
    if (m && m.provision_state !== n.provision_state) out.push(`node ${n.name ?? n.uuid} is ${m.provision_state} in ${names.after}, was ${n.provision_state} in ${names.before}`);
    if (m && m.instance_uuid !== n.instance_uuid) out.push(`node ${n.name ?? n.uuid} has instance ${m.instance_uuid ?? 'none'} in ${names.after}, had ${n.instance_uuid ?? 'none'} in ${names.before}`);
  }
  const afterImages = new Map(after.images.map((i) => [i.id, i]));
  for (const i of before.images) {
    const m = afterImages.get(i.id);
    if (m && m.checksum !== i.checksum) out.push(`image ${i.name} has checksum ${m.checksum ?? 'none'} in ${names.after}, had ${i.checksum ?? 'none'} in ${names.before}`);
  }
  return out;
}

/** Throws one error listing every difference, or returns quietly. */
export function requireSameRecords(before: Inventory, after: Inventory, names: { before: string; after: string }): void {
  const diff = compareInventories(before, after, names);
  if (diff.length) throw new BootstackError(500, 'records_differ', `${names.after} does not hold what ${names.before} held:\n  ${diff.join('\n  ')}`);
}
