// One lab machine's QEMU: its command line, starting it detached (it must outlive the BMC and the
// CLI), stopping it, and reading whether it runs and, if it died, why.
//
// QEMU runs inside the lab's network namespace (through nsenter) because its tap lives there.
// A tiny sh wrapper waits for it and records the exit status, so `status` can say why a machine
// died; QEMU's stderr goes to a file beside it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { BootstackError } from '../common/errors.js';
import { run } from '../common/child-process.js';
import { sleep } from '../common/sleep.js';
import { queryStatus, qmpCommand } from './qmp.js';
import type { LabPaths } from './state.js';
import type { Accel, Firmware, LabRecord, MachineRecord } from './spec.js';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export type BootTarget = 'None' | 'Pxe' | 'Hdd';

/**
 * SMBIOS chassis asset tag of every lab machine. cloud-init's OpenStack datasource only asks a
 * metadata service (169.254.169.254) on machines whose DMI names OpenStack (product name or
 * chassis asset tag); on real hardware the operator sets the asset tag through the BMC.
 */
export const LAB_ASSET_TAG = 'OpenStack Compute';

export interface QemuOptions {
  name: string;
  uuid?: string;
  accel: Accel;
  firmware: Firmware;
  memoryMiB: number;
  cpus: number;
  consoleLog: string;
  qmpSocket?: string;
  pidFile?: string;
  disk?: string;
  uefiVars?: string;
  /** Tap device; without one the NIC has no peer (the accelerator probe uses that). */
  tap?: string;
  mac?: string;
  /** Which device firmware tries first. */
  bootFirst: 'network' | 'disk';
}

/** QEMU's arguments. No user-mode networking, no default devices, no display. */
export function qemuArgs(o: QemuOptions): string[] {
  const machine = o.firmware === 'uefi' ? 'q35' : 'pc';
  // graphics=off tells SeaBIOS to mirror its console (and iPXE's, which prints through it) to serial.
  const args = ['-name', `guest=${o.name}`, '-machine', `${machine},graphics=off`, '-accel', o.accel];
  args.push('-m', String(o.memoryMiB), '-smp', String(o.cpus), '-nodefaults', '-no-user-config', '-display', 'none');
  if (o.uuid) args.push('-uuid', o.uuid);
  args.push('-smbios', `type=3,asset=${LAB_ASSET_TAG}`);
  args.push('-chardev', `file,id=console0,path=${o.consoleLog},append=on`, '-serial', 'chardev:console0');
  if (o.qmpSocket) args.push('-qmp', `unix:${o.qmpSocket},server=on,wait=off`);
  if (o.pidFile) args.push('-pidfile', o.pidFile);
  if (o.firmware === 'uefi') {
    if (!o.uefiVars) throw new Error('uefi firmware needs a per-machine OVMF_VARS copy');
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${o.uefiVars}`);
  }
  const netFirst = o.bootFirst === 'network';
  if (o.disk) {
    args.push('-drive', `file=${o.disk},if=none,id=disk0,format=qcow2,discard=unmap`);
    args.push('-device', `virtio-blk-pci,drive=disk0,bootindex=${netFirst ? 2 : 1}`);
  }
  const mac = o.mac ? `,mac=${o.mac}` : '';
  if (o.tap) {
    args.push('-netdev', `tap,id=net0,ifname=${o.tap},script=no,downscript=no`);
    args.push('-device', `virtio-net-pci,netdev=net0${mac},bootindex=${netFirst ? 1 : 2}`);
  } else {
    args.push('-device', `virtio-net-pci${mac},bootindex=${netFirst ? 1 : 2}`);
  }
  return args;
}

export function machineQemuOptions(rec: LabRecord, m: MachineRecord, paths: LabPaths, target: BootTarget): QemuOptions {
  return {
    name: m.name,
    uuid: m.systemId,
    accel: rec.accel,
    firmware: rec.firmware,
    memoryMiB: m.memoryMiB,
    cpus: m.cpus,
    consoleLog: paths.console(m.name),
    qmpSocket: paths.qmp(m.name),
    pidFile: paths.pid(m.name),
    disk: paths.disk(m.name),
    uefiVars: rec.firmware === 'uefi' ? paths.uefiVars(m.name) : undefined,
    tap: m.tap,
    mac: m.mac,
    bootFirst: target === 'Pxe' ? 'network' : 'disk',
  };
}

/** Creates the machine's directory, qcow2 disk and UEFI variable store if missing. */
export async function prepareMachineFiles(rec: LabRecord, m: MachineRecord, paths: LabPaths): Promise<void> {
  await mkdir(paths.machineDir(m.name), { recursive: true });
  if (!existsSync(paths.disk(m.name))) {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', paths.disk(m.name), `${m.diskGiB}G`], { timeoutMs: 30000 });
  }
  if (rec.firmware === 'uefi' && !existsSync(paths.uefiVars(m.name))) await copyFile(OVMF_VARS, paths.uefiVars(m.name));
  if (!existsSync(paths.console(m.name))) await writeFile(paths.console(m.name), '');
}

// The start token in the exit record tells this start's exit from a previous QEMU's late one.
const WRAPPER =
  'exit_file=$1; err_file=$2; token=$3; shift 3; "$@" </dev/null >/dev/null 2>"$err_file"; echo "$? $token" >"$exit_file"';

export class MachineStartError extends BootstackError {
  constructor(name: string, detail: string) {
    super(502, 'machine_start_failed', `machine ${name}: QEMU did not start: ${detail}`, { fields: { machine: name } });
  }
}

/** Starts the machine's QEMU detached, and resolves once its QMP socket answers. */
export async function startMachine(rec: LabRecord, m: MachineRecord, paths: LabPaths, target: BootTarget): Promise<number> {
  for (const f of [paths.exit(m.name), paths.intendedOff(m.name), paths.pid(m.name), paths.qmp(m.name)]) {
    await rm(f, { force: true });
  }
  const args = qemuArgs(machineQemuOptions(rec, m, paths, target));
  const token = randomBytes(6).toString('hex');
  const nsPath = `/run/netns/${rec.network.namespace}`;
  const child = spawn(
    'sh',
    ['-c', WRAPPER, 'sh', paths.exit(m.name), paths.stderr(m.name), token, 'nsenter', `--net=${nsPath}`, '--', 'qemu-system-x86_64', ...args],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const exited = await readFile(paths.exit(m.name), 'utf8').catch(() => '');
    if (exited.trim().endsWith(` ${token}`)) {
      const info = await exitReason(paths, m.name);
      throw new MachineStartError(m.name, info ?? 'exited at once');
    }
    const pid = await readPid(paths.pid(m.name));
    if (pid && existsSync(paths.qmp(m.name))) {
      try {
        await queryStatus(paths.qmp(m.name), 1000);
        return pid;
      } catch {
        // not listening yet
      }
    }
    await sleep(50);
  }
  throw new MachineStartError(m.name, `no QMP answer on ${paths.qmp(m.name)} within 20 s`);
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the machine's QEMU if that process is alive and really is this machine's QEMU. */
export async function livePid(paths: LabPaths, name: string): Promise<number | undefined> {
  const pid = await readPid(paths.pid(name));
  if (!pid) return undefined;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    // Zombie processes have an empty cmdline; a reused pid has someone else's.
    return cmdline.includes(paths.qmp(name)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Why the machine's last QEMU stopped, unless it was stopped on purpose. */
export async function exitReason(paths: LabPaths, name: string): Promise<string | undefined> {
  if (existsSync(paths.intendedOff(name))) return undefined;
  let code: string;
  try {
    code = (await readFile(paths.exit(name), 'utf8')).trim().split(' ')[0] ?? '';
  } catch {
    return undefined;
  }
  const stderr = (await readFile(paths.stderr(name), 'utf8').catch(() => '')).trim();
  const lines = stderr.split('\n').filter((l) => l.trim());
  const tail = lines.slice(-3).join(' | ');
  const n = Number(code);
  const how = n > 128 ? `QEMU was killed by signal ${n - 128}` : n === 0 ? 'QEMU exited (guest powered off)' : `QEMU exited with code ${code}`;
  return tail ? `${how}: ${tail}` : how;
}

export interface MachinePower {
  power: 'On' | 'Off';
  pid?: number;
  /** QEMU's run state when on (running, paused, internal-error...). */
  qemuStatus?: string;
  /** For a machine that is off without having been powered off: what happened. */
  reason?: string;
}

export async function machinePower(paths: LabPaths, name: string): Promise<MachinePower> {
  const pid = await livePid(paths, name);
  if (pid) {
    const st = await queryStatus(paths.qmp(name), 1500).catch(() => undefined);
    return { power: 'On', pid, qemuStatus: st?.status ?? 'unknown' };
  }
  // QEMU just died and its wrapper is about to record why: give it a moment.
  const settle = Date.now() + 1000;
  while (existsSync(paths.pid(name)) && !existsSync(paths.exit(name)) && !existsSync(paths.intendedOff(name)) && Date.now() < settle) {
    await sleep(20);
  }
  const reason = await exitReason(paths, name);
  return reason ? { power: 'Off', reason } : { power: 'Off' };
}

/** Stops the machine: QMP quit, then SIGKILL if it lingers. Marks the stop as intended. */
export async function stopMachine(paths: LabPaths, name: string, timeoutMs = 5000): Promise<void> {
  await writeFile(paths.intendedOff(name), new Date().toISOString() + '\n');
  const pid = await livePid(paths, name);
  if (!pid) return;
  await qmpCommand(paths.qmp(name), 'quit', undefined, 1500).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await livePid(paths, name))) await sleep(50);
  if (await livePid(paths, name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    while (await livePid(paths, name)) await sleep(50);
  }
  // Let the wrapper record the exit before anyone starts the machine again.
  const recorded = Date.now() + 2000;
  while (!existsSync(paths.exit(name)) && Date.now() < recorded) await sleep(20);
}
