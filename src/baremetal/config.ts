// The baremetal section of bootstack.yaml. Durations in seconds (fractions allowed), as in
// Ironic's configuration.
import { hostname } from 'node:os';
import { z } from 'zod';

export const baremetalConfigSchema = z.strictObject({
  conductor: z
    .strictObject({
      /** Name written into node.reservation; keep it stable across restarts of this conductor. */
      host: z.string().min(1).default(hostname()),
      /** Operations running at once (deploys, cleanings, power actions). */
      workers: z.number().int().min(1).default(100),
      /** Seconds between power-state sync passes; 0 disables. */
      sync_power_state_interval: z.number().min(0).default(60),
      sync_power_state_workers: z.number().int().min(1).default(8),
      power_failure_limit: z.number().int().min(1).default(3),
      check_interval: z.number().positive().default(10),
      deploy_callback_timeout: z.number().min(0).default(1800),
      clean_callback_timeout: z.number().min(0).default(1800),
      inspect_wait_timeout: z.number().min(0).default(1800),
      automated_clean: z.boolean().default(true),
    })
    .prefault({}),
  redfish: z
    .strictObject({
      /** Seconds per HTTP request to a BMC. */
      timeout: z.number().positive().default(10),
      retries: z.number().int().min(0).default(3),
      /** First retry delay in seconds; doubles each time. */
      backoff: z.number().min(0).default(0.5),
      /** Seconds to wait for a system to reach the requested power state. */
      power_state_timeout: z.number().positive().default(60),
      power_state_poll: z.number().positive().default(1),
    })
    .prefault({}),
  ipmi: z
    .strictObject({
      retries: z.number().int().min(0).default(3),
      /** Seconds per ipmitool try (-N). */
      timeout: z.number().int().min(1).default(2),
      power_state_timeout: z.number().positive().default(60),
    })
    .prefault({}),
  fake: z
    .strictObject({
      /** Milliseconds every fake driver call takes (per-node driver_info.fake_delay_ms overrides). */
      delay_ms: z.number().int().min(0).default(0),
    })
    .prefault({}),
});

export type BaremetalConfig = z.infer<typeof baremetalConfigSchema>;
