// What the metadata service needs from the rest of the seed, declared here so it imports no
// other service: src/server/metadata-instances.ts implements it over the boot service (which
// address our DHCP gave to which MAC) and the bare-metal service (the node owning that MAC).
import type { InstanceContent } from '../common/instance-metadata.js';

export type LocatedInstance =
  | { nodeId: string; content: InstanceContent }
  /** Why nothing is served, for the seed's log (never sent to the caller). */
  | { refused: string };

export interface InstanceLocator {
  /** The deployed instance calling from `ip` (IPv4, as the socket reports it). */
  locate(ip: string): Promise<LocatedInstance>;
}
