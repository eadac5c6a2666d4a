// What a lab is made of (the request of `lab up`) and what it records about itself (lab.json).
// Validation lives here so the CLI, the API and the tests refuse the same bad input the same way.
import { ValidationError } from '../common/errors.js';

export type Firmware = 'bios' | 'uefi';
export type AccelChoice = 'auto' | 'kvm' | 'tcg';
export type Accel = 'kvm' | 'tcg';

/** What the operator asks for; every field has a default. */
export interface LabRequest {
  nodes: number;
  memoryMiB: number;
  cpus: number;
  diskGiB: number;
  firmware: Firmware;
  accel: AccelChoice;
  /** Provisioning network, an IPv4 /24../30 private block; default: a free 10.213.N.0/24. */
  cidr?: string;
  /** Where the BMC listens; 127.0.0.1 unless you want machines or other hosts' tools to reach it. */
  bmcHost: string;
  /** 0 picks a free port (kept in lab.json so later `up`s reuse it). */
  bmcPort: number;
  bmcUser: string;
  namePrefix: string;
}

export const DEFAULT_REQUEST: LabRequest = {
  nodes: 2,
  memoryMiB: 1024,
  cpus: 1,
  diskGiB: 10,
  firmware: 'bios',
  accel: 'auto',
  bmcHost: '127.0.0.1',
  bmcPort: 8000,
  bmcUser: 'admin',
  namePrefix: 'lab-',
};

export interface MachineRecord {
  name: string;
  index: number;
  /** Redfish System Id (a UUID, also given to QEMU as the SMBIOS UUID). */
  systemId: string;
  mac: string;
  /** Tap device inside the lab's network namespace. */
  tap: string;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** lab.json: everything another part of Bootstack needs to use the lab. The BMC password is not here. */
export interface LabRecord {
  version: 1;
  id: string;
  createdAt: string;
  firmware: Firmware;
  accel: Accel;
  accelReason: string;
  network: {
    namespace: string;
    bridge: string;
    /** Host (seed) end of the veth pair: the seed's address lives on it, in the host namespace. */
    seedInterface: string;
    /** The other end, inside the namespace, enslaved to the bridge. */
    peerInterface: string;
    cidr: string;
    seedAddress: string;
    prefixLength: number;
  };
  bmc: { host: string; port: number; username: string; url: string; uuid: string };
  machines: MachineRecord[];
}

function int(value: unknown, field: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`, { path: field });
  }
  return n;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(`must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`, { path: field });
  }
  return value as T;
}

/** Parses "10.1.2.0/24" into its network address and prefix; refuses anything else. */
export function parseCidr(cidr: string): { network: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  const parts = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || parts.some((p) => p > 255) || prefix < 16 || prefix > 29) {
    throw new ValidationError(`must be an IPv4 network like 10.213.0.0/24 with a prefix from /16 to /29; got "${cidr}"`, {
      path: 'cidr',
    });
  }
  const addr = parts.reduce((acc, p) => acc * 256 + p, 0);
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  const [a, b] = parts as [number, number];
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  if (!isPrivate) {
    throw new ValidationError(`must be a private (RFC 1918) network so nothing can be mistaken for the outside; got "${cidr}"`, {
      path: 'cidr',
    });
  }
  return { network, prefix };
}

export function ipToString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Fills defaults and refuses bad values, naming the option. */
export function normalizeRequest(input: Partial<Record<keyof LabRequest, unknown>>): LabRequest {
  const r = { ...DEFAULT_REQUEST, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
  const out: LabRequest = {
    nodes: int(r.nodes, 'nodes', 1, 64),
    memoryMiB: int(r.memoryMiB, 'memory', 128, 1024 * 1024),
    cpus: int(r.cpus, 'cpus', 1, 64),
    diskGiB: int(r.diskGiB, 'disk', 1, 4096),
    firmware: oneOf(r.firmware, 'firmware', ['bios', 'uefi'] as const),
    accel: oneOf(r.accel, 'accel', ['auto', 'kvm', 'tcg'] as const),
    bmcHost: String(r.bmcHost),
    bmcPort: int(r.bmcPort, 'bmc-port', 0, 65535),
    bmcUser: String(r.bmcUser),
    namePrefix: String(r.namePrefix),
  };
  if (r.cidr !== undefined) {
    parseCidr(String(r.cidr));
    out.cidr = String(r.cidr);
  }
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(out.namePrefix)) {
    throw new ValidationError(`must be lower-case letters, digits and dashes; got "${out.namePrefix}"`, { path: 'name-prefix' });
  }
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(out.bmcUser)) {
    throw new ValidationError(`must be 1-32 letters, digits, dots, dashes or underscores`, { path: 'bmc-user' });
  }
  if (out.bmcHost !== 'seed' && !/^\d{1,3}(\.\d{1,3}){3}$/.test(out.bmcHost)) {
    throw new ValidationError(`must be an IPv4 address to bind (127.0.0.1 or the seed address) or "seed" (the lab's seed address, which the machines reach); got "${out.bmcHost}"`, {
      path: 'bmc-host',
    });
  }
  return out;
}

/** The MAC of machine `index` in lab `id`: QEMU's 52:54:00 prefix, two bytes of the lab id, the index. */
export function machineMac(labId: string, index: number): string {
  const hex = labId.padEnd(4, '0').slice(0, 4);
  return ['52', '54', '00', hex.slice(0, 2), hex.slice(2, 4), index.toString(16).padStart(2, '0')].join(':');
}
