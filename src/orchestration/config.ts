// Orchestration's configuration section.
import { z } from 'zod';

export const orchestrationConfigSchema = z.strictObject({
  /**
   * Which ComputeProvider backs OS::Nova::Server: "baremetal" (allocate and deploy nodes of the
   * bare-metal service; src/server provides it) or "fake" (in-memory servers, for tests).
   */
  compute_provider: z.enum(['baremetal', 'fake']).default('baremetal'),
  /** Seconds a fake server takes to become ACTIVE. */
  fake_build_seconds: z.number().min(0).default(0),
});

export type OrchestrationConfig = z.infer<typeof orchestrationConfigSchema>;
