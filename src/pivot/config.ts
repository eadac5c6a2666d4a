// The pivot's configuration (docs/pivot.md): a server that is to receive a seed's records starts
// with `receive: true` and a shared token; until the records arrive it runs only the receiver.
import { z } from 'zod';

export const pivotConfigSchema = z.strictObject({
  /** Start as a receiver: answer only the pivot routes until a seed's records are imported. */
  receive: z.boolean().default(false),
  /** Shared secret the pivot presents to the receiver (X-Pivot-Token); at least 16 characters. */
  token: z.string().min(16).optional(),
});

export type PivotConfig = z.infer<typeof pivotConfigSchema>;
