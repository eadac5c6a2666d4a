// What the boot service sees happen to a machine, for the node's boot timeline. The bare-metal
// service subscribes and records these on the node; the events themselves are not stored here
// (the boot service's tables hold deploy state only, see db.ts).
export type BootEventKind =
  | 'dhcp'
  | 'tftp'
  | 'script_fetched'
  | 'file_fetched'
  | 'agent_lookup'
  /** The ramdisk's start on the guest clock, as the agent reported it with the lookup (src/common/ramdisk-stages.ts). */
  | 'ramdisk_stages'
  | 'heartbeat'
  | 'command_started'
  | 'command_finished'
  | 'image_converted'
  /** An agent call (lookup, commands, image download) from an address other than the boot's bound one. */
  | 'access_refused';

export interface BootEvent {
  kind: BootEventKind;
  at: Date;
  /** Known once a MAC or token is matched to a node. */
  nodeId?: string;
  mac?: string;
  /** Free-form facts: DHCP message, file name and bytes, command name, MB/s, error... */
  detail: Record<string, unknown>;
}

export type BootEventListener = (event: BootEvent) => void;

export class BootEventBus {
  private readonly listeners = new Set<BootEventListener>();
  subscribe(listener: BootEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(event: BootEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A failing subscriber must not break DHCP log parsing or an HTTP request.
      }
    }
  }
}
