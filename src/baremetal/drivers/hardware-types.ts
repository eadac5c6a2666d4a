// Hardware types are data: for each interface, the implementations the type supports, the
// first available one being the default (Ironic's hardware types). Boot and deploy for
// redfish/ipmi default to the real implementations ("ipxe", "direct": src/baremetal/drivers/
// ipxe-boot.ts and direct-deploy.ts, which need the boot and image services).
import { ValidationError } from '../../common/errors.js';
import type { InterfaceKind } from './interfaces.js';

export type HardwareType = Record<InterfaceKind, readonly string[]>;

export const HARDWARE_TYPES: Record<string, HardwareType> = {
  'fake-hardware': {
    // The real boot/deploy may be chosen explicitly (fake power, real network boot and agent):
    // how the loopback end-to-end test plays a machine without a BMC.
    boot: ['fake', 'ipxe'],
    deploy: ['fake', 'direct'],
    inspect: ['fake', 'no-inspect', 'agent'],
    management: ['fake'],
    power: ['fake'],
  },
  redfish: {
    boot: ['ipxe', 'fake'],
    deploy: ['direct', 'fake'],
    inspect: ['redfish', 'agent', 'no-inspect'],
    management: ['redfish'],
    power: ['redfish'],
  },
  ipmi: {
    boot: ['ipxe', 'fake'],
    deploy: ['direct', 'fake'],
    inspect: ['agent', 'no-inspect'],
    management: ['ipmitool'],
    power: ['ipmitool'],
  },
};

/** Interfaces Ironic reports that we do not implement; shown as their no-op names. */
export const FIXED_INTERFACES: Record<string, string> = {
  bios: 'no-bios',
  console: 'no-console',
  firmware: 'no-firmware',
  network: 'noop',
  raid: 'no-raid',
  rescue: 'no-rescue',
  storage: 'noop',
  vendor: 'no-vendor',
};

/**
 * Optional interfaces a hardware type lets a node choose (first = default); a type not listed
 * offers only the FIXED_INTERFACES no-op name. fake-hardware's "fake" ones only record what they
 * are asked (console on/off, the target RAID layout), as Ironic's fake-hardware does.
 */
export const OPTIONAL_KINDS = ['bios', 'console', 'raid', 'vendor'] as const;
export type OptionalKind = (typeof OPTIONAL_KINDS)[number];
const OPTIONAL_INTERFACES: Record<string, Partial<Record<OptionalKind, readonly string[]>>> = {
  'fake-hardware': {
    bios: ['fake', 'no-bios'],
    console: ['fake', 'no-console'],
    raid: ['fake', 'no-raid'],
    vendor: ['fake', 'no-vendor'],
  },
};

/** The implementations `driver` offers for an optional interface kind, the default first. */
export function optionalChoices(driver: string, kind: OptionalKind): readonly string[] {
  return OPTIONAL_INTERFACES[driver]?.[kind] ?? [FIXED_INTERFACES[kind]!];
}

/** The optional interface a node of `driver` gets for `requested` (null/undefined: the default). */
export function resolveOptional(driver: string, kind: OptionalKind, requested: unknown): string {
  const choices = optionalChoices(driver, kind);
  if (requested === undefined || requested === null) return choices[0]!;
  if (typeof requested !== 'string' || !choices.includes(requested)) {
    throw new ValidationError(`"${String(requested)}" is not a ${kind} interface of "${driver}"; available: ${choices.join(', ')}`, {
      path: `body.${kind}_interface`,
    });
  }
  return requested;
}
