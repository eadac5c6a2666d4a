// The provisioning network: a network namespace holding a bridge and the machines' tap devices,
// and a veth pair whose host end carries the seed's address. QEMU runs inside the namespace (it
// opens its tap there), so the host sees one interface only: the seed end of the veth.
// Nothing is routed off the machine: no NAT, no default route for the namespace, and IPv4/IPv6
// forwarding is switched off on the seed interface so packets from the machines stop at the seed.
import { writeFile } from 'node:fs/promises';
import { run } from '../common/child-process.js';
import { ConflictError } from '../common/errors.js';
import { ipToString, parseCidr, type LabRecord } from './spec.js';

export const BRIDGE = 'br-prov';
export const PEER = 'seed0';

export function networkNames(labId: string): { namespace: string; seedInterface: string } {
  return { namespace: `bsl-${labId}`, seedInterface: `bsl${labId}s` };
}

async function ip(args: string[], allowFailure = false) {
  return run('ip', args, { timeoutMs: 15000, allowFailure });
}

export async function namespaceExists(ns: string): Promise<boolean> {
  const r = await ip(['-j', 'netns', 'list'], true);
  if (r.code !== 0 || !r.stdout.trim()) return false;
  return (JSON.parse(r.stdout) as Array<{ name: string }>).some((n) => n.name === ns);
}

async function links(ns?: string): Promise<Array<{ ifname: string; master?: string; operstate?: string }>> {
  const r = await ip([...(ns ? ['-n', ns] : []), '-j', 'link', 'show'], true);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return JSON.parse(r.stdout) as Array<{ ifname: string }>;
}

export async function hostLinkExists(name: string): Promise<boolean> {
  return (await links()).some((l) => l.ifname === name);
}

interface AddrInfo {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

/** IPv4 networks already configured on the host, with the interface that has each. */
async function hostNetworks(): Promise<Array<{ ifname: string; network: number; prefix: number }>> {
  const r = await ip(['-j', '-4', 'addr', 'show'], true);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  const out: Array<{ ifname: string; network: number; prefix: number }> = [];
  for (const i of JSON.parse(r.stdout) as AddrInfo[]) {
    for (const a of i.addr_info ?? []) {
      if (a.family !== 'inet') continue;
      const n = a.local.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
      const size = 2 ** (32 - a.prefixlen);
      out.push({ ifname: i.ifname, network: n - (n % size), prefix: a.prefixlen });
    }
  }
  return out;
}

function overlaps(a: { network: number; prefix: number }, b: { network: number; prefix: number }): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const size = 2 ** (32 - p);
  return Math.floor(a.network / size) === Math.floor(b.network / size);
}

/**
 * The lab's network: the given CIDR (refused if another interface already has an address in it),
 * or the first free 10.213.N.0/24 starting from a number derived from the lab id.
 */
export async function chooseNetwork(
  labId: string,
  seedInterface: string,
  cidr: string | undefined,
): Promise<{ cidr: string; seedAddress: string; prefixLength: number }> {
  const used = (await hostNetworks()).filter((n) => n.ifname !== seedInterface);
  const make = (network: number, prefix: number) => ({
    cidr: `${ipToString(network)}/${prefix}`,
    seedAddress: ipToString(network + 1),
    prefixLength: prefix,
  });
  if (cidr) {
    const want = parseCidr(cidr);
    const clash = used.find((u) => overlaps(u, want));
    if (clash) {
      throw new ConflictError(`network ${cidr} overlaps an address already on interface ${clash.ifname}; choose another --cidr`, {
        fields: { cidr, interface: clash.ifname },
      });
    }
    return make(want.network, want.prefix);
  }
  const start = parseInt(labId.slice(0, 2), 16) || 0;
  for (let k = 0; k < 256; k++) {
    const n = (start + k) % 256;
    const candidate = { network: ((10 * 256 + 213) * 256 + n) * 256, prefix: 24 };
    if (!used.some((u) => overlaps(u, candidate))) return make(candidate.network, 24);
  }
  throw new ConflictError('no free 10.213.N.0/24 network on this host; pass --cidr');
}

/** The seed end's IPv6 unique-local address: a /64 of fd00:b007::/32 named by the lab id. */
export function seedIpv6(labId: string): string {
  const hex = labId.padStart(6, '0').slice(-6);
  // Written as `ip` prints it (no leading zeros), so an existing address is recognised.
  const group = (h: string) => parseInt(h, 16).toString(16);
  return `fd00:b007:${group(hex.slice(0, 2))}:${group(hex.slice(2))}::1`;
}

/** Creates whatever is missing of the namespace, bridge, veth pair, seed address and taps. */
export async function ensureNetwork(rec: LabRecord): Promise<void> {
  const net = rec.network;
  if (!(await namespaceExists(net.namespace))) await ip(['netns', 'add', net.namespace]);
  await ip(['-n', net.namespace, 'link', 'set', 'lo', 'up']);
  let nsLinks = await links(net.namespace);
  if (!nsLinks.some((l) => l.ifname === BRIDGE)) {
    // STP off and no forwarding delay: a freshly booted NIC's first DHCP request must get through.
    await ip(['-n', net.namespace, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  }
  await ip(['-n', net.namespace, 'link', 'set', BRIDGE, 'up']);
  if (!(await hostLinkExists(net.seedInterface))) {
    if (nsLinks.some((l) => l.ifname === PEER)) await ip(['-n', net.namespace, 'link', 'del', PEER], true);
    await ip(['link', 'add', net.seedInterface, 'type', 'veth', 'peer', 'name', PEER, 'netns', net.namespace]);
  }
  await ip(['-n', net.namespace, 'link', 'set', PEER, 'master', BRIDGE, 'up']);
  await setForwarding(net.seedInterface);
  const seedCidr = `${net.seedAddress}/${net.prefixLength}`;
  const addrs = await ip(['-j', '-4', 'addr', 'show', 'dev', net.seedInterface]);
  const has = (JSON.parse(addrs.stdout || '[]') as AddrInfo[]).some((i) =>
    (i.addr_info ?? []).some((a) => a.local === net.seedAddress && a.prefixlen === net.prefixLength),
  );
  if (!has) await ip(['addr', 'add', seedCidr, 'dev', net.seedInterface]);
  // An IPv6 prefix on the seed end lets the seed's dnsmasq send router advertisements: without
  // them iPXE waits ~13 s for IPv6 autoconfiguration on every network boot (LAB-NOTES).
  const ula = seedIpv6(rec.id);
  const v6 = await ip(['-j', '-6', 'addr', 'show', 'dev', net.seedInterface]);
  if (!(JSON.parse(v6.stdout || '[]') as AddrInfo[]).some((i) => (i.addr_info ?? []).some((a) => a.local === ula))) {
    await ip(['-6', 'addr', 'add', `${ula}/64`, 'dev', net.seedInterface, 'nodad']);
  }
  await ip(['link', 'set', net.seedInterface, 'up']);
  nsLinks = await links(net.namespace);
  for (const m of rec.machines) {
    if (!nsLinks.some((l) => l.ifname === m.tap)) await ip(['-n', net.namespace, 'tuntap', 'add', 'dev', m.tap, 'mode', 'tap']);
    await ip(['-n', net.namespace, 'link', 'set', m.tap, 'master', BRIDGE, 'up']);
  }
}

async function setForwarding(ifname: string): Promise<void> {
  // Per-interface switches: packets arriving from the lab on this interface are never forwarded,
  // whatever the host's global setting is (Docker and friends often turn it on).
  await writeFile(`/proc/sys/net/ipv4/conf/${ifname}/forwarding`, '0');
  await writeFile(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, '0').catch(() => undefined);
}

/** Removes a tap no longer wanted (machine removed from the lab). */
export async function removeTap(rec: LabRecord, tap: string): Promise<void> {
  await ip(['-n', rec.network.namespace, 'link', 'del', tap], true);
}

/** Deletes the namespace (with its bridge, taps and the veth peer) and the seed interface. */
export async function removeNetwork(net: LabRecord['network']): Promise<void> {
  if (await namespaceExists(net.namespace)) await ip(['netns', 'del', net.namespace]);
  // Deleting the namespace destroys the peer and therefore the pair, unless a process still
  // holds the namespace open; delete the host end explicitly so nothing is left either way.
  if (await hostLinkExists(net.seedInterface)) await ip(['link', 'del', net.seedInterface], true);
}
