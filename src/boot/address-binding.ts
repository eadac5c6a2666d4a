// Ties a pending boot to one network address: the iPXE script (which carries the one-time boot
// secret) is served to that address only, and the agent's lookup, command calls and image
// download are accepted from it only. A secret or agent token read elsewhere (a serial console
// log, a second requester) is then no use from another machine. How the address is chosen and
// what stays trusted: docs/boot-deploy.md, "What is trusted on the provisioning network".

export interface Binding {
  ip: string;
  /**
   * 'lease': our dnsmasq ACKed this address to one of the node's MACs after the boot was armed;
   * 'first_fetch': the first address that fetched the script (ProxyDHCP or another DHCP server:
   * no lease of ours to go by; or the seed's own host, see scriptRefusal).
   */
  by: 'lease' | 'first_fetch';
  at: Date;
}

/** The caller of an in-process call (tests, tools): no network address, so never a request's. */
export const IN_PROCESS = 'in-process';

/** The address as dnsmasq writes it: an IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d. */
export function clientAddress(ip: string): string {
  return ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip);
}

/** dnsmasq's lease time (`45m`, `1h`, `3600`, `infinite`) in ms. */
export function leaseMs(leaseTime: string): number {
  if (leaseTime === 'infinite') return Infinity;
  const m = /^(\d+)([smhd]?)$/.exec(leaseTime);
  if (!m) throw new Error(`not a dnsmasq lease time: ${leaseTime}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit * 1000;
}

export interface LimitRefusal {
  limit: 'address' | 'global';
  /** The first refusal since this bucket last let a fetch through: worth one log line, not one per fetch. */
  first: boolean;
}

interface Bucket {
  tokens: number;
  at: number;
  refusing: boolean;
}

/**
 * Script fetches a minute, per source address and in total: token buckets that refill
 * continuously, so a burst of N passes and then one more every 60/N s. A legitimate machine
 * fetches its script once per boot; scanning MACs, or hammering one, is what this stops.
 */
export class FetchLimiter {
  private readonly byAddress = new Map<string, Bucket>();
  private readonly all: Bucket;

  constructor(
    private readonly perAddress: number,
    private readonly global: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.all = { tokens: global, at: clock(), refusing: false };
  }

  /** undefined: go ahead (a token of each bucket is used); otherwise which limit refused. */
  take(address: string): LimitRefusal | undefined {
    const now = this.clock();
    const mine = this.byAddress.get(address) ?? { tokens: this.perAddress, at: now, refusing: false };
    if (!refill(mine, this.perAddress, now)) return refuse(mine, 'address');
    if (!refill(this.all, this.global, now)) return refuse(this.all, 'global');
    mine.tokens--;
    this.all.tokens--;
    mine.refusing = this.all.refusing = false;
    // Stored only once it let a fetch through, so the map grows at most by the global rate.
    this.byAddress.set(address, mine);
    if (this.byAddress.size > 1024) {
      // A bucket that has refilled carries no state: forget it.
      for (const [k, b] of this.byAddress) if (b.tokens + ((now - b.at) * this.perAddress) / 60_000 >= this.perAddress) this.byAddress.delete(k);
    }
    return undefined;
  }
}

/** Adds what refilled since the bucket was last looked at; true when a whole token is there. */
function refill(b: Bucket, perMinute: number, now: number): boolean {
  b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
  b.at = now;
  return b.tokens >= 1;
}

function refuse(b: Bucket, limit: LimitRefusal['limit']): LimitRefusal {
  const first = !b.refusing;
  b.refusing = true;
  return { limit, first };
}
