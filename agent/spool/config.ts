/** The `spool` section of the agent config: where unsent reports wait. */
import { z } from 'zod';

export const spoolSectionSchema = z
  .strictObject({
    /** Directory of unsent reports. */
    dir: z.string().min(1).default('.state/agent/spool'),
  })
  .prefault({});

export type SpoolSection = z.output<typeof spoolSectionSchema>;
