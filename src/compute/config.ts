// Compute service configuration (`compute:` in bootstack.yaml).
import { z } from 'zod';

export const computeConfigSchema = z.strictObject({
  /** Milliseconds between passes of the lifecycle loop (servers building, rebooting, deleting). */
  sync_interval_ms: z.number().int().min(10).default(500),
  /** Nova's scheduler.max_attempts: the first try plus reschedules after a failed deploy. */
  max_attempts: z.number().int().min(1).max(10).default(2),
  /**
   * The network name a server's addresses are listed under when no network service is
   * configured (the provisioning network its node's DHCP lease came from).
   */
  provisioning_network_name: z.string().min(1).default('ctlplane'),
  /**
   * Write a config drive for every server, asked for or not (Nova's force_config_drive). On bare
   * metal the images read their first-boot data from the drive; with false, a server created
   * without config_drive gets its metadata from the metadata service only.
   */
  force_config_drive: z.boolean().default(true),
  /**
   * Flavors made at first start when no flavor of that name exists, as an undercloud install does:
   * public, `resources:CUSTOM_<NAME>=1` (the node resource class of that name) and VCPU, MEMORY_MB
   * and DISK_GB zeroed, so `flavor: baremetal` in a template finds the nodes of class "baremetal".
   */
  default_flavors: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/)).default(['baremetal']),
  /** Nova's default quotas, per project (key_pairs per user); -1 is unlimited. */
  quotas: z
    .strictObject({
      instances: z.number().int().min(-1).default(10),
      cores: z.number().int().min(-1).default(20),
      ram: z.number().int().min(-1).default(51200),
      key_pairs: z.number().int().min(-1).default(100),
      server_groups: z.number().int().min(-1).default(10),
      server_group_members: z.number().int().min(-1).default(10),
      metadata_items: z.number().int().min(-1).default(128),
    })
    .prefault({}),
});

export type ComputeConfig = z.infer<typeof computeConfigSchema>;
export type QuotaName = keyof ComputeConfig['quotas'];
export const QUOTA_NAMES = ['instances', 'cores', 'ram', 'key_pairs', 'server_groups', 'server_group_members', 'metadata_items'] as const satisfies readonly QuotaName[];
