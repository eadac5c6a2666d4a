// The metadata service's configuration section (`metadata:` in bootstack.yaml).
import { z } from 'zod';

const ipv4 = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address');

export const metadataConfigSchema = z.strictObject({
  /**
   * Serve instance metadata at listen_host:port. Off by default: it adds an address to an
   * interface of the seed's host and binds port 80, which a seed must be told to do.
   */
  enabled: z.boolean().default(false),
  /** The address machines ask (the well-known link-local one cloud-init and os-collect-config use). */
  listen_host: ipv4.default('169.254.169.254'),
  port: z.number().int().min(1).max(65535).default(80),
  /**
   * The provisioning interface in the seed's network namespace: listen_host/32 is added to it at
   * start so packets to it are accepted (removed at stop if we added it). Default:
   * boot.dnsmasq.interface when dnsmasq runs in the seed's namespace; with boot.dnsmasq.netns
   * set it must be given (the seed's end of the link into that namespace).
   */
  interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'must be an interface name').optional(),
});

export type MetadataConfig = z.infer<typeof metadataConfigSchema>;
/** The section with the interface decided (src/server resolves the default from boot's section). */
export type MetadataSettings = Omit<MetadataConfig, 'interface'> & { interface: string | undefined };
