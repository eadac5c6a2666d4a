// The named registry of interface implementations (one table, no import side effects), and
// the resolution of a node's driver + interface fields against the hardware types.
import { BadRequestError, ValidationError } from '../../common/errors.js';
import { HARDWARE_TYPES, type HardwareType } from './hardware-types.js';
import { INTERFACE_KINDS, type InterfaceKind, type InterfaceKinds } from './interfaces.js';

export class DriverRegistry {
  private readonly impls: { [K in InterfaceKind]: Map<string, InterfaceKinds[K]> } = {
    boot: new Map(),
    deploy: new Map(),
    inspect: new Map(),
    management: new Map(),
    power: new Map(),
  };

  constructor(readonly hardwareTypes: Record<string, HardwareType> = HARDWARE_TYPES) {}

  register<K extends InterfaceKind>(kind: K, impl: InterfaceKinds[K]): this {
    this.impls[kind].set(impl.name, impl);
    return this;
  }

  has(kind: InterfaceKind, name: string): boolean {
    return this.impls[kind].has(name);
  }

  get<K extends InterfaceKind>(kind: K, name: string): InterfaceKinds[K] {
    const impl = this.impls[kind].get(name);
    if (!impl) {
      throw new BadRequestError(`${kind} interface "${name}" is not available in this server (available: ${[...this.impls[kind].keys()].join(', ')})`);
    }
    return impl;
  }

  hardwareType(driver: string): HardwareType {
    const hw = this.hardwareTypes[driver];
    if (!hw) {
      throw new ValidationError(`unknown driver "${driver}"; enabled: ${Object.keys(this.hardwareTypes).join(', ')}`, { path: 'driver' });
    }
    return hw;
  }

  /** Implementations of `kind` that `driver` supports and this server has. */
  enabled(driver: string, kind: InterfaceKind): string[] {
    return this.hardwareType(driver)[kind].filter((n) => this.has(kind, n));
  }

  defaultFor(driver: string, kind: InterfaceKind): string {
    const first = this.enabled(driver, kind)[0];
    if (!first) throw new BadRequestError(`driver "${driver}" has no available ${kind} interface`);
    return first;
  }

  /** Fills in defaults and refuses an interface the hardware type does not support. */
  resolveInterfaces(driver: string, requested: Partial<Record<InterfaceKind, string | null>>): Record<InterfaceKind, string> {
    const out = {} as Record<InterfaceKind, string>;
    for (const kind of INTERFACE_KINDS) {
      const want = requested[kind];
      if (want === undefined || want === null) {
        out[kind] = this.defaultFor(driver, kind);
        continue;
      }
      if (!this.enabled(driver, kind).includes(want)) {
        throw new ValidationError(
          `"${want}" is not a ${kind} interface of driver "${driver}" (allowed: ${this.enabled(driver, kind).join(', ')})`,
          { path: `${kind}_interface` },
        );
      }
      out[kind] = want;
    }
    return out;
  }
}
