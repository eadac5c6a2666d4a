// Hardware types are data: for each interface, the implementations the type supports, the
// first available one being the default (Ironic's hardware types). Boot and deploy for
// redfish/ipmi list the real implementations first ("ipxe", "direct"), which the boot/deploy
// work registers; until then the fake ones are what a node can use.
import type { InterfaceKind } from './interfaces.js';

export type HardwareType = Record<InterfaceKind, readonly string[]>;

export const HARDWARE_TYPES: Record<string, HardwareType> = {
  'fake-hardware': {
    boot: ['fake'],
    deploy: ['fake'],
    inspect: ['fake', 'no-inspect'],
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
