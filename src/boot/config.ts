// The boot service's configuration section (`boot:` in bootstack.yaml): the provisioning
// network dnsmasq serves, where the deploy kernel and ramdisk live, and how long a boot secret lives.
import { z } from 'zod';

const ipv4 = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address');

export const dnsmasqConfigSchema = z.strictObject({
  /** Run dnsmasq at all (off by default: a seed without a provisioning network still serves APIs). */
  enabled: z.boolean().default(false),
  /** The provisioning interface dnsmasq binds to. */
  interface: z.string().default('br-ctlplane'),
  /** `dhcp`: we hand out addresses from the range; `proxy`: another server does, we only add boot options. */
  mode: z.enum(['dhcp', 'proxy']).default('dhcp'),
  range_start: ipv4.optional(),
  range_end: ipv4.optional(),
  netmask: ipv4.default('255.255.255.0'),
  /** ProxyDHCP: the network address of the subnet whose DHCP server we complement. */
  proxy_subnet: ipv4.optional(),
  /**
   * ProxyDHCP: the next-server address (siaddr) sent with the iPXE script URL. iPXE drops a
   * ProxyDHCP answer whose siaddr is 0 (dnsmasq's proxy answers carry 0 unless told). Default:
   * the host of the script URL (boot.http_url) when that is an IPv4 address.
   */
  next_server: ipv4.optional(),
  lease_time: z.string().regex(/^\d+[smhd]?$|^infinite$/).default('1h'),
  /** Answer MACs that are not enrolled (inspection of unknown machines). */
  discovery: z.boolean().default(false),
  /**
   * dnsmasq pings an address before offering it the first time, which holds the offer ~3 s
   * (measured). We own the provisioning network, so it is off by default.
   */
  ping_check: z.boolean().default(false),
  /** Router advertisements with an ra-only range: iPXE otherwise waits ~13 s for IPv6 autoconf. */
  ipv6_ra: z.boolean().default(true),
  binary: z.string().default('/usr/sbin/dnsmasq'),
  /** iPXE binaries for firmware that is not iPXE (Debian's ipxe package). */
  tftp_root: z.string().default('/usr/lib/ipxe'),
  /** Run dnsmasq inside this network namespace (the lab's). */
  netns: z.string().optional(),
});

export const bootConfigSchema = z.strictObject({
  dnsmasq: dnsmasqConfigSchema.prefault({}),
  /** The URL machines on the provisioning network use to reach this server (default: public URL). */
  http_url: z.url().optional(),
  /** Directory with the deploy kernel and ramdisk (default <state_dir>/boot/files). */
  files_dir: z.string().optional(),
  kernel: z.string().default('deploy.kernel'),
  ramdisk: z.string().default('deploy.initramfs'),
  /** Extra kernel command line for the deploy ramdisk. */
  kernel_args: z.string().default('console=ttyS0'),
  /** Lifetime of the one-time boot secret carried on the kernel command line. */
  boot_secret_ttl_s: z.number().int().positive().default(1800),
  /**
   * A node's script (with its secret) goes to one address only, once. A fetch from that same
   * address within this many seconds of the first, before the agent's lookup, gets it again: a
   * machine whose chain failed mid-transfer reboots and asks again. 0: never.
   */
  script_retry_s: z.number().int().min(0).default(120),
  /** Per-MAC/node script fetches allowed a minute, per source address and in total (token buckets). */
  script_fetch_limit: z
    .strictObject({
      per_address_per_min: z.number().int().positive().default(20),
      per_min: z.number().int().positive().default(600),
    })
    .prefault({}),
  /**
   * Disk space the qcow2 → raw conversion cache may use (<state_dir>/boot/raw-cache), in GiB of
   * allocated blocks (raws are sparse); least recently used raws are evicted beyond it.
   */
  raw_cache_max_gib: z.number().positive().default(20),
  /** Largest virtual disk a qcow2 deploy image may claim (converting and hashing it is linear in it). */
  image_max_virtual_gib: z.number().positive().default(200),
});

export type DnsmasqSettings = z.infer<typeof dnsmasqConfigSchema>;
export type BootConfig = z.infer<typeof bootConfigSchema>;
