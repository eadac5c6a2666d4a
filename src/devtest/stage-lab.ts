// Stage `lab`: the virtual lab, as `bootstack lab up` makes it: QEMU machines behind a Redfish BMC
// on a private provisioning network. One machine becomes the undercloud, the others the overcloud
// demo's database and web machines. Idempotent (the lab converges).
import type { LabApi, LabInfo, LabRequestInput } from './deps.js';
import type { StageIo } from './stage-io.js';

export interface LabStageInput extends LabRequestInput {
  dir: string;
}

export type LabOutput = LabInfo;

/**
 * Machines the devtest needs: the undercloud, one database, `webCount` web machines and one spare
 * (the `replace` stage makes the new database server before it deletes the old one, as Heat does).
 */
export function machinesNeeded(webCount: number): number {
  return 3 + webCount;
}

export async function runLabStage(input: LabStageInput, deps: { lab: LabApi }, io: StageIo): Promise<LabOutput> {
  const { dir, ...request } = input;
  io.progress(`bootstack lab up --dir ${dir} --nodes ${request.nodes} --memory ${request.memoryMiB} --disk ${request.diskGiB} --cpus ${request.cpus} --firmware ${request.firmware} --accel ${request.accel} --bmc-port 0`);
  const lab = await deps.lab.up(request, { dir, onProgress: io.progress });
  io.progress(`${lab.machines.length} machines (${lab.machines.map((m) => m.name).join(', ')}) under ${lab.accel}; the seed's address is ${lab.seedAddress} on ${lab.seedInterface}`);
  return lab;
}
