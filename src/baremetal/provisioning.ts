// What the real boot ("ipxe") and deploy ("direct") interfaces need from outside the bare-metal
// service, declared here so baremetal imports no other service: src/server implements these over
// the boot service (dnsmasq hosts, iPXE scripts, the agent's command queue, boot events) and the
// image service. The server connects them after building the services (`Provisioning.attach`).
import { BootstackError } from '../common/errors.js';
import type { AgentCommandName, AgentCommandParams, CommandReport } from '../common/agent-protocol.js';

export type Firmware = 'bios' | 'uefi';

/** Network boot of the deploy ramdisk: DHCP host entries and the per-node iPXE script. */
export interface BootProvisioner {
  /** The node network-boots the deploy ramdisk next (one-time boot secret in its iPXE script). */
  prepare(o: { nodeId: string; macs: string[]; firmware: Firmware }): Promise<void>;
  /** No pending network boot, no agent session, no image grant. */
  cleanUp(nodeId: string): Promise<void>;
  /** The MACs DHCP answers (every enrolled port with pxe_enabled): the full sync, done at start. */
  setPorts(macs: string[]): Promise<void>;
  /** One port created or changed (one host file written). */
  addPort(mac: string): Promise<void>;
  /** One port deleted or no longer pxe-enabled (one host file removed). */
  removePort(mac: string): Promise<void>;
}

/** What one API call changed in the pxe-enabled MACs (removals are applied first). */
export interface PortChange {
  added?: string[];
  removed?: string[];
}

/** A command's outcome as the agent reported it (the protocol's report, src/common/agent-protocol.ts). */
export type AgentOutcome = CommandReport;
export type { AgentCommandName };

/** The deploy agent on the machine, which pulls what we queue. */
export interface AgentChannel {
  /** True once the node's agent has looked itself up in this deploy. */
  lookedUp(nodeId: string): boolean;
  /** The agent's last activity (lookup, a command started or finished, a heartbeat during a command); undefined before lookup. */
  lastActivity?(nodeId: string): Date | undefined;
  /** Queues a command and resolves with its outcome; rejects when the signal aborts. */
  run<N extends AgentCommandName>(nodeId: string, name: N, params: AgentCommandParams[N], signal: AbortSignal): Promise<AgentOutcome>;
}

export interface LocatedImage {
  /** A URL the agent can stream the image from without other credentials. */
  url: string;
  checksum: string;
  algo: 'md5' | 'sha256' | 'sha512';
  size: number;
  /** The format the agent is given (raw, or iso/ami/unset written as they are; never qcow2). */
  diskFormat: string | null;
  /**
   * Set when the seed converted the image (qcow2 → raw): url, checksum (sha256) and size are the
   * raw's; an operator's instance_info.image_checksum is one of `sourceChecksums`.
   */
  converted?: { from: 'qcow2'; sourceChecksums: string[] };
}

export interface ImageLocator {
  /** The image `imageSource` (an image id) for this node's deploy. */
  locate(nodeId: string, imageSource: string): Promise<LocatedImage>;
}

/** A boot event (DHCP seen, script fetched, agent lookup, command started/finished...). */
export interface BootTimelineEvent {
  kind: string;
  at: Date;
  nodeId?: string;
  mac?: string;
  detail: Record<string, unknown>;
}

export interface BootTimelineSource {
  subscribe(listener: (e: BootTimelineEvent) => void): () => void;
}

export interface ProvisioningLinks {
  boot: BootProvisioner;
  agent: AgentChannel;
  images: ImageLocator;
  timeline: BootTimelineSource;
}

/** Holds the links once the server attaches them; the drivers ask for them when they run. */
export class Provisioning {
  private links?: ProvisioningLinks;

  attach(links: ProvisioningLinks): void {
    this.links = links;
  }

  get attached(): boolean {
    return this.links !== undefined;
  }

  get(): ProvisioningLinks {
    if (!this.links) {
      throw new BootstackError(
        503,
        'no_boot_service',
        'The boot and image services are not enabled in this server: the "ipxe" boot and "direct" deploy interfaces need both.',
      );
    }
    return this.links;
  }
}
