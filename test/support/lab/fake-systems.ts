// A fake SystemBackend for the Redfish layer's unit tests: power and boot state in memory.
// The real proof is QemuSystems against QEMU (test/lab-sushy.test.ts); this one only lets the HTTP
// layer (auth, sessions, ETags, validation) be tested in milliseconds.
import { ConflictError, NotFoundError } from '../../../src/common/errors.js';
import type { BootMode, BootOverride, ResetType, SystemBackend, SystemInfo } from '../../../src/lab/systems.js';
import type { MachineRecord } from '../../../src/lab/spec.js';

export class FakeSystems implements SystemBackend {
  readonly power = new Map<string, 'On' | 'Off'>();
  readonly boot = new Map<string, BootOverride>();
  readonly calls: Array<{ id: string; type: ResetType }> = [];

  constructor(private readonly list: MachineRecord[]) {
    for (const m of list) {
      this.power.set(m.systemId, 'Off');
      this.boot.set(m.systemId, { target: 'None', enabled: 'Disabled', mode: 'Legacy' });
    }
  }

  machines(): MachineRecord[] {
    return this.list;
  }

  bootModes(): BootMode[] {
    return ['Legacy'];
  }

  private find(id: string): MachineRecord {
    const m = this.list.find((x) => x.systemId === id);
    if (!m) throw new NotFoundError('ComputerSystem', id);
    return m;
  }

  async get(id: string): Promise<SystemInfo> {
    const m = this.find(id);
    return { machine: m, powerState: this.power.get(id)!, boot: { ...this.boot.get(id)! } };
  }

  async setBoot(id: string, change: Partial<BootOverride>): Promise<void> {
    this.find(id);
    this.boot.set(id, { ...this.boot.get(id)!, ...change });
  }

  async reset(id: string, type: ResetType): Promise<void> {
    this.find(id);
    this.calls.push({ id, type });
    if (type === 'ForceOff' || type === 'GracefulShutdown') this.power.set(id, 'Off');
    else if (type === 'Nmi' && this.power.get(id) === 'Off') throw new ConflictError('off');
    else if (type !== 'Nmi') this.power.set(id, 'On');
  }
}
