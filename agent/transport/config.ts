/** The `collector` section of the agent config: where and how reports are delivered. */
import { z } from 'zod';

export const collectorSectionSchema = z
  .strictObject({
    /** Collector base URL. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://127.0.0.1:8470'),
    /** Bearer token from `campuslink-collector token issue`; required to send. */
    token: z.string().min(1).optional(),
    /** Timeout of one upload, in ms. */
    timeoutMs: z.number().int().min(1000).max(600000).default(30000),
    /** gzip request bodies. */
    gzip: z.boolean().default(true),
    /** Most reports in one POST. */
    maxBatchReports: z.number().int().min(1).max(500).default(100),
  })
  .prefault({});

export type CollectorSection = z.output<typeof collectorSectionSchema>;
