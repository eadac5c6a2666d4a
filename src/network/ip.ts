// IPv4 arithmetic for subnets and allocation pools. Addresses are handled as unsigned 32-bit
// integers (plain numbers, never bitwise results, which JavaScript makes signed), so a pool is a
// pair of numbers and "the next address" is +1. IPv6 is not supported yet (subnets refuse it).
import { NeutronError } from './errors.js';

export interface Cidr {
  /** The network address as an integer. */
  network: number;
  prefix: number;
  /** The broadcast address (last of the block) as an integer. */
  broadcast: number;
}

export interface Range {
  start: number;
  end: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(text: string): boolean {
  const m = DOTTED.exec(text);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0')));
}

/** "10.0.0.1" → 167772161, or a 400 naming `field`. */
export function ipToInt(text: string, field: string): number {
  if (typeof text !== 'string' || !isIpv4(text)) {
    if (typeof text === 'string' && text.includes(':')) throw invalid(field, `'${text}' is an IPv6 address; only IPv4 is supported`);
    throw invalid(field, `'${String(text)}' is not a valid IPv4 address`);
  }
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return ((a * 256 + b) * 256 + c) * 256 + d;
}

export function intToIp(n: number): string {
  return [Math.floor(n / 2 ** 24) % 256, Math.floor(n / 2 ** 16) % 256, Math.floor(n / 256) % 256, n % 256].join('.');
}

/** "10.0.0.0/24" → its block; host bits set (10.0.0.5/24) are refused, as Neutron does. */
export function parseCidr(text: string, field: string): Cidr {
  if (typeof text !== 'string') throw invalid(field, `'${String(text)}' is not a valid CIDR`);
  const [addr, len, extra] = text.split('/');
  if (addr !== undefined && addr.includes(':')) throw invalid(field, `'${text}' is an IPv6 subnet; only IPv4 subnets are supported`);
  if (extra !== undefined || len === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32 || !isIpv4(addr ?? '')) {
    throw invalid(field, `'${text}' is not a valid IPv4 CIDR (a.b.c.d/n)`);
  }
  const prefix = Number(len);
  const size = 2 ** (32 - prefix);
  const ip = ipToInt(addr!, field);
  const network = Math.floor(ip / size) * size;
  if (network !== ip) throw invalid(field, `'${text}' has host bits set; the network is ${intToIp(network)}/${prefix}`);
  return { network, prefix, broadcast: network + size - 1 };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefix}`;
}

/** The block of `ip` under a dotted netmask (255.255.255.0 → /24); undefined for a non-contiguous mask. */
export function cidrOf(ip: number, netmask: string): Cidr | undefined {
  const mask = ipToInt(netmask, 'netmask');
  const prefix = 32 - Math.log2(2 ** 32 - mask);
  if (!Number.isInteger(prefix)) return undefined;
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ip / size) * size;
  return { network, prefix, broadcast: network + size - 1 };
}

export function netmaskOf(prefix: number): string {
  return intToIp(2 ** 32 - 2 ** (32 - prefix));
}

export const contains = (c: Cidr, ip: number): boolean => ip >= c.network && ip <= c.broadcast;

/** Addresses a host may use: all but the network and broadcast addresses (/31 and /32 have no such reservation, RFC 3021). */
export function usable(c: Cidr): Range {
  return c.prefix >= 31 ? { start: c.network, end: c.broadcast } : { start: c.network + 1, end: c.broadcast - 1 };
}

export const overlaps = (a: Range, b: Range): boolean => a.start <= b.end && b.start <= a.end;

/** `ranges` minus one address, keeping order; empty pieces are dropped. */
export function without(ranges: readonly Range[], ip: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (ip < r.start || ip > r.end) out.push(r);
    else {
      if (ip > r.start) out.push({ start: r.start, end: ip - 1 });
      if (ip < r.end) out.push({ start: ip + 1, end: r.end });
    }
  }
  return out;
}

export const rangeSize = (r: Range): number => r.end - r.start + 1;

function invalid(field: string, reason: string): NeutronError {
  return NeutronError.invalidInput(field, reason);
}
