// The deployed system's first contact: after an agent deploy ends (node active, machine rebooting
// into its image), the first DHCPACK dnsmasq gives one of the node's port MACs is the deployed OS
// coming up on the network, and it goes on the node's timeline with the address, the hostname the
// client sent, and the time since the deploy ended. Boot events carry a node id only while a boot
// is pending, so the MAC is matched through the ports table here. The "awaiting" mark is a field
// of driver_internal_info (set in the same write that makes the node active), so a seed restarted
// between the reboot and the first DHCP still records it.
import type { Logger } from 'pino';
import { fromJson, toJson } from '../common/db.js';
import type { BaremetalKysely } from './db.js';
import { recordHistory } from './node-store.js';
import type { BootTimelineEvent } from './provisioning.js';
import { TIMELINE_EVENT_TYPE } from './timeline.js';

export const AWAITING_FIRST_CONTACT = 'awaiting_first_contact';

/** driver_internal_info (JSON) with the mark "deploy ended at `at`, first contact not seen yet". */
export function armFirstContact(driverInternalInfo: string, at: Date = new Date()): string {
  return toJson({ ...fromJson<Record<string, unknown>>(driverInternalInfo, {}), [AWAITING_FIRST_CONTACT]: at.toISOString() });
}

export class FirstContact {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: BaremetalKysely,
    private readonly log: Logger,
    private readonly host: string,
  ) {}

  /** Feed every boot event; only answered DHCPACKs are looked at (a few per machine boot). */
  observe(e: BootTimelineEvent): void {
    if (e.kind !== 'dhcp' || e.detail.message !== 'DHCPACK' || e.detail.ignored || !e.mac) return;
    // One at a time, so two quick ACKs from one machine cannot both be "first".
    this.chain = this.chain.then(() => this.handle(e)).catch((err: unknown) => this.log.warn({ err, mac: e.mac }, 'could not record a first contact'));
  }

  /** Resolves when every event received so far is handled (tests). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async handle(e: BootTimelineEvent): Promise<void> {
    const mac = e.mac!.toLowerCase();
    const rows = await this.db
      .selectFrom('baremetal_ports')
      .innerJoin('baremetal_nodes', 'baremetal_nodes.uuid', 'baremetal_ports.node_uuid')
      .select(['baremetal_nodes.uuid', 'baremetal_nodes.provision_state', 'baremetal_nodes.driver_internal_info'])
      .where('baremetal_ports.address', '=', mac)
      .execute();
    for (const row of rows) {
      const info = fromJson<Record<string, unknown>>(row.driver_internal_info, {});
      const since = info[AWAITING_FIRST_CONTACT];
      if (typeof since !== 'string') continue;
      const { [AWAITING_FIRST_CONTACT]: _done, ...rest } = info;
      // Compare-and-set on the column: another writer (a conductor on the same database) wins cleanly.
      const res = await this.db
        .updateTable('baremetal_nodes')
        .set({ driver_internal_info: toJson(rest) })
        .where('uuid', '=', row.uuid)
        .where('driver_internal_info', '=', row.driver_internal_info)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) continue;
      // Redeployed or torn down before the OS came up: that DHCP is the ramdisk's, not the OS's.
      if (row.provision_state !== 'active') continue;
      const seconds = (e.at.getTime() - Date.parse(since)) / 1000;
      const ip = typeof e.detail.ip === 'string' ? ` ${e.detail.ip}` : '';
      const hostname = typeof e.detail.hostname === 'string' && e.detail.hostname ? ` hostname ${e.detail.hostname}` : ' (no hostname sent)';
      const text = `deployed system's first contact: DHCPACK${ip}${hostname} from ${mac}, ${seconds.toFixed(1)} s after the deploy ended`;
      await recordHistory(this.db, row.uuid, text, TIMELINE_EVENT_TYPE, 'INFO', null, this.host, e.at);
    }
  }
}
