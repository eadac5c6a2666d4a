// The boot timeline: boot events (DHCP seen, iPXE script and ramdisk fetched, the ramdisk's start
// on the guest clock, agent lookup, each agent command with bytes and MB/s) written into the node's
// history as event type "boot", in arrival order, and the hint a phase timeout gives from the last
// step a machine reached.
import { SPARSE } from '../common/sparse-image.js';
import type { Logger } from 'pino';
import type { BaremetalKysely } from './db.js';
import { recordHistory, type Severity } from './node-store.js';
import type { BootTimelineEvent } from './provisioning.js';
import { describeRamdiskStages, type CheckedStages } from '../common/ramdisk-stages.js';

export const TIMELINE_EVENT_TYPE = 'boot';

interface Step {
  kind: string;
  text: string;
  at: Date;
}

const MiB = 1024 * 1024;

/** One line per event, in the operator's words; undefined for events not worth a row. */
export function describe(e: BootTimelineEvent): { text: string; severity: Severity } | undefined {
  const d = e.detail;
  const s = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  switch (e.kind) {
    case 'dhcp':
      if (d.ignored) return { text: `DHCP ${s(d.message)} from ${s(e.mac)} ignored${d.reason ? `: ${s(d.reason)}` : ''}`, severity: 'WARNING' };
      return { text: `DHCP ${s(d.message)} ${s(e.mac)}${d.ip ? ` ${s(d.ip)}` : ''}`, severity: 'INFO' };
    case 'tftp':
      return { text: `TFTP ${s(d.file)} sent to ${s(d.to)}`, severity: 'INFO' };
    case 'script_fetched':
      // A first fetch by the machine keeps the plain wording; a refused fetch or a retry names
      // the requester, so a second requester on the provisioning network shows in the history.
      if (d.granted === false) return { text: `iPXE script fetch refused (${s(d.name)} by ${s(d.from)}: ${s(d.reason)})`, severity: 'WARNING' };
      if (d.retry) return { text: `iPXE script fetched again (${s(d.name)} by ${s(d.from)}, a retry from the bound address)`, severity: 'INFO' };
      return { text: `iPXE script fetched (${s(d.name)})`, severity: 'INFO' };
    case 'access_refused':
      return { text: `${s(d.what)} refused: ${s(d.from)} is not the address this boot is bound to (${s(d.bound) || 'none'})`, severity: 'WARNING' };
    case 'file_fetched': {
      const bytes = Number(d.bytes ?? 0);
      const secs = Number(d.seconds ?? 0);
      const line = `${s(d.file)} fetched: ${(Number(d.image_bytes ?? bytes) / MiB).toFixed(1)} MiB in ${secs.toFixed(2)} s`;
      // The sparse transfer names the image's size first (what was deployed), then what crossed the wire.
      if (d.transfer === SPARSE) return { text: `${line}, sparse: ${(bytes / MiB).toFixed(1)} MiB sent in ${Number(d.extents ?? 0)} data extents`, severity: 'INFO' };
      return { text: line, severity: 'INFO' };
    }
    case 'ramdisk_stages': {
      // Checked by the boot service (checkRamdiskStages) before the event is emitted.
      const c = { stages: (d.stages ?? {}) as CheckedStages['stages'], ignored: Array.isArray(d.ignored) ? d.ignored.map(String) : [] };
      return { text: describeRamdiskStages(c), severity: Object.keys(c.stages).length ? 'INFO' : 'WARNING' };
    }
    case 'agent_lookup':
      return { text: `deploy agent looked up (${Array.isArray(d.macs) ? d.macs.join(', ') : ''})`, severity: 'INFO' };
    case 'command_started':
      return { text: `agent command ${s(d.name)} started`, severity: 'INFO' };
    case 'command_finished': {
      if (d.status !== 'succeeded') return { text: `agent command ${s(d.name)} failed: ${s(d.error)}`, severity: 'ERROR' };
      const r = (d.result ?? {}) as Record<string, unknown>;
      const rate = typeof r.bytes === 'number' ? `: ${(r.bytes / MiB).toFixed(1)} MiB in ${Number(r.seconds ?? 0).toFixed(2)} s (${Number(r.mb_per_s ?? 0).toFixed(1)} MB/s)` : '';
      return { text: `agent command ${s(d.name)} succeeded${rate}`, severity: 'INFO' };
    }
    case 'image_converted': {
      const size = `${(Number(d.bytes ?? 0) / MiB).toFixed(1)} MiB`;
      const from = `${(Number(d.source_bytes ?? 0) / MiB).toFixed(1)} MiB`;
      const secs = `${Number(d.seconds ?? 0).toFixed(2)} s`;
      return d.cached
        ? { text: `image ${s(d.image)} qcow2→raw from the conversion cache: ${size} (converted earlier in ${secs})`, severity: 'INFO' }
        : { text: `image ${s(d.image)} converted qcow2→raw: ${size} from ${from} in ${secs}`, severity: 'INFO' };
    }
    default:
      return undefined; // heartbeats: one every few seconds, their progress is in the command rows
  }
}

export class BootTimeline {
  private chain: Promise<void> = Promise.resolve();
  private readonly last = new Map<string, Step>();

  constructor(
    private readonly db: BaremetalKysely,
    private readonly log: Logger,
    private readonly host: string,
  ) {}

  /** A new phase (deploy, clean, inspect) starts: forget the steps of the previous one. */
  begin(nodeUuid: string): void {
    this.last.delete(nodeUuid);
  }

  /** The last step the node's machine reached in this phase. */
  lastStep(nodeUuid: string): Step | undefined {
    return this.last.get(nodeUuid);
  }

  record(e: BootTimelineEvent): void {
    if (!e.nodeId) return;
    const line = describe(e);
    if (!line) return;
    const nodeId = e.nodeId;
    // A refusal is somebody else's request, not a step the node's machine reached.
    const refusal = e.kind === 'access_refused' || (e.kind === 'script_fetched' && e.detail.granted === false);
    if (!refusal) this.last.set(nodeId, { kind: e.kind, text: line.text, at: e.at });
    // One write after the other, so the history keeps the order the events happened in.
    this.chain = this.chain
      .then(() => recordHistory(this.db, nodeId, line.text, TIMELINE_EVENT_TYPE, line.severity, null, this.host, e.at))
      .catch((err: unknown) => this.log.warn({ err, node: nodeId }, 'could not record a boot event'));
  }

  /**
   * After a restart the last step is known only from the stored history line: its kind is read
   * back from the line's wording (see describe()), so a timeout still names where the machine got.
   */
  restoreLastStep(nodeUuid: string, text: string, at: Date): void {
    if (this.last.has(nodeUuid)) return;
    const kind = text.startsWith('DHCP ')
      ? 'dhcp'
      : text.startsWith('TFTP ')
        ? 'tftp'
        : text.startsWith('iPXE script fetched')
          ? 'script_fetched'
          : / fetched: /.test(text)
            ? 'file_fetched'
            : 'agent';
    this.last.set(nodeUuid, { kind, text, at });
  }

  /** Resolves when every event received so far is stored (tests). */
  flush(): Promise<void> {
    return this.chain;
  }

  /** What a phase timeout says: the last step reached and where to look. */
  timeoutHint(nodeUuid: string, macs: string[], seconds: number): string {
    const step = this.last.get(nodeUuid);
    const who = macs.length ? macs.join(', ') : 'the node (it has no pxe-enabled port)';
    if (!step) return `no DHCP request from ${who} in ${seconds} s — check that the machine boots from the network on its provisioning NIC`;
    const reached = `last step reached: ${step.text} at ${step.at.toISOString()}`;
    switch (step.kind) {
      case 'dhcp':
      case 'tftp':
        return `${reached} — the machine got DHCP but never fetched its iPXE script; check that it reaches the seed's boot URL (boot.http_url)`;
      case 'script_fetched':
        return `${reached} — the deploy kernel and ramdisk were not fetched; check boot.files_dir and the machine's console`;
      case 'file_fetched':
        return `${reached} — the deploy ramdisk never looked up; check the machine's console (kernel panic, no network in the ramdisk, agent cannot reach the seed)`;
      default:
        return `${reached} — the deploy agent stopped reporting; check the machine's console`;
    }
  }
}
