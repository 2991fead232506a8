/** The `spool` section of the agent config: where unsent reports wait, and how much of them. */
import { z } from 'zod';
import { DEFAULT_MIN_FREE_BYTES } from './segment-spool.js';

/**
 * Default size limit. A typical school's report (21 measurements) takes about 3.3 KB framed on disk
 * (measured by test/agent/spool/segment-spool.test.ts), so 7 days at a 1-minute cycle is about 33 MB;
 * 64 MiB keeps about 13 days.
 */
export const DEFAULT_MAX_SPOOL_BYTES = 64 * 1024 * 1024;

export const spoolSectionSchema = z
  .strictObject({
    /** Directory of unsent reports. */
    dir: z.string().min(1).default('.state/agent/spool'),
    /** Most bytes the spool keeps on disk; when full, the oldest reports are dropped and counted. */
    maxSpoolBytes: z.number().int().min(64 * 1024).default(DEFAULT_MAX_SPOOL_BYTES),
    /**
     * Free bytes the spool leaves on its filesystem: below that, acknowledged segments are deleted, then
     * the oldest reports dropped (counted in agent.dropped_reports); when even that makes no room, the
     * new report is dropped and counted.
     */
    minFreeBytes: z.number().int().min(0).default(DEFAULT_MIN_FREE_BYTES),
    /** Size at which a segment file is closed and a new one started; the unit of reclaiming space. */
    segmentBytes: z.number().int().min(4 * 1024).max(64 * 1024 * 1024).default(1024 * 1024),
  })
  .prefault({});

export type SpoolSection = z.output<typeof spoolSectionSchema>;
