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
  /**
   * Keystone's [security_compliance] lockout_failure_attempts: wrong passwords in a row after
   * which the account is locked (0 turns lockout off). On by default, unlike Keystone: 6 is
   * PCI-DSS 3.1's limit (8.1.6) and within v4's "not more than 10" (8.3.4).
   */
  lockout_failure_attempts: z.number().int().min(0).max(1000).default(6),
  /**
   * Keystone's lockout_duration, in seconds: how long a locked account stays locked after its
   * last counted failure. 1800 is PCI-DSS's minimum of 30 minutes (8.1.7 / 8.3.4).
   */
  lockout_duration: z.number().int().positive().max(365 * 24 * 3600).default(1800),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;
