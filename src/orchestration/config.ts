// Orchestration's configuration section.
import { z } from 'zod';

export const orchestrationConfigSchema = z.strictObject({
  /**
   * Which ComputeProvider backs OS::Nova::Server. Only "fake" exists inside this folder; the
   * bare-metal adapter is provided by src/server when it is wired.
   */
  compute_provider: z.enum(['fake']).default('fake'),
  /** Seconds a fake server takes to become ACTIVE. */
  fake_build_seconds: z.number().min(0).default(0),
});

export type OrchestrationConfig = z.infer<typeof orchestrationConfigSchema>;
