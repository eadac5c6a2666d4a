// The firmware a node boots with, as Ironic reads it: the node's boot_mode field when set, else the
// "boot_mode:uefi|bios" capability (instackenv.json and TripleO set it), else the instance's
// deploy_boot_mode. One reading for every interface, so the BMC's boot override and the iPXE
// script never disagree about BIOS vs UEFI.
import type { DriverNode } from './interfaces.js';

export function nodeBootMode(node: Pick<DriverNode, 'boot_mode' | 'properties' | 'instance_info'>): 'uefi' | 'bios' | undefined {
  let mode = node.boot_mode ?? undefined;
  const caps = node.properties.capabilities;
  if (!mode && typeof caps === 'string') mode = /(?:^|,)\s*boot_mode:(\w+)/.exec(caps)?.[1];
  if (!mode && typeof node.instance_info.deploy_boot_mode === 'string') mode = node.instance_info.deploy_boot_mode;
  return mode === 'uefi' || mode === 'bios' ? mode : undefined;
}
