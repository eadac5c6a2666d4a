// Hardware types are data: for each interface, the implementations the type supports, the
// first available one being the default (Ironic's hardware types). Boot and deploy for
// redfish/ipmi default to the real implementations ("ipxe", "direct": src/baremetal/drivers/
// ipxe-boot.ts and direct-deploy.ts, which need the boot and image services).
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
