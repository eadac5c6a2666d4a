// Identity's configuration section (`identity:` in bootstack.yaml).
import { z } from 'zod';

export const identityConfigSchema = z.strictObject({
  /** How long an issued token lives. */
  token_ttl_hours: z.number().positive().max(24 * 365).default(12),
  /**
   * How long a validation result is reused from memory. Revoking a token in this process clears
   * it at once; the TTL bounds how late another process (HA) notices a revocation.
   */
  validation_cache_seconds: z.number().min(0).max(300).default(5),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;
