// What the Redfish service needs from the machines behind it (a small interface), and its real
// implementation: QEMU processes driven through QMP. A fake for unit tests is in
// test/support/lab/fake-systems.ts.
//
// Boot overrides: QEMU fixes the boot order (bootindex) when it starts, so an override takes effect
// at the next power-on; a reset with a different effective boot order than the running QEMU was
// started with restarts the QEMU process instead of a plain system_reset, so the new order applies.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic-write.js';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.js';
import { qmpCommand } from './qmp.js';
import { livePid, machinePower, startMachine, stopMachine, type BootTarget } from './qemu.js';
import type { LabPaths } from './state.js';
import type { LabRecord, MachineRecord } from './spec.js';

export const RESET_TYPES = [
  'On',
  'ForceOff',
  'GracefulShutdown',
  'GracefulRestart',
  'ForceRestart',
  'Nmi',
  'ForceOn',
  'PushPowerButton',
  'PowerCycle',
] as const;
export type ResetType = (typeof RESET_TYPES)[number];

export const BOOT_TARGETS = ['None', 'Pxe', 'Hdd'] as const;
export const BOOT_ENABLED = ['Disabled', 'Once', 'Continuous'] as const;
export type BootEnabled = (typeof BOOT_ENABLED)[number];
export type BootMode = 'Legacy' | 'UEFI';

export interface BootOverride {
  target: BootTarget;
  enabled: BootEnabled;
  mode: BootMode;
}

export interface SystemInfo {
  machine: MachineRecord;
  powerState: 'On' | 'Off';
  boot: BootOverride;
}

/** The machines a Redfish service serves. */
export interface SystemBackend {
  machines(): MachineRecord[];
  /** Boot modes the firmware supports (one: the lab's firmware is fixed when the lab is made). */
  bootModes(): BootMode[];
  get(systemId: string): Promise<SystemInfo>;
  setBoot(systemId: string, change: Partial<BootOverride>): Promise<void>;
  reset(systemId: string, type: ResetType): Promise<void>;
}

interface MachineBmcState {
  target: BootTarget;
  enabled: BootEnabled;
  /** The boot order the running QEMU was started with. */
  startedWith?: BootTarget;
}

export class QemuSystems implements SystemBackend {
  private state: Record<string, MachineBmcState> = {};
  private locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly lab: LabRecord,
    private readonly paths: LabPaths,
  ) {}

  async load(): Promise<this> {
    try {
      this.state = JSON.parse(await readFile(this.paths.bmcState, 'utf8')) as Record<string, MachineBmcState>;
    } catch {
      this.state = {};
    }
    return this;
  }

  machines(): MachineRecord[] {
    return this.lab.machines;
  }

  bootModes(): BootMode[] {
    return [this.lab.firmware === 'uefi' ? 'UEFI' : 'Legacy'];
  }

  private find(systemId: string): MachineRecord {
    const m = this.lab.machines.find((x) => x.systemId === systemId || x.name === systemId);
    if (!m) throw new NotFoundError('ComputerSystem', systemId);
    return m;
  }

  private st(m: MachineRecord): MachineBmcState {
    return (this.state[m.name] ??= { target: 'None', enabled: 'Disabled' });
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.paths.bmcState, JSON.stringify(this.state, null, 2) + '\n');
  }

  /** One operation at a time per machine: a reset must not race a power-off. */
  private serial<T>(m: MachineRecord, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(m.name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      m.name,
      next.catch(() => undefined),
    );
    return next;
  }

  async get(systemId: string): Promise<SystemInfo> {
    const m = this.find(systemId);
    const p = await machinePower(this.paths, m.name);
    const s = this.st(m);
    return { machine: m, powerState: p.power, boot: { target: s.target, enabled: s.enabled, mode: this.bootModes()[0]! } };
  }

  async setBoot(systemId: string, change: Partial<BootOverride>): Promise<void> {
    const m = this.find(systemId);
    if (change.mode !== undefined && !this.bootModes().includes(change.mode)) {
      throw new BadRequestError(
        `BootSourceOverrideMode ${change.mode} is not supported: this lab's machines have ${this.lab.firmware} firmware (${this.bootModes()[0]})`,
      );
    }
    await this.serial(m, async () => {
      const s = this.st(m);
      if (change.target !== undefined) s.target = change.target;
      if (change.enabled !== undefined) s.enabled = change.enabled;
      // Setting a target without saying how long it lasts means "once", as on most BMCs.
      else if (change.target !== undefined && change.target !== 'None' && s.enabled === 'Disabled') s.enabled = 'Once';
      await this.save();
    });
  }

  /** The boot target for the next start, consuming a "Once" override. */
  private takeTarget(s: MachineBmcState): BootTarget {
    if (s.enabled === 'Disabled' || s.target === 'None') return 'None';
    const t = s.target;
    if (s.enabled === 'Once') s.enabled = 'Disabled';
    return t;
  }

  private peekTarget(s: MachineBmcState): BootTarget {
    return s.enabled === 'Disabled' ? 'None' : s.target;
  }

  private async powerOn(m: MachineRecord, s: MachineBmcState): Promise<void> {
    if (await livePid(this.paths, m.name)) return;
    const target = this.takeTarget(s);
    await startMachine(this.lab, m, this.paths, target);
    s.startedWith = target;
    await this.save();
  }

  private async restart(m: MachineRecord, s: MachineBmcState): Promise<void> {
    if (!(await livePid(this.paths, m.name))) return this.powerOn(m, s);
    const want = this.peekTarget(s);
    if (want !== (s.startedWith ?? 'None')) {
      await stopMachine(this.paths, m.name);
      return this.powerOn(m, s);
    }
    this.takeTarget(s);
    await qmpCommand(this.paths.qmp(m.name), 'system_reset');
    await this.save();
  }

  async reset(systemId: string, type: ResetType): Promise<void> {
    const m = this.find(systemId);
    if (!RESET_TYPES.includes(type)) throw new BadRequestError(`ResetType ${String(type)} is not one of ${RESET_TYPES.join(', ')}`);
    await this.serial(m, async () => {
      const s = this.st(m);
      const on = Boolean(await livePid(this.paths, m.name));
      switch (type) {
        case 'On':
        case 'ForceOn':
          return this.powerOn(m, s);
        case 'ForceOff':
          return stopMachine(this.paths, m.name);
        case 'GracefulShutdown':
          if (!on) return;
          // The guest decides; QEMU exits when it powers off (no -no-shutdown).
          await qmpCommand(this.paths.qmp(m.name), 'system_powerdown');
          return;
        case 'PushPowerButton':
          if (on) await qmpCommand(this.paths.qmp(m.name), 'system_powerdown');
          else await this.powerOn(m, s);
          return;
        case 'GracefulRestart':
        case 'ForceRestart':
          return this.restart(m, s);
        case 'PowerCycle':
          if (on) await stopMachine(this.paths, m.name);
          return this.powerOn(m, s);
        case 'Nmi':
          if (!on) throw new ConflictError(`cannot send an NMI to ${m.name}: it is powered off`);
          await qmpCommand(this.paths.qmp(m.name), 'inject-nmi');
          return;
      }
    });
  }
}
