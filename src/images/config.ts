// Image service configuration (`images:` in bootstack.yaml).
import { z } from 'zod';

export const imagesConfigSchema = z.strictObject({
  /** Largest image accepted, in bytes (Glance's image_size_cap; default 1 TiB). */
  image_size_cap: z.number().int().positive().default(1024 ** 4),
  /** Where image bytes live; default <state_dir>/images. */
  store_dir: z.string().optional(),
});

export type ImagesConfig = z.infer<typeof imagesConfigSchema>;
