// nic1, nic2... name the machine's NICs in order, as os-net-config does: physical interfaces
// (those with a device link in /sys/class/net) that are active (carrier or operstate up),
// on-board names (em*, eno*, eth*) before add-in cards, each group in natural order. A mapping
// file's interface_mapping (nicN: name or MAC) takes precedence. The sysfs root is injectable.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Nic {
  name: string;
  mac: string;
  active: boolean;
}

function read(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function listNics(sysClassNet = '/sys/class/net'): Nic[] {
  let names: string[];
  try {
    names = readdirSync(sysClassNet);
  } catch {
    return [];
  }
  return names
    .filter((n) => existsSync(join(sysClassNet, n, 'device')))
    .map((name) => ({
      name,
      mac: (read(join(sysClassNet, name, 'address')) ?? '').toLowerCase(),
      active: read(join(sysClassNet, name, 'carrier')) === '1' || read(join(sysClassNet, name, 'operstate')) === 'up',
    }));
}

const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const embedded = (n: string) => /^(em|eno|eth)\d/.test(n);

export function orderedActiveNics(nics: Nic[]): string[] {
  const active = nics.filter((n) => n.active).map((n) => n.name);
  return [...active.filter(embedded).sort(natural), ...active.filter((n) => !embedded(n)).sort(natural)];
}

/** nicN → real interface name. */
export function nicMapping(nics: Nic[], overrides: Record<string, string> = {}): Map<string, string> {
  const map = new Map<string, string>();
  orderedActiveNics(nics).forEach((n, i) => map.set(`nic${i + 1}`, n));
  for (const [alias, target] of Object.entries(overrides)) {
    const byMac = nics.find((n) => n.mac === target.toLowerCase());
    map.set(alias, byMac ? byMac.name : target);
  }
  return map;
}
