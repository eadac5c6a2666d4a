// The lab directory: lab.json, the BMC password (0600), and per machine a disk, a console log,
// a QMP socket, a pid file and the exit record of its last QEMU. Everything the lab writes on
// disk is under this directory, so `down` can remove it and nothing else.
import { readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ValidationError } from '../common/errors.js';
import type { LabRecord } from './spec.js';

/** Default lab directory: $BOOTSTACK_LAB_DIR, else ./.lab in the current directory. */
export function defaultLabDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.BOOTSTACK_LAB_DIR ?? '.lab');
}

export class LabPaths {
  constructor(readonly dir: string) {}
  get record(): string {
    return join(this.dir, 'lab.json');
  }
  get password(): string {
    return join(this.dir, 'bmc-password');
  }
  get bmcPid(): string {
    return join(this.dir, 'bmc.pid');
  }
  get bmcLog(): string {
    return join(this.dir, 'bmc.log');
  }
  /** Boot overrides and what each running QEMU was started with; written by the BMC only. */
  get bmcState(): string {
    return join(this.dir, 'bmc-state.json');
  }
  get instackenv(): string {
    return join(this.dir, 'instackenv.json');
  }
  machineDir(name: string): string {
    return join(this.dir, 'machines', name);
  }
  disk(name: string): string {
    return join(this.machineDir(name), 'disk.qcow2');
  }
  console(name: string): string {
    return join(this.machineDir(name), 'console.log');
  }
  qmp(name: string): string {
    return join(this.machineDir(name), 'qmp.sock');
  }
  pid(name: string): string {
    return join(this.machineDir(name), 'qemu.pid');
  }
  stderr(name: string): string {
    return join(this.machineDir(name), 'qemu.stderr');
  }
  /** Written by the wrapper shell when QEMU exits: its exit status. */
  exit(name: string): string {
    return join(this.machineDir(name), 'qemu.exit');
  }
  /** Present while the BMC is stopping a machine on purpose, so its exit is not reported as a failure. */
  intendedOff(name: string): string {
    return join(this.machineDir(name), 'powered-off');
  }
  uefiVars(name: string): string {
    return join(this.machineDir(name), 'OVMF_VARS.fd');
  }
}

export async function readLabRecord(paths: LabPaths): Promise<LabRecord | undefined> {
  let text: string;
  try {
    text = await readFile(paths.record, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const rec = JSON.parse(text) as LabRecord;
    if (rec.version !== 1 || !Array.isArray(rec.machines)) throw new Error('unknown version or no machines list');
    return rec;
  } catch (err) {
    throw new ValidationError(`is not a lab record this version understands: ${(err as Error).message}`, { file: paths.record }, { cause: err });
  }
}

export async function writeLabRecord(paths: LabPaths, rec: LabRecord): Promise<void> {
  await writeFileAtomic(paths.record, JSON.stringify(rec, null, 2) + '\n');
}

/** Reads the BMC password, creating a random one (0600) on first use. Never logged. */
export async function ensureBmcPassword(paths: LabPaths): Promise<string> {
  if (existsSync(paths.password)) return (await readFile(paths.password, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await mkdir(paths.dir, { recursive: true });
  await writeFileAtomic(paths.password, password + '\n', { mode: 0o600 });
  return password;
}

export async function readBmcPassword(paths: LabPaths): Promise<string> {
  return (await readFile(paths.password, 'utf8')).trim();
}
