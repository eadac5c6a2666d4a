// The lab's machines as an instackenv.json node file (TripleO's format): what `bootstack node
// import` enrols in one step. pm_system_id is the Redfish System path (TripleO maps it to
// driver_info.redfish_system_id; pm_addr to redfish_address, pm_user/pm_password likewise).
import { writeFileAtomic } from '../common/atomic-write.js';
import type { LabRecord } from './spec.js';

export interface InstackNode {
  name: string;
  pm_type: 'redfish';
  pm_addr: string;
  pm_user: string;
  pm_password: string;
  pm_system_id: string;
  mac: string[];
  cpu: string;
  memory: string;
  disk: string;
  arch: 'x86_64';
  capabilities: string;
}

export function instackenv(lab: LabRecord, password: string): { nodes: InstackNode[] } {
  return {
    nodes: lab.machines.map((m) => ({
      name: m.name,
      pm_type: 'redfish',
      pm_addr: lab.bmc.url,
      pm_user: lab.bmc.username,
      pm_password: password,
      pm_system_id: `/redfish/v1/Systems/${m.systemId}`,
      mac: [m.mac],
      cpu: String(m.cpus),
      memory: String(m.memoryMiB),
      disk: String(m.diskGiB),
      arch: 'x86_64',
      capabilities: `boot_mode:${lab.firmware}`,
    })),
  };
}

/** Written 0600: it holds the BMC password. */
export async function writeInstackenv(path: string, lab: LabRecord, password: string): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(instackenv(lab, password), null, 2) + '\n', { mode: 0o600 });
}
