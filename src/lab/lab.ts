// `lab up`, `status`, `down` and `console` as functions. `up` converges: it creates what is
// missing and keeps what exists, refusing changes to an existing machine's size or the lab's
// firmware. `down` removes exactly what the lab made: processes, namespace (bridge, taps, veth),
// and the files it wrote in the lab directory.
import { existsSync } from 'node:fs';
import { rm, rmdir, readdir, open } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../common/errors.js';
import { chooseAccel } from './accel.js';
import { bmcAnswers, bmcRunning, checkPortFree, ensureBmc, freePort, stopBmc } from './bmc-process.js';
import { writeInstackenv } from './instackenv.js';
import { BRIDGE, PEER, chooseNetwork, ensureNetwork, namespaceExists, networkNames, removeNetwork, removeTap } from './network.js';
import { checkPrerequisites } from './prereqs.js';
import { machinePower, prepareMachineFiles, stopMachine, type MachinePower } from './qemu.js';
import { sleep } from '../common/sleep.js';
import { machineMac, normalizeRequest, type LabRecord, type LabRequest, type MachineRecord } from './spec.js';
import { LabPaths, defaultLabDir, ensureBmcPassword, readLabRecord, writeLabRecord } from './state.js';

export interface LabOptions {
  dir?: string;
  onProgress?: (message: string) => void;
}

export interface UpResult {
  lab: LabRecord;
  created: boolean;
  added: string[];
  removed: string[];
  instackenv: string;
}

function paths(o: LabOptions): LabPaths {
  return new LabPaths(o.dir ?? defaultLabDir());
}

function newMachine(labId: string, prefix: string, index: number, req: LabRequest): MachineRecord {
  return {
    name: `${prefix}${index}`,
    index,
    systemId: randomUUID(),
    mac: machineMac(labId, index),
    tap: `tap${index}`,
    cpus: req.cpus,
    memoryMiB: req.memoryMiB,
    diskGiB: req.diskGiB,
  };
}

/** Only the options the caller gave (undefined = keep what the lab has). */
export type UpInput = Partial<Record<keyof LabRequest, unknown>>;

/** Refuses a second `up` that asks for something different from what exists. */
function checkConflicts(lab: LabRecord, input: UpInput, req: LabRequest): void {
  const problems: string[] = [];
  if (input.firmware !== undefined && req.firmware !== lab.firmware) problems.push(`firmware ${lab.firmware} (asked ${req.firmware})`);
  if (input.cidr !== undefined && req.cidr !== lab.network.cidr) problems.push(`network ${lab.network.cidr} (asked ${req.cidr})`);
  if (input.bmcPort !== undefined && req.bmcPort !== 0 && req.bmcPort !== lab.bmc.port) problems.push(`BMC port ${lab.bmc.port} (asked ${req.bmcPort})`);
  const askedHost = req.bmcHost === 'seed' ? lab.network.seedAddress : req.bmcHost;
  if (input.bmcHost !== undefined && askedHost !== lab.bmc.host) problems.push(`BMC address ${lab.bmc.host} (asked ${req.bmcHost})`);
  if (input.bmcUser !== undefined && req.bmcUser !== lab.bmc.username) problems.push(`BMC user ${lab.bmc.username} (asked ${req.bmcUser})`);
  if (input.accel !== undefined && req.accel !== 'auto' && req.accel !== lab.accel) problems.push(`accelerator ${lab.accel} (asked ${req.accel})`);
  for (const m of lab.machines) {
    const sized: Array<[keyof LabRequest, keyof MachineRecord, string]> = [
      ['memoryMiB', 'memoryMiB', 'memory MiB'],
      ['cpus', 'cpus', 'cpus'],
      ['diskGiB', 'diskGiB', 'disk GiB'],
    ];
    for (const [k, mk, label] of sized) {
      if (input[k] !== undefined && req[k] !== m[mk]) problems.push(`${m.name} has ${label} ${String(m[mk])} (asked ${String(req[k])})`);
    }
  }
  if (problems.length) {
    throw new ConflictError(
      `a lab already exists here with different settings: ${problems.join('; ')}. Run \`bootstack lab down\` first to rebuild it with new settings.`,
      { fields: { problems } },
    );
  }
}

/**
 * Stops and removes the machines a smaller `up` drops, and only then saves `lab` (the shorter
 * list): if a removal fails, lab.json still lists the rest, so a later `up` or `down` removes
 * them instead of leaving running QEMU and machine folders no record knows about.
 */
export async function removeExtraMachines(
  p: LabPaths,
  lab: LabRecord,
  extra: readonly MachineRecord[],
  remove: (m: MachineRecord) => Promise<void>,
  progress: (message: string) => void = () => undefined,
): Promise<string[]> {
  const removed: string[] = [];
  for (const m of extra) {
    progress(`removing ${m.name}`);
    await remove(m);
    removed.push(m.name);
  }
  if (removed.length) await writeLabRecord(p, lab);
  return removed;
}

export async function labUp(input: UpInput, options: LabOptions = {}): Promise<UpResult> {
  const p = paths(options);
  const progress = options.onProgress ?? (() => undefined);
  const existing = await readLabRecord(p);
  // For an existing lab, what the caller did not say is taken from the lab, so a bare `up` converges.
  const base: UpInput = existing
    ? {
        firmware: existing.firmware,
        cidr: existing.network.cidr,
        bmcHost: existing.bmc.host,
        bmcPort: existing.bmc.port,
        bmcUser: existing.bmc.username,
        nodes: existing.machines.length,
        ...(existing.machines[0]
          ? { cpus: existing.machines[0].cpus, memoryMiB: existing.machines[0].memoryMiB, diskGiB: existing.machines[0].diskGiB }
          : {}),
      }
    : {};
  const req = normalizeRequest({ ...base, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) });
  await checkPrerequisites(req.firmware);
  if (existing) checkConflicts(existing, input, req);

  let lab: LabRecord;
  const added: string[] = [];
  const removed: string[] = [];
  if (!existing) {
    const id = randomBytes(3).toString('hex');
    const names = networkNames(id);
    // "seed": the seed's address, which exists only once the network is made; until then a port
    // is checked free on every address.
    const probeHost = req.bmcHost === 'seed' ? '0.0.0.0' : req.bmcHost;
    if (req.bmcPort !== 0) await checkPortFree(probeHost, req.bmcPort);
    progress('choosing the accelerator');
    const verdict = await chooseAccel(req.accel);
    progress(`accelerator: ${verdict.accel} (${verdict.reason})`);
    const net = await chooseNetwork(id, names.seedInterface, req.cidr);
    const port = req.bmcPort === 0 ? await freePort(probeHost) : req.bmcPort;
    const bmcHost = req.bmcHost === 'seed' ? net.seedAddress : req.bmcHost;
    lab = {
      version: 1,
      id,
      createdAt: new Date().toISOString(),
      firmware: req.firmware,
      accel: verdict.accel,
      accelReason: verdict.reason,
      network: { ...names, bridge: BRIDGE, peerInterface: PEER, ...net },
      bmc: { host: bmcHost, port, username: req.bmcUser, url: `http://${bmcHost}:${port}`, uuid: randomUUID() },
      machines: [],
    };
  } else {
    lab = structuredClone(existing);
  }
  const prefix = existing?.machines[0]?.name.replace(/\d+$/, '') ?? req.namePrefix;
  for (let i = lab.machines.length; i < req.nodes; i++) {
    const m = newMachine(lab.id, prefix, i, req);
    lab.machines.push(m);
    added.push(m.name);
  }
  const extra = lab.machines.slice(req.nodes);
  lab.machines = lab.machines.slice(0, req.nodes);
  await ensureBmcPassword(p);
  // Machines being dropped stay in lab.json until they are gone (see removeExtraMachines).
  await writeLabRecord(p, { ...lab, machines: [...lab.machines, ...extra] });

  progress(`network ${lab.network.cidr} (seed ${lab.network.seedAddress} on ${lab.network.seedInterface}, namespace ${lab.network.namespace})`);
  await ensureNetwork(lab);
  removed.push(...(await removeExtraMachines(p, lab, extra, async (m) => {
    await stopMachine(p, m.name);
    await removeTap(lab, m.tap);
    await rm(p.machineDir(m.name), { recursive: true, force: true });
  }, progress)));
  for (const m of lab.machines) {
    progress(`machine ${m.name}: ${m.cpus} cpu, ${m.memoryMiB} MiB, ${m.diskGiB} GiB disk, MAC ${m.mac}`);
    await prepareMachineFiles(lab, m, p);
  }
  // The BMC reads the machine list when it starts: restart it when the list changed.
  if (added.length || removed.length) await stopBmc(p);
  progress(`BMC on ${lab.bmc.url}`);
  await ensureBmc(lab, p);
  const password = await ensureBmcPassword(p);
  await writeInstackenv(p.instackenv, lab, password);
  return { lab, created: !existing, added, removed, instackenv: p.instackenv };
}

export interface MachineStatus extends MachinePower {
  name: string;
  mac: string;
  systemId: string;
}

export interface LabStatus {
  dir: string;
  lab: LabRecord;
  bmc: { running: boolean; pid?: number; answers: boolean };
  network: { namespace: boolean };
  machines: MachineStatus[];
}

export async function requireLab(p: LabPaths): Promise<LabRecord> {
  const lab = await readLabRecord(p);
  if (!lab) throw new NotFoundError('lab', p.dir, { fields: { hint: 'run `bootstack lab up` first' } });
  return lab;
}

export async function labStatus(options: LabOptions = {}): Promise<LabStatus> {
  const p = paths(options);
  const lab = await requireLab(p);
  const pid = await bmcRunning(p);
  const machines: MachineStatus[] = [];
  for (const m of lab.machines) {
    machines.push({ name: m.name, mac: m.mac, systemId: m.systemId, ...(await machinePower(p, m.name)) });
  }
  return {
    dir: p.dir,
    lab,
    bmc: { running: Boolean(pid), ...(pid ? { pid } : {}), answers: await bmcAnswers(lab) },
    network: { namespace: await namespaceExists(lab.network.namespace) },
    machines,
  };
}

export function findMachine(lab: LabRecord, name: string): MachineRecord {
  const m = lab.machines.find((x) => x.name === name || x.systemId === name);
  if (!m) {
    const known = lab.machines.map((x) => x.name);
    const err = new NotFoundError('lab machine', name, { fields: { known } });
    err.message += ` Machines in this lab: ${known.join(', ')}.`;
    throw err;
  }
  return m;
}

/** The machine's serial console log so far; with `follow`, keeps writing what arrives until aborted. */
export async function labConsole(
  name: string,
  write: (chunk: Buffer) => void,
  options: LabOptions & { follow?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const p = paths(options);
  const lab = await requireLab(p);
  const m = findMachine(lab, name);
  const file = await open(p.console(m.name), 'r');
  try {
    let pos = 0;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await file.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        write(buf.subarray(0, bytesRead));
        pos += bytesRead;
        continue;
      }
      if (!options.follow || options.signal?.aborted) return;
      await sleep(200);
    }
  } finally {
    await file.close();
  }
}

export interface DownResult {
  dir: string;
  removed: boolean;
  machines: string[];
}

/** Stops everything and removes what `up` created. Safe to run again. */
export async function labDown(options: LabOptions = {}): Promise<DownResult> {
  const p = paths(options);
  const progress = options.onProgress ?? (() => undefined);
  const lab = await readLabRecord(p);
  if (!lab) {
    // A half-made lab (up failed before lab.json) can still have a BMC pid file; nothing else.
    await stopBmc(p);
    return { dir: p.dir, removed: false, machines: [] };
  }
  const names = lab.machines.map((m) => m.name);
  // Machines first: a QEMU inside the namespace would keep it alive after `ip netns del`.
  for (const name of names) {
    progress(`stopping ${name}`);
    await stopMachine(p, name);
  }
  progress('stopping the BMC');
  await stopBmc(p);
  progress(`removing namespace ${lab.network.namespace} and ${lab.network.seedInterface}`);
  await removeNetwork(lab.network);
  for (const name of names) await rm(p.machineDir(name), { recursive: true, force: true });
  await rmdirIfEmpty(`${p.dir}/machines`);
  for (const f of [p.instackenv, p.bmcState, p.bmcLog, p.bmcPid, p.password, p.record]) await rm(f, { force: true });
  await rmdirIfEmpty(p.dir);
  return { dir: p.dir, removed: true, machines: names };
}

async function rmdirIfEmpty(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  if ((await readdir(dir)).length === 0) await rmdir(dir);
}
