// Turns dnsmasq's DHCP log lines into events for the boot timeline. With log-dhcp and
// log-facility=- dnsmasq writes lines such as
//   dnsmasq-dhcp[812]: 1754 DHCPDISCOVER(veth0) 52:54:00:12:34:56
//   dnsmasq-dhcp[812]: 1754 DHCPACK(veth0) 10.9.0.50 52:54:00:12:34:56 node-1
//   dnsmasq-dhcp[812]: 1754 DHCPDISCOVER(veth0) 52:54:00:aa:bb:cc ignored
//   dnsmasq-tftp[812]: sent /usr/lib/ipxe/undionly.kpxe to 10.9.0.50
export type DhcpMessage = 'DHCPDISCOVER' | 'DHCPOFFER' | 'DHCPREQUEST' | 'DHCPACK' | 'DHCPNAK' | 'DHCPRELEASE' | 'DHCPINFORM' | 'DHCPDECLINE' | 'PXE';

export interface DhcpEvent {
  kind: 'dhcp';
  message: DhcpMessage;
  /** dnsmasq's transaction number (log-dhcp): ties an ACK to the request it answers. */
  xid?: string;
  interface: string;
  mac: string;
  ip?: string;
  hostname?: string;
  /** dnsmasq did not answer (unknown MAC, or explained in `reason`). */
  ignored: boolean;
  reason?: string;
  at: Date;
}

export interface TftpEvent {
  kind: 'tftp';
  file: string;
  to: string;
  at: Date;
}

export type DnsmasqEvent = DhcpEvent | TftpEvent;

const DHCP = /dnsmasq-dhcp\[\d+\]: (?:(\d+) )?(DHCP[A-Z]+|PXE)\(([^)]+)\) (.*)$/;
const TFTP = /dnsmasq-tftp\[\d+\]: sent (\S+) to (\S+)/;
const MACRE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPRE = /^(\d{1,3}\.){3}\d{1,3}$/;

export function parseDnsmasqLine(line: string, at = new Date()): DnsmasqEvent | null {
  const t = TFTP.exec(line);
  if (t) return { kind: 'tftp', file: t[1]!, to: t[2]!, at };
  const m = DHCP.exec(line);
  if (!m) return null;
  const words = m[4]!.trim().split(/\s+/);
  let ip: string | undefined;
  let mac: string | undefined;
  const rest: string[] = [];
  for (const w of words) {
    if (!mac && MACRE.test(w)) mac = w.toLowerCase();
    else if (!ip && !mac && IPRE.test(w)) ip = w;
    else rest.push(w);
  }
  if (!mac) return null;
  const ignored = rest[0] === 'ignored' || rest.includes('ignored');
  const event: DhcpEvent = { kind: 'dhcp', message: m[2] as DhcpMessage, interface: m[3]!, mac, ignored, at };
  if (m[1]) event.xid = m[1];
  if (ip) event.ip = ip;
  if (ignored) {
    const why = rest.filter((w) => w !== 'ignored').join(' ');
    if (why) event.reason = why;
  } else if (rest.length && (event.message === 'DHCPACK' || event.message === 'DHCPOFFER') && /^[A-Za-z0-9-]+$/.test(rest[0]!)) {
    event.hostname = rest[0];
  } else if (rest.length) {
    event.reason = rest.join(' ');
  }
  return event;
}
