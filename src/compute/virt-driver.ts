// The virt driver: what compute asks of whatever runs its servers. Compute owns the server
// records, the API, scheduling inputs, quotas and the lifecycle loop; a driver owns the
// machines. Two drivers are meant to fit:
//
// - bare metal (src/server/compute-baremetal.ts, over the bare-metal service): a "host" is a
//   node; a claim is an Ironic allocation (atomic: a conditional update on the node row), so
//   spawn() claims and starts the deploy in one call, and one node holds one server;
// - QEMU guests on hypervisor hosts (a later issue): a "host" is a hypervisor host running the
//   hypervisor agent. That driver would keep per-host inventories (VCPU, MEMORY_MB, DISK_GB,
//   honouring allocation ratios) and claim by a conditional update of the host's usage row
//   (used + requested <= total × ratio) in spawn(), so that claims stay atomic as they are
//   here; then define a libvirt-less QEMU guest through the host's agent (disk from the image,
//   a config-drive ISO, a tap device on the port's bridge). reboot/powerOff/powerOn map to QMP
//   system_reset / system_powerdown (soft) or quit (hard) / a fresh start; rebuild re-images the
//   disk; consoleOutput reads the guest's serial log file; hypervisors() lists hosts with their
//   totals and usage; status() reads guest state reported by the agent. Many servers may share
//   one host, so `sharesHosts` is true and affinity groups become satisfiable.
//
// Every call is asynchronous work that returns quickly: long operations (a deploy, a reboot)
// are started, and their progress is read back through status(), which compute's lifecycle
// loop polls for servers in transition (Nova's task states).

/** What the scheduler derived from the flavor's extra specs (Nova's placement request). */
export interface PlacementRequest {
  /** Custom resource class, normalised (`CUSTOM_BAREMETAL`); null when the flavor names none. */
  resourceClass: string | null;
  /** Standard resources still asked for (those not zeroed with resources:X=0). */
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  requiredTraits: string[];
  forbiddenTraits: string[];
}

/** The config drive's contents (OpenStack metadata format), built by compute from the server. */
export interface ConfigDriveContents {
  meta_data: Record<string, unknown>;
  user_data?: string;
  network_data?: Record<string, unknown>;
}

/** A host the driver chose, as network binding needs it (before the machine is started). */
export interface ClaimedHost {
  /** The hypervisor hostname (bare metal: the node uuid, as Nova shows Ironic nodes). */
  hypervisorHostname: string;
  /** MACs of the host's interfaces the server's ports should be bound to, first = boot NIC. */
  macs: string[];
}

export interface SpawnRequest {
  /** The server id; the bare-metal node carries it as instance_uuid. */
  serverId: string;
  name: string;
  projectId: string;
  userId: string;
  placement: PlacementRequest;
  /** Hosts not to use: earlier failed attempts (Nova's retry excludes them). */
  excludeHosts: string[];
  /** Hosts that must be used when non-empty (an affinity group's host). */
  requireHosts?: string[];
  imageId: string;
  /** Write a config drive (false: the metadata service alone gives the instance its metadata). */
  configDrive: boolean;
  /**
   * Called once a host is claimed and before the machine starts: binds the ports to the host
   * and returns the config drive (network_data depends on the ports). A throw releases the claim.
   */
  prepare(host: ClaimedHost): Promise<ConfigDriveContents>;
}

/** Thrown by spawn() when no host matches or every match was taken (Nova's NoValidHost). */
export class NoValidHostError extends Error {}

export type DriverState = 'building' | 'active' | 'stopped' | 'error' | 'deleted';

export interface DriverStatus {
  state: DriverState;
  /** An operation (power change, deploy, teardown) is still running on the host. */
  busy: boolean;
  power: 'on' | 'off' | null;
  hypervisorHostname?: string;
  /** Why it is in error (masked for tenants by the driver). */
  reason?: string;
}

export interface DriverAddress {
  network: string;
  ip: string;
  mac: string;
  version: 4 | 6;
}

export interface Hypervisor {
  /** Stable id (bare metal: node uuid). */
  id: string;
  hypervisorHostname: string;
  hypervisorType: string;
  state: 'up' | 'down';
  status: 'enabled' | 'disabled';
  hostIp: string | null;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  vcpusUsed: number;
  memoryMbUsed: number;
  localGbUsed: number;
  runningVms: number;
  /** Server ids on it. */
  servers: string[];
}

export interface VirtDriver {
  readonly name: string;
  /** Whether several servers may run on one host (false on bare metal: affinity cannot hold for >1). */
  readonly sharesHosts: boolean;
  /**
   * Claims a host atomically and starts building the server on it; returns the host. Throws
   * NoValidHostError (with the reason) when nothing matches or every match was taken.
   */
  spawn(req: SpawnRequest): Promise<ClaimedHost>;
  /** Starts tearing the server down; call again until status() says "deleted". Idempotent. */
  destroy(serverId: string, projectId: string): Promise<void>;
  reboot(serverId: string, projectId: string, hard: boolean): Promise<void>;
  powerOff(serverId: string, projectId: string): Promise<void>;
  powerOn(serverId: string, projectId: string): Promise<void>;
  /** Re-images the server's host with `imageId` and a fresh config drive. */
  rebuild(serverId: string, projectId: string, imageId: string, configDrive: ConfigDriveContents): Promise<void>;
  /** The last `lines` lines of the serial console, or throws a 409/501 naming why there is none. */
  consoleOutput(serverId: string, projectId: string, lines: number | null): Promise<string>;
  /** Progress of many servers at once (the lifecycle loop's one query per pass). */
  status(servers: readonly { id: string; projectId: string }[]): Promise<Map<string, DriverStatus>>;
  /** Addresses the host side knows without a network service (bare metal: the DHCP lease). */
  addresses(serverId: string, projectId: string): Promise<DriverAddress[]>;
  hypervisors(): Promise<Hypervisor[]>;
}
