// The provisioning network (ctlplane) created at first start: what it is made of, derived from
// the `network.provisioning` settings and, when they leave the subnet out, from the boot
// service's dnsmasq settings.
//
// The rule for the allocation pool when none is configured (docs/network.md): dnsmasq's dynamic
// range (range_start..range_end) serves PXE, ramdisks and unknown machines and must never be
// handed to a port, so the pool is the larger of the two parts of the subnet's host addresses
// outside it — below range_start or above range_end; a tie goes to the part above — minus the
// gateway (which may split it into two pools). Reserved (fixed) addresses outside the dynamic
// range are served by dnsmasq as long as they are in the subnet of a dhcp-range (dnsmasq(8),
// --dhcp-host: "not constrained to be in the range given by the --dhcp-range option, but they
// must be in the same subnet as some valid dhcp-range"), which the checks below guarantee.
import { ConfigError } from '../common/errors.js';
import { run } from '../common/child-process.js';
import type { ProvisioningConfig } from './config.js';
import { NeutronError } from './errors.js';
import { cidrOf, contains, formatCidr, intToIp, ipToInt, overlaps, parseCidr, rangeSize, usable, without, type Cidr, type Range } from './ip.js';
import type { AllocationPool } from './views.js';

/** What the network service needs to know of the boot service's dnsmasq (boot.dnsmasq). */
export interface DnsmasqView {
  enabled: boolean;
  mode: 'dhcp' | 'proxy';
  interface: string;
  netns?: string;
  range_start?: string;
  range_end?: string;
  netmask: string;
}

export interface ProvisioningPlan {
  name: string;
  cidr: string;
  gateway: string | null;
  pools: AllocationPool[];
  dns_nameservers: string[];
  physical_network: string;
  mtu: number;
}

/** Reads the provisioning interface's IPv4 addresses (the seed's own address is the default gateway). */
export type InterfaceAddresses = (iface: string, netns: string | undefined) => Promise<string[]>;

export const ipAddresses: InterfaceAddresses = async (iface, netns) => {
  const args = [...(netns ? ['-n', netns] : []), '-4', '-o', 'addr', 'show', 'dev', iface];
  const r = await run('ip', args, { allowFailure: true, timeoutMs: 10_000 });
  return [...r.stdout.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
};

function configError(path: string, message: string): ConfigError {
  return new ConfigError(`${path}: ${message}`, { fields: { path } });
}

/** Refuses a config value the way a config error should read (NeutronError → ConfigError with the key). */
function parse<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof NeutronError) throw configError(path, err.message);
    throw err;
  }
}

/**
 * The plan for the provisioning network, or undefined when there is nothing to build it from
 * (no cidr configured, and dnsmasq not handing out addresses).
 */
export async function provisioningPlan(p: ProvisioningConfig, dnsmasq: DnsmasqView, addresses: InterfaceAddresses = ipAddresses): Promise<ProvisioningPlan | undefined> {
  const dhcp = dnsmasq.enabled && dnsmasq.mode === 'dhcp';
  let dynamic: Range | undefined;
  if (dhcp) {
    if (!dnsmasq.range_start || !dnsmasq.range_end) throw configError('boot.dnsmasq.range_start', 'range_start and range_end are required in dhcp mode');
    dynamic = { start: parse('boot.dnsmasq.range_start', () => ipToInt(dnsmasq.range_start!, 'range_start')), end: parse('boot.dnsmasq.range_end', () => ipToInt(dnsmasq.range_end!, 'range_end')) };
  }
  let cidr: Cidr;
  if (p.cidr) {
    cidr = parse('network.provisioning.cidr', () => parseCidr(p.cidr!, 'cidr'));
    if (dynamic && !(contains(cidr, dynamic.start) && contains(cidr, dynamic.end))) {
      // dnsmasq serves a reserved address only in the subnet of one of its dhcp-ranges.
      throw configError('network.provisioning.cidr', `${p.cidr} does not contain dnsmasq's range ${dnsmasq.range_start}-${dnsmasq.range_end} (boot.dnsmasq): reservations would not be served`);
    }
  } else if (dynamic) {
    const c = parse('boot.dnsmasq.netmask', () => cidrOf(dynamic.start, dnsmasq.netmask));
    if (!c) throw configError('boot.dnsmasq.netmask', `${dnsmasq.netmask} is not a contiguous netmask`);
    if (!contains(c, dynamic.end)) throw configError('boot.dnsmasq.range_end', `${dnsmasq.range_end} is not in ${formatCidr(c)} with range_start ${dnsmasq.range_start}`);
    cidr = c;
  } else {
    return undefined;
  }
  const cidrText = formatCidr(cidr);
  const host = usable(cidr);
  let gateway: number | null = null;
  if (p.gateway) {
    gateway = parse('network.provisioning.gateway', () => ipToInt(p.gateway!, 'gateway'));
    if (gateway < host.start || gateway > host.end) throw configError('network.provisioning.gateway', `${p.gateway} is not a host address of ${cidrText}`);
  } else if (dnsmasq.enabled) {
    // The seed's own address on the provisioning interface: dnsmasq names itself as the router.
    const own = (await addresses(dnsmasq.interface, dnsmasq.netns)).map((a) => ipToInt(a, 'interface')).find((a) => contains(cidr, a) && a >= host.start && a <= host.end);
    gateway = own ?? null;
  }
  if (gateway !== null && dynamic && gateway >= dynamic.start && gateway <= dynamic.end) {
    throw configError('network.provisioning.gateway', `${intToIp(gateway)} is inside dnsmasq's dynamic range ${dnsmasq.range_start}-${dnsmasq.range_end}`);
  }
  let pools: Range[];
  if (p.allocation_start || p.allocation_end) {
    if (!p.allocation_start || !p.allocation_end) throw configError('network.provisioning.allocation_start', 'allocation_start and allocation_end go together');
    const pool = { start: parse('network.provisioning.allocation_start', () => ipToInt(p.allocation_start!, 'allocation_start')), end: parse('network.provisioning.allocation_end', () => ipToInt(p.allocation_end!, 'allocation_end')) };
    if (pool.start > pool.end) throw configError('network.provisioning.allocation_end', `${p.allocation_end} is before allocation_start ${p.allocation_start}`);
    if (pool.start < host.start || pool.end > host.end) throw configError('network.provisioning.allocation_start', `${p.allocation_start}-${p.allocation_end} is not inside the host addresses of ${cidrText}`);
    if (dynamic && overlaps(pool, dynamic)) {
      throw configError('network.provisioning.allocation_start', `${p.allocation_start}-${p.allocation_end} overlaps dnsmasq's dynamic range ${dnsmasq.range_start}-${dnsmasq.range_end} (boot.dnsmasq)`);
    }
    if (gateway !== null && gateway >= pool.start && gateway <= pool.end) throw configError('network.provisioning.gateway', `${intToIp(gateway)} is inside the allocation pool`);
    pools = [pool];
  } else {
    let side: Range = host;
    if (dynamic) {
      const below: Range = { start: host.start, end: Math.min(dynamic.start - 1, host.end) };
      const above: Range = { start: Math.max(dynamic.end + 1, host.start), end: host.end };
      const size = (r: Range) => (r.end >= r.start ? rangeSize(r) - (gateway !== null && gateway >= r.start && gateway <= r.end ? 1 : 0) : 0);
      side = size(above) >= size(below) ? above : below;
      if (side.end < side.start) throw configError('boot.dnsmasq.range_start', `dnsmasq's range ${dnsmasq.range_start}-${dnsmasq.range_end} leaves no address of ${cidrText} for ports; set network.provisioning.allocation_start/allocation_end or shrink the range`);
    }
    pools = gateway === null ? [side] : without([side], gateway);
    if (!pools.length) throw configError('network.provisioning.allocation_start', `no address of ${cidrText} is left for ports`);
  }
  return {
    name: p.name,
    cidr: cidrText,
    gateway: gateway === null ? null : intToIp(gateway),
    pools: pools.map((r) => ({ start: intToIp(r.start), end: intToIp(r.end) })),
    dns_nameservers: p.dns_nameservers,
    physical_network: p.physical_network,
    mtu: p.mtu,
  };
}
