// Orchestration's configuration section.
import { z } from 'zod';

export const orchestrationConfigSchema = z.strictObject({
  /**
   * Which ComputeProvider backs OS::Nova::Server: "compute" (the compute service, as Heat calls
   * Nova: servers show in `openstack server list`, ports, flavors, server groups), "baremetal"
   * (allocate and deploy nodes of the bare-metal service directly, the flavor naming the resource
   * class; no networks) or "fake" (in-memory servers, for tests). src/server provides the first two.
   */
  compute_provider: z.enum(['compute', 'baremetal', 'fake']).default('compute'),
  /** Seconds a fake server takes to become ACTIVE. */
  fake_build_seconds: z.number().min(0).default(0),
});

export type OrchestrationConfig = z.infer<typeof orchestrationConfigSchema>;
