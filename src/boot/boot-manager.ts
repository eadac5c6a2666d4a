// Ties the boot pieces together for the conductor: which MACs dnsmasq answers (enrolled ports),
// which nodes are expected to network-boot (a pending boot with its one-time secret), the iPXE
// script each gets, and the agent's lookup that trades the secret for a per-deploy agent token.
// With a store, pending boots and image grants are in the database too (restore() reloads them),
// so a machine in its firmware, iPXE or the ramdisk during a seed restart carries on afterwards.
// Each pending boot is bound to one address (address-binding.ts): the script goes to it once, and
// the agent's calls are accepted from it only.
import { BootstackError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import { IN_PROCESS, isLoopback, type Binding } from './address-binding.js';
import { hashSecret, randomToken, type BootSecrets } from './boot-secrets.js';
import type { BootEventBus } from './boot-events.js';
import type { DeployCommands } from './deploy-commands.js';
import { normalizeMac, type DhcpHostsDir, type HostEntry } from './dhcp-hosts.js';
import { genericScript, nodeScript, type Firmware } from './ipxe-script.js';
import { checkRamdiskStages } from '../common/ramdisk-stages.js';
import type { StoredPendingBoot } from './deploy-store.js';
import { sleep } from '../common/sleep.js';

/** The durable half of pending boots and image grants (DbBootStore). */
export interface PendingBootStore {
  putPending(p: StoredPendingBoot): Promise<void>;
  loadPending(): Promise<StoredPendingBoot[]>;
  putBinding(nodeId: string, bound: Binding | undefined, scriptAt: Date | undefined): Promise<void>;
  putGrant(tokenHash: string, nodeId: string, imageId: string): Promise<void>;
  getGrant(tokenHash: string): Promise<{ nodeId: string; imageId: string } | undefined>;
  deleteNode(nodeId: string): Promise<void>;
}

export interface PrepareBootOptions {
  nodeId: string;
  /** The node's port MACs; the lookup must name one of them. */
  macs: string[];
  firmware: Firmware;
}

export interface BootManagerOptions {
  /** Absent when dnsmasq is not run by us (another DHCP server chains to our script). */
  hostsDir?: DhcpHostsDir;
  secrets: BootSecrets;
  commands: DeployCommands;
  events: BootEventBus;
  /** Base URL of the boot service as machines reach it, e.g. http://192.0.2.1:6385/boot. */
  baseUrl: () => string;
  kernel: string;
  ramdisk: string;
  kernelArgs: string;
  store?: PendingBootStore;
  /** A background store write failed (image grants and lease bindings are written behind the call). */
  onStoreError?: (err: unknown) => void;
  /**
   * Set when our dnsmasq hands out the provisioning addresses (dhcp mode): a pending boot is bound
   * to the address dnsmasq ACKs to one of its MACs after the boot is armed (leaseSeen), for the
   * lease's time. Unset (ProxyDHCP, no dnsmasq): the first address that fetches the script is bound.
   */
  leases?: { leaseMs: number };
  /** A fetch from the bound address this long after the first, before the lookup, gets the script again (default 120 s). */
  scriptRetryMs?: number;
}

interface PendingBoot extends PrepareBootOptions {
  expiresAt: Date;
  /** The plaintext secret; after a restart only its digest is known, and a new one is issued on the next script fetch. */
  secret?: Promise<string>;
  bound?: Binding;
  /** When the script was first served (later fetches are retries, or refused). */
  scriptAt?: Date;
  /** The address it was served to (in memory: after a restart the stored binding stands in). */
  servedTo?: string;
}

/** A script fetch that is not answered with the script: 403, the reason on the node's timeline. */
export class ScriptRefusedError extends BootstackError {
  constructor(code: string, from: string) {
    // The caller learns the code only: the bound address and the node stay on the timeline.
    super(403, 'script_refused', `The boot script is not served to ${from} (${code}).`, { fields: { reason: code } });
  }
}

/**
 * How long a fetch with no lease yet waits for one. dnsmasq logs its DHCPACK before sending it, but
 * a busy seed may read that line after the machine's request; a refused machine reboots and, with
 * a one-time PXE override, may boot its disk next.
 */
const LEASE_GRACE_MS = 2000;

/** What a MAC without a pending deploy gets: leave iPXE, so the firmware boots the next device. */
export const LOCAL_BOOT_SCRIPT = '#!ipxe\necho bootstack: no network boot is pending for ${net0/mac}; booting from disk\nexit\n';

export class BootManager {
  private readonly pending = new Map<string, PendingBoot>();
  private readonly byMac = new Map<string, string>();
  /** Image download grants: SHA-256 of the URL token → node and image (see publishImage). */
  private readonly imageGrants = new Map<string, { nodeId: string; imageId: string }>();
  /** Store writes made behind the call (image grants, lease bindings), in call order. */
  private writes: Promise<void> = Promise.resolve();
  private loaded!: () => void;
  /** Resolves once the state of the previous process is loaded (at once without a store); the routes wait for it. */
  readonly ready: Promise<void> = new Promise((resolve) => (this.loaded = resolve));

  constructor(private readonly o: BootManagerOptions) {
    if (!o.store) this.loaded();
  }

  /** Reloads pending boots, agent sessions and commands left by the previous process. */
  async restore(): Promise<{ pending: number; sessions: number; commands: number }> {
    const pending = (await this.o.store?.loadPending()) ?? [];
    for (const p of pending) {
      this.pending.set(p.nodeId, { nodeId: p.nodeId, macs: p.macs, firmware: p.firmware, expiresAt: p.expiresAt, bound: p.bound, scriptAt: p.scriptAt });
      for (const mac of p.macs) this.byMac.set(mac, p.nodeId);
    }
    const restored = this.o.commands.restore ? await this.o.commands.restore() : { sessions: 0, commands: 0 };
    this.loaded();
    return { pending: pending.length, ...restored };
  }

  get commands(): DeployCommands {
    return this.o.commands;
  }

  /** Makes dnsmasq answer exactly these MACs (call at start with every enrolled port). */
  async setEnrolledPorts(entries: readonly HostEntry[]): Promise<void> {
    await this.o.hostsDir?.sync(entries);
  }

  async addPort(entry: HostEntry): Promise<void> {
    await this.o.hostsDir?.add(entry);
  }

  async removePort(mac: string): Promise<void> {
    await this.o.hostsDir?.remove(mac);
  }

  /** The node will network-boot the deploy ramdisk next; earlier secrets stop working. */
  async prepareBoot(options: PrepareBootOptions): Promise<{ expiresAt: Date }> {
    await this.cleanBoot(options.nodeId);
    const macs = options.macs.map(normalizeMac);
    const { secret, expiresAt } = await this.o.secrets.issue(options.nodeId);
    await this.o.store?.putPending({ nodeId: options.nodeId, macs, firmware: options.firmware, expiresAt });
    this.pending.set(options.nodeId, { ...options, macs, expiresAt, secret: Promise.resolve(secret) });
    for (const mac of macs) this.byMac.set(mac, options.nodeId);
    return { expiresAt };
  }

  /** The deploy is over (or aborted): no script, no boot secret, no agent session. Port entries stay. */
  async cleanBoot(nodeId: string): Promise<void> {
    const p = this.pending.get(nodeId);
    if (p) for (const mac of p.macs) this.byMac.delete(mac);
    this.pending.delete(nodeId);
    for (const [k, g] of this.imageGrants) if (g.nodeId === nodeId) this.imageGrants.delete(k);
    this.o.commands.end(nodeId);
    await this.writes;
    await this.o.store?.deleteNode(nodeId);
    await this.o.secrets.revoke(nodeId);
    await this.o.commands.flush();
  }

  /**
   * A URL the node's agent can download `imageId` from without a Keystone token: the agent's
   * write_image takes a plain URL, so the authorisation is a random 256-bit token in the path,
   * valid for this node's deploy only (revoked by cleanBoot).
   */
  publishImage(nodeId: string, imageId: string): string {
    const token = randomToken();
    const hash = hashSecret(token);
    this.imageGrants.set(hash, { nodeId, imageId });
    // Written behind the call (the URL is handed out before the agent can use it); after a
    // restart the grant is found in the table.
    this.writeBehind((store) => store.putGrant(hash, nodeId, imageId));
    return `${this.o.baseUrl()}/images/${token}`;
  }

  private writeBehind(write: (store: PendingBootStore) => Promise<void>): void {
    const store = this.o.store;
    if (store) this.writes = this.writes.then(() => write(store)).catch((err: unknown) => this.o.onStoreError?.(err));
  }

  /** The grant behind an image URL token, or 401; only the node's bound address may use it. */
  async imageGrant(token: string, from = IN_PROCESS): Promise<{ nodeId: string; imageId: string }> {
    const hash = hashSecret(token);
    const g = this.imageGrants.get(hash) ?? (this.pendingNodeOf(await this.o.store?.getGrant(hash)));
    if (!g) throw new UnauthorizedError('Unknown or revoked image download token.');
    this.assertFrom(g.nodeId, from, 'image download');
    return g;
  }

  /**
   * Agent calls (lookup, heartbeat, commands, results, image download) come from the node's bound
   * address only: a stolen secret or token is refused elsewhere (401, reason "address").
   */
  assertFrom(nodeId: string, from: string, what: string): void {
    const bound = this.pending.get(nodeId)?.bound;
    if (bound?.ip === from) return;
    this.o.events.emit({ kind: 'access_refused', at: new Date(), nodeId, detail: { what, from, bound: bound?.ip ?? null } });
    throw new UnauthorizedError(`${what} refused: ${from} is not the address this boot is bound to.`, { fields: { reason: 'address' } });
  }

  /**
   * Our dnsmasq ACKed `ip` to `mac`. A pending boot of that MAC is bound to it: the lease is the
   * machine's address. A later ACK (the ramdisk's own DHCP) moves the binding with the lease.
   */
  leaseSeen(mac: string, ip: string, at = new Date()): void {
    const p = this.pending.get(this.byMac.get(mac.toLowerCase()) ?? '');
    if (!p || !this.o.leases) return;
    // Once the agent has looked up, the machine is the one at the bound address: a later ACK
    // (anyone can ask our dnsmasq for a lease naming this MAC) does not take the boot away from it.
    if (this.o.commands.session(p.nodeId) && p.bound) return;
    p.bound = { ip, by: 'lease', at };
    // The state at write time, not now: a script fetch's own write may overtake this one.
    this.writeBehind(async (store) => {
      if (this.pending.get(p.nodeId) === p) await store.putBinding(p.nodeId, p.bound, p.scriptAt);
    });
  }

  /** A stored grant counts only while its node's deploy is under way (cleanBoot deletes both anyway). */
  private pendingNodeOf(g: { nodeId: string; imageId: string } | undefined) {
    return g && (this.pending.has(g.nodeId) || this.o.commands.session(g.nodeId)) ? g : undefined;
  }

  /** The node a MAC belongs to while it has a pending boot (for the timeline). */
  nodeForMac(mac: string): string | undefined {
    return this.byMac.get(mac.toLowerCase());
  }

  genericScript(): string {
    return genericScript(this.o.baseUrl());
  }

  /** The MAC a script name stands for (if it is one) and the node with a pending boot it names. */
  scriptTarget(name: string): { mac?: string; nodeId?: string } {
    try {
      const mac = normalizeMac(name);
      return { mac, nodeId: this.byMac.get(mac) };
    } catch {
      return { nodeId: this.pending.has(name) ? name : undefined };
    }
  }

  /**
   * The script for `name` (a MAC in aa-bb-.. or aa:bb:.. form, or a node id) as fetched by
   * `from`. A pending boot's script goes to its bound address only, once (plus retries, see
   * scriptRefusal); every fetch is a `script_fetched` event saying who asked and what they got.
   */
  async scriptFor(name: string, from = IN_PROCESS): Promise<string> {
    const { mac, nodeId } = this.scriptTarget(name);
    const p = nodeId ? this.pending.get(nodeId) : undefined;
    const fetched = (detail: Record<string, unknown>) =>
      this.o.events.emit({ kind: 'script_fetched', at: new Date(), nodeId, mac, detail: { name, from, pending: Boolean(p), ...detail } });
    if (!p) {
      fetched({ granted: true, secret_given: false });
      return LOCAL_BOOT_SCRIPT;
    }
    let refused = this.scriptRefusal(p, from, new Date());
    for (let waited = 0; refused?.code === 'no_lease' && waited < LEASE_GRACE_MS; waited += 50) {
      await sleep(50);
      refused = this.scriptRefusal(p, from, new Date());
    }
    if (refused) {
      fetched({ granted: false, secret_given: false, reason: refused.why });
      throw new ScriptRefusedError(refused.code, from);
    }
    // Bound before anything else is awaited: two first fetches cannot both win.
    const now = new Date();
    const retry = p.scriptAt !== undefined;
    p.bound ??= { ip: from, by: 'first_fetch', at: now };
    p.scriptAt ??= now;
    p.servedTo ??= from;
    // Stored before the answer: a restarted seed must not bind someone else.
    await this.o.store?.putBinding(p.nodeId, p.bound, p.scriptAt);
    // Restored after a restart: the plaintext is gone; a second secret for the same boot. A failed
    // write is not kept: the next fetch (the generic script reboots and retries after 10 s) tries again.
    if (!p.secret) {
      const issued = this.o.secrets.issueAnother(p.nodeId, p.expiresAt.getTime());
      p.secret = issued;
      issued.catch(() => {
        if (p.secret === issued) p.secret = undefined;
      });
    }
    const bootSecret = await p.secret;
    fetched({ granted: true, secret_given: true, retry, bound_by: p.bound.by });
    const base = this.o.baseUrl();
    return nodeScript({
      firmware: p.firmware,
      kernelUrl: `${base}/files/${this.o.kernel}`,
      ramdiskUrl: `${base}/files/${this.o.ramdisk}`,
      apiUrl: base,
      bootSecret,
      nodeId: p.nodeId,
      kernelArgs: this.o.kernelArgs,
    });
  }

  /**
   * Why `from` does not get the node's script now (a code for the caller, words for the
   * timeline), or undefined. Re-serving to the bound address within the retry window gives
   * nothing to anyone who could not have fetched first; after the lookup the secret is used up.
   */
  private scriptRefusal(p: PendingBoot, from: string, now: Date): { code: string; why: string } | undefined {
    const b = p.bound;
    const leases = this.o.leases;
    if (now >= p.expiresAt) return { code: 'expired', why: `the boot armed for this node expired at ${p.expiresAt.toISOString()}` };
    if (b && b.ip !== from) {
      return { code: 'not_bound_address', why: `bound to ${b.ip} (${b.by === 'lease' ? 'its DHCP lease' : 'the first address that fetched it'})` };
    }
    if (b?.by === 'lease' && leases && now.getTime() >= b.at.getTime() + leases.leaseMs) {
      return { code: 'lease_expired', why: `the DHCP lease of ${b.ip} (${b.at.toISOString()}) has expired` };
    }
    // Our dnsmasq hands out the addresses: no lease, no script. The seed's own host is the
    // exception (a local proxy, tests): it binds by first fetch.
    if (!b && leases && !isLoopback(from)) return { code: 'no_lease', why: `no DHCP lease from our dnsmasq to ${p.macs.join(', ')} since the boot was armed` };
    if (p.scriptAt) {
      if (this.o.commands.session(p.nodeId)) return { code: 'already_fetched', why: `already fetched at ${p.scriptAt.toISOString()} and the agent has looked up` };
      // A retry goes only to the address the script was served to: a binding that moved since
      // (a later lease for this MAC: anyone can ask dnsmasq for one) must not get the secret again.
      const servedTo = p.servedTo ?? (b && b.at.getTime() <= p.scriptAt.getTime() ? b.ip : undefined);
      if (servedTo !== from) return { code: 'already_fetched', why: `already fetched at ${p.scriptAt.toISOString()} by another address` };
      const retryMs = this.o.scriptRetryMs ?? 120_000;
      if (now.getTime() - p.scriptAt.getTime() >= retryMs) {
        return { code: 'already_fetched', why: `already fetched at ${p.scriptAt.toISOString()}; retries are served for ${retryMs / 1000} s only` };
      }
    }
    return undefined;
  }

  /** The agent's first call: the boot secret (once) and its MACs → node id and agent token. Only from the boot's bound address. */
  async lookup(macs: readonly string[], bootSecret: string, from = IN_PROCESS, ramdiskStages?: unknown): Promise<{ nodeId: string; agentToken: string }> {
    const given = new Set(macs.map(normalizeMac));
    // Every check runs before the secret is used up: a refused caller does not burn it.
    const nodeId = await this.o.secrets.consume(bootSecret, (id) => {
      const p = this.pending.get(id);
      if (!p) throw new NotFoundError('Pending boot for node', id);
      if (!p.macs.some((m) => given.has(m))) {
        throw new UnauthorizedError('None of the MACs the agent reported belongs to the node of this boot secret.', {
          fields: { nodeId: id },
        });
      }
      this.assertFrom(id, from, 'lookup');
    });
    const agentToken = this.o.commands.openSession(nodeId);
    const at = new Date();
    // Before the lookup's own event, at the same time: the history keeps them in this order.
    if (ramdiskStages !== undefined) this.o.events.emit({ kind: 'ramdisk_stages', at, nodeId, detail: { ...checkRamdiskStages(ramdiskStages) } });
    this.o.events.emit({ kind: 'agent_lookup', at, nodeId, detail: { macs: [...given] } });
    return { nodeId, agentToken };
  }
}
