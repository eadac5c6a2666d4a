// The deploy agent's commands, declared once for the three parties that speak them: the
// bare-metal conductor queues them (src/baremetal), the boot service stores and hands them out
// (src/boot), the agent in the deploy ramdisk runs them (src/agents/deploy-agent, bundled for
// Node 18, so nothing here may need more than Node 18 or any package). The names, parameter
// and result fields are the wire format: an older agent and a newer seed (or the reverse) must
// still understand each other, so a field is only ever added as optional, never renamed.
// The validators are no stricter than the agent always was: a field it coerced (image_size,
// root_mb, devices) is coerced the same way, and what it refused is refused with the same
// message, naming the field. The validators are in agent-protocol-check.ts (kept apart for size).
import type { InstanceContent } from './instance-metadata.js';

export const AGENT_COMMANDS = ['inspect', 'erase', 'write_image', 'write_config_drive', 'sync'] as const;
export type AgentCommandName = (typeof AGENT_COMMANDS)[number];

export const CHECKSUM_ALGOS = ['md5', 'sha256', 'sha512'] as const;
export type ChecksumAlgo = (typeof CHECKSUM_ALGOS)[number];

/** Root device hints as Ironic's node.properties.root_device gives them (read by the agent). */
export type RootDeviceHintsParam = Record<string, unknown> | null;

// Params are type aliases, not interfaces, so that they fit the queue's Record<string, unknown>.

/** Where a command that writes finds its disk: `device`, else the hints, else write_image's disk. */
export type TargetParams = {
  device?: string;
  root_device_hints?: RootDeviceHintsParam;
};

export type InspectParams = Record<string, never>;
export type SyncParams = Record<string, never>;

/** Every listed device; else the one `device`; else every disk the agent sees. */
export type EraseParams = {
  devices?: string[];
  device?: string;
};

export type WriteImageParams = TargetParams & {
  image_url: string;
  checksum: string;
  /** Default sha256. */
  checksum_algo?: ChecksumAlgo;
  /** Default whole-disk. */
  image_type?: 'whole-disk' | 'partition';
  /** Bytes; a partition image's root partition is at least this, and at least root_mb. */
  image_size?: number;
  root_mb?: number;
};

export type WriteConfigDriveParams = TargetParams & InstanceContent;

export interface AgentCommandParams {
  inspect: InspectParams;
  erase: EraseParams;
  write_image: WriteImageParams;
  write_config_drive: WriteConfigDriveParams;
  sync: SyncParams;
}

// ---- results (what the agent reports; fields are ironic-python-agent's where one exists) ----

export interface BlockDevice {
  /** /dev/<name>, as root device hints name it. */
  name: string;
  /** Bytes. */
  size: number;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  rotational: boolean;
  hctl: string | null;
}

export interface NetworkInterface {
  name: string;
  mac_address: string;
  /** Carrier present (cable in, switch port up). */
  has_carrier: boolean;
  speed_mbps: number | null;
  /** Backed by a device (not a bridge, bond or veth). */
  physical: boolean;
}

export interface Inventory {
  cpu: { count: number; model_name: string | null; architecture: string };
  memory: { total_bytes: number; physical_mb: number };
  disks: BlockDevice[];
  interfaces: NetworkInterface[];
  system_vendor: { manufacturer: string | null; product_name: string | null; serial_number: string | null; uuid: string | null };
}

export interface EraseResult {
  devices: Array<{ device: string; size: number; wipefs: boolean; zeroed_bytes: number }>;
}

/** Sent with heartbeats while an image is written, and the base of write_image's result. */
export interface WriteProgress {
  /** Bytes of the image on the disk so far (data written plus zero runs zeroed). */
  bytes: number;
  total: number | null;
  seconds: number;
  mb_per_s: number;
}

export interface PartitionInfo {
  /** 1-based number. */
  number: number;
  /** Byte offset and length. */
  start: number;
  size: number;
  name?: string;
  type: string;
}

export interface ImageWrite extends WriteProgress {
  device: string;
  offset: number;
  checksum: string;
  algo: ChecksumAlgo;
  /** 'sparse': only the data extents were downloaded; 'full': every byte was. */
  transfer: 'sparse' | 'full';
  /** Bytes that came over the network (the map included). */
  downloaded_bytes: number;
  /** Bytes of zero runs not downloaded, and how they were zeroed on the disk. */
  zero_bytes: number;
  zeroed_with: Array<'blkdiscard' | 'write'>;
}

export interface WriteImageResult extends ImageWrite {
  image_type: 'whole-disk' | 'partition';
  root_partition?: PartitionInfo;
  config_drive_partition?: PartitionInfo;
}

export interface WriteConfigDriveResult {
  device: string;
  partition: PartitionInfo;
  files: string[];
}

export interface SyncResult {
  synced: true;
}

export interface AgentCommandResults {
  inspect: Inventory;
  erase: EraseResult;
  write_image: WriteImageResult;
  write_config_drive: WriteConfigDriveResult;
  sync: SyncResult;
}

/** A command's outcome as the agent reports it (POST .../commands/{id}/result) and the conductor sees it. */
export interface CommandReport {
  status: 'succeeded' | 'failed';
  result?: unknown;
  error?: string;
}
