// Ties the boot pieces together for the conductor: which MACs dnsmasq answers (enrolled ports),
// which nodes are expected to network-boot (a pending boot with its one-time secret), the iPXE
// script each gets, and the agent's lookup that trades the secret for a per-deploy agent token.
import { NotFoundError, UnauthorizedError } from '../common/errors.js';
import { hashSecret, randomToken, type BootSecrets } from './boot-secrets.js';
import type { BootEventBus } from './boot-events.js';
import type { DeployCommands } from './deploy-commands.js';
import { normalizeMac, type DhcpHostsDir, type HostEntry } from './dhcp-hosts.js';
import { genericScript, nodeScript, type Firmware } from './ipxe-script.js';

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
}

interface PendingBoot extends PrepareBootOptions {
  secret: string;
}

/** What a MAC without a pending deploy gets: leave iPXE, so the firmware boots the next device. */
export const LOCAL_BOOT_SCRIPT = '#!ipxe\necho bootstack: no network boot is pending for ${net0/mac}; booting from disk\nexit\n';

export class BootManager {
  private readonly pending = new Map<string, PendingBoot>();
  private readonly byMac = new Map<string, string>();
  /** Image download grants: SHA-256 of the URL token → node and image (see publishImage). */
  private readonly imageGrants = new Map<string, { nodeId: string; imageId: string }>();

  constructor(private readonly o: BootManagerOptions) {}

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
    this.pending.set(options.nodeId, { ...options, macs, secret });
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
    await this.o.secrets.revoke(nodeId);
  }

  /**
   * A URL the node's agent can download `imageId` from without a Keystone token: the agent's
   * write_image takes a plain URL, so the authorisation is a random 256-bit token in the path,
   * valid for this node's deploy only (revoked by cleanBoot).
   */
  publishImage(nodeId: string, imageId: string): string {
    const token = randomToken();
    this.imageGrants.set(hashSecret(token), { nodeId, imageId });
    return `${this.o.baseUrl()}/images/${token}`;
  }

  /** The grant behind an image URL token, or 401. */
  imageGrant(token: string): { nodeId: string; imageId: string } {
    const g = this.imageGrants.get(hashSecret(token));
    if (!g) throw new UnauthorizedError('Unknown or revoked image download token.');
    return g;
  }

  /** The node a MAC belongs to while it has a pending boot (for the timeline). */
  nodeForMac(mac: string): string | undefined {
    return this.byMac.get(mac.toLowerCase());
  }

  genericScript(): string {
    return genericScript(this.o.baseUrl());
  }

  /** The script for `name` (a MAC in aa-bb-.. or aa:bb:.. form, or a node id). */
  scriptFor(name: string): string {
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
    const base = this.o.baseUrl();
    return nodeScript({
      firmware: p.firmware,
      kernelUrl: `${base}/files/${this.o.kernel}`,
      ramdiskUrl: `${base}/files/${this.o.ramdisk}`,
      apiUrl: base,
      bootSecret: p.secret,
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
