// The network service's configuration section (`network:` in bootstack.yaml): the provisioning
// network created at first start (docs/network.md "The provisioning network").
import { z } from 'zod';

const ipv4 = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address');

export const provisioningConfigSchema = z.strictObject({
  /** The network's (and its subnet's) name. */
  name: z.string().min(1).max(255).default('ctlplane'),
  /**
   * The subnet, e.g. 192.168.24.0/24. Without it, and with the boot service's dnsmasq in dhcp
   * mode, it is derived from boot.dnsmasq (range_start and netmask).
   */
  cidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'must be an IPv4 CIDR (a.b.c.d/n)').optional(),
  /** Default: the provisioning interface's address when it is in the subnet, else none. */
  gateway: ipv4.optional(),
  /** The allocation pool; default: the larger part of the subnet outside dnsmasq's dynamic range. */
  allocation_start: ipv4.optional(),
  allocation_end: ipv4.optional(),
  dns_nameservers: z.array(ipv4).max(5).default([]),
  physical_network: z.string().min(1).max(64).default('ctlplane'),
  mtu: z.number().int().min(68).max(9216).default(1500),
});

export const networkConfigSchema = z.strictObject({
  provisioning: provisioningConfigSchema.prefault({}),
});

export type ProvisioningConfig = z.infer<typeof provisioningConfigSchema>;
export type NetworkConfig = z.infer<typeof networkConfigSchema>;
