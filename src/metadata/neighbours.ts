// The kernel's IPv4 neighbour table: which MAC the seed's host last saw using an address. A
// caller whose address our DHCP leased to one MAC but whose packets come from another is not the
// machine the lease names (someone took its address), and gets nothing.
import { readFile } from 'node:fs/promises';

/** `/proc/net/arp`: "IP address  HW type  Flags  HW address  Mask  Device". */
export function parseArpTable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [ip, , flags, mac] = line.trim().split(/\s+/);
    // Flags 0x0: an incomplete entry (resolution in progress or failed), which names no MAC.
    if (!ip || !mac || !flags || Number(flags) === 0) continue;
    out.set(ip, mac.toLowerCase());
  }
  return out;
}

export async function neighbourMac(ip: string, file = '/proc/net/arp'): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseArpTable(text).get(ip);
}
