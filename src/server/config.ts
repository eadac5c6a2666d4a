// The whole configuration schema: the server's own keys plus one section per service.
// Strict objects everywhere, so a mistyped key is refused with its path.
import { z } from 'zod';
import { loadConfig } from '../common/config.js';
import { bootConfigSchema } from '../boot/config.js';
import { identityConfigSchema } from '../identity/config.js';
import { baremetalConfigSchema } from '../baremetal/config.js';
import { imagesConfigSchema } from '../images/config.js';
import { orchestrationConfigSchema } from '../orchestration/config.js';
import { computeConfigSchema } from '../compute/config.js';
import { metadataConfigSchema } from '../metadata/config.js';
import { networkConfigSchema } from '../network/config.js';
import { pivotConfigSchema } from '../pivot/config.js';

export const serverConfigSchema = z.strictObject({
  /** Where the seed keeps its database, images and generated files. */
  state_dir: z.string().default('./state'),
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(6385),
    })
    .prefault({}),
  /** How clients reach us (for the service catalog); default http(s)://listen.host:port. */
  public_url: z.url().optional(),
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  database: z
    .strictObject({
      /** sqlite:<path> (default: <state_dir>/bootstack.sqlite) or postgres://... */
      url: z.string().optional(),
    })
    .prefault({}),
  /** Without a level here, BOOTSTACK_LOG_LEVEL (or info) applies. */
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).optional() }).prefault({}),
  /** Largest JSON request body, in bytes. Image data is streamed and not limited by this. */
  body_limit: z.number().int().positive().default(1024 * 1024),
  services: z.array(z.string()).optional(),
  identity: identityConfigSchema.prefault({}),
  baremetal: baremetalConfigSchema.prefault({}),
  images: imagesConfigSchema.prefault({}),
  orchestration: orchestrationConfigSchema.prefault({}),
  boot: bootConfigSchema.prefault({}),
  /** Instance metadata at 169.254.169.254 (docs/metadata.md); off unless enabled. */
  metadata: metadataConfigSchema.prefault({}),
  /** Neutron subset: the provisioning network created at first start (docs/network.md). */
  network: networkConfigSchema.prefault({}),
  /** Nova subset: servers, flavors, keypairs on bare metal (docs/compute.md). */
  compute: computeConfigSchema.prefault({}),
  /** Receiving a seed's records (`bootstack pivot`, docs/pivot.md). */
  pivot: pivotConfigSchema.prefault({}),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

export function loadServerConfig(file: string | undefined, flags: Record<string, unknown>, env = process.env): ServerConfig {
  return loadConfig({ schema: serverConfigSchema, file, env, flags });
}
