// Ties the boot pieces together for the conductor: which MACs dnsmasq answers (enrolled ports),
// which nodes are expected to network-boot (a pending boot with its one-time secret), the iPXE
// script each gets, and the agent's lookup that trades the secret for a per-deploy agent token.
// With a store, pending boots and image grants are in the database too (restore() reloads them),
// so a machine in its firmware, iPXE or the ramdisk during a seed restart carries on afterwards.
import { NotFoundError, UnauthorizedError } from '../common/errors.js';
import { hashSecret, randomToken, type BootSecrets } from './boot-secrets.js';
import type { BootEventBus } from './boot-events.js';
import type { DeployCommands } from './deploy-commands.js';
import { normalizeMac, type DhcpHostsDir, type HostEntry } from './dhcp-hosts.js';
import { genericScript, nodeScript, type Firmware } from './ipxe-script.js';
import type { StoredPendingBoot } from './deploy-store.js';

/** The durable half of pending boots and image grants (DbBootStore). */
export interface PendingBootStore {
  putPending(p: StoredPendingBoot): Promise<void>;
  loadPending(): Promise<StoredPendingBoot[]>;
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
  /** A background store write failed (image grants are written behind the call). */
  onStoreError?: (err: unknown) => void;
}

interface PendingBoot extends PrepareBootOptions {
  expiresAt: Date;
  /** The plaintext secret; after a restart only its digest is known, and a new one is issued on the next script fetch. */
  secret?: Promise<string>;
}

/** What a MAC without a pending deploy gets: leave iPXE, so the firmware boots the next device. */
export const LOCAL_BOOT_SCRIPT = '#!ipxe\necho bootstack: no network boot is pending for ${net0/mac}; booting from disk\nexit\n';

export class BootManager {
  private readonly pending = new Map<string, PendingBoot>();
  private readonly byMac = new Map<string, string>();
  /** Image download grants: SHA-256 of the URL token → node and image (see publishImage). */
  private readonly imageGrants = new Map<string, { nodeId: string; imageId: string }>();
  private grantWrites: Promise<void> = Promise.resolve();
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
      this.pending.set(p.nodeId, { nodeId: p.nodeId, macs: p.macs, firmware: p.firmware, expiresAt: p.expiresAt });
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
    await this.grantWrites;
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
    const store = this.o.store;
    if (store) {
      this.grantWrites = this.grantWrites
        .then(() => store.putGrant(hash, nodeId, imageId))
        .catch((err: unknown) => this.o.onStoreError?.(err));
    }
    return `${this.o.baseUrl()}/images/${token}`;
  }

  /** The grant behind an image URL token, or 401. */
  async imageGrant(token: string): Promise<{ nodeId: string; imageId: string }> {
    const hash = hashSecret(token);
    const g = this.imageGrants.get(hash) ?? (this.pendingNodeOf(await this.o.store?.getGrant(hash)));
    if (!g) throw new UnauthorizedError('Unknown or revoked image download token.');
    return g;
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

  /** The script for `name` (a MAC in aa-bb-.. or aa:bb:.. form, or a node id). */
  async scriptFor(name: string): Promise<string> {
    let nodeId: string | undefined;
    let mac: string | undefined;
    try {
      mac = normalizeMac(name);
      nodeId = this.byMac.get(mac);
    } catch {
      nodeId = this.pending.has(name) ? name : undefined;
    }
    const p = nodeId ? this.pending.get(nodeId) : undefined;
    this.o.events.emit({ kind: 'script_fetched', at: new Date(), nodeId, mac, detail: { name, pending: Boolean(p) } });
    if (!p) return LOCAL_BOOT_SCRIPT;
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

  /** The agent's first call: the boot secret (once) and its MACs → node id and agent token. */
  async lookup(macs: readonly string[], bootSecret: string): Promise<{ nodeId: string; agentToken: string }> {
    const given = new Set(macs.map(normalizeMac));
    const nodeId = await this.o.secrets.consume(bootSecret, (id) => {
      const p = this.pending.get(id);
      if (!p) throw new NotFoundError('Pending boot for node', id);
      if (!p.macs.some((m) => given.has(m))) {
        throw new UnauthorizedError('None of the MACs the agent reported belongs to the node of this boot secret.', {
          fields: { nodeId: id },
        });
      }
    });
    const agentToken = this.o.commands.openSession(nodeId);
    this.o.events.emit({ kind: 'agent_lookup', at: new Date(), nodeId, detail: { macs: [...given] } });
    return { nodeId, agentToken };
  }
}
