// The lab's public API for the rest of Bootstack (the boot service runs dnsmasq on the lab's
// provisioning bridge; end-to-end tests bring a lab up and down).
export { labUp, labDown, labStatus, labConsole, findMachine, requireLab } from './lab.js';
export type { UpInput, UpResult, LabStatus, MachineStatus, DownResult, LabOptions } from './lab.js';
export { LabPaths, defaultLabDir, readLabRecord, readBmcPassword } from './state.js';
export type { LabRecord, MachineRecord, LabRequest, Firmware, Accel, AccelChoice } from './spec.js';
export { instackenv } from './instackenv.js';
export { buildRedfishApp } from './redfish.js';
export { IPXE_NIC_OPEN } from './accel.js';
export { listenForDhcp, type DhcpRequest } from './dhcp-listen.js';

import { LabPaths, defaultLabDir, readLabRecord } from './state.js';
import { NotFoundError } from '../common/errors.js';

/** Where the provisioning network is, for whoever serves DHCP/TFTP/HTTP on it. */
export interface ProvisioningNetwork {
  /** Network namespace that holds the bridge; run dnsmasq inside it (`ip netns exec`) on `bridge`, */
  namespace: string;
  bridge: string;
  /** ...or in the host namespace on this interface, which carries the seed address. */
  seedInterface: string;
  seedAddress: string;
  cidr: string;
  prefixLength: number;
}

export async function provisioningNetwork(dir: string = defaultLabDir()): Promise<ProvisioningNetwork> {
  const lab = await readLabRecord(new LabPaths(dir));
  if (!lab) throw new NotFoundError('lab', dir);
  const n = lab.network;
  return {
    namespace: n.namespace,
    bridge: n.bridge,
    seedInterface: n.seedInterface,
    seedAddress: n.seedAddress,
    cidr: n.cidr,
    prefixLength: n.prefixLength,
  };
}
