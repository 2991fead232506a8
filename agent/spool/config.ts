/** The `spool` section of the agent config: where unsent reports wait, and how much of them. */
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MIN_FREE_BYTES } from './segment-spool.js';

/**
 * Most the default size limit can be. A typical school's report (21 measurements) takes about 3.3 KB framed on
 * disk (measured by test/agent/spool/segment-spool.test.ts), so 7 days at a 1-minute cycle is about 33 MB;
 * 64 MiB keeps about 13 days. Also the default where the free space cannot be read.
 */
export const DEFAULT_MAX_SPOOL_BYTES = 64 * 1024 * 1024;

/** Least the default size limit can be: 1 MiB, about 5 hours of a typical school's reports. */
export const MIN_DEFAULT_SPOOL_BYTES = 1024 * 1024;

/** Share of the free space (above minFreeBytes) the default limit takes: the rest stays for logs, packages, other state. */
export const SPOOL_FREE_SHARE = 0.5;

/** Free bytes for an unprivileged writer on the filesystem of `dir`, or of its nearest existing parent (the spool may not exist yet). */
export function freeBytesAt(dir: string, statfs: typeof statfsSync = statfsSync): number | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      const s = statfs(d);
      return Number(s.bavail) * Number(s.bsize);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) return undefined;
    }
  }
}

/**
 * The default spool limit: half of what the spool's filesystem has free above minFreeBytes, held within
 * [MIN_DEFAULT_SPOOL_BYTES, DEFAULT_MAX_SPOOL_BYTES]; DEFAULT_MAX_SPOOL_BYTES when the free space cannot be read.
 * A router's 5 MB of free flash gets 2 MiB (about 10 hours), a disk with gigabytes free 64 MiB (13 days). The
 * minFreeBytes reserve still holds at run time whatever the limit (the spool drops the oldest reports first).
 */
export function defaultSpoolBytes(dir: string, minFreeBytes: number, statfs: typeof statfsSync = statfsSync): number {
  const free = freeBytesAt(dir, statfs);
  if (free === undefined) return DEFAULT_MAX_SPOOL_BYTES;
  const share = Math.floor(Math.max(0, free - minFreeBytes) * SPOOL_FREE_SHARE);
  return Math.min(DEFAULT_MAX_SPOOL_BYTES, Math.max(MIN_DEFAULT_SPOOL_BYTES, share));
}

/** The `spool` keys before the size limit's default is filled in (the proxy fills it in its own way: agent/proxy/sizing.ts). */
export const spoolSectionFields = z.strictObject({
  /** Directory of unsent reports. */
  dir: z.string().min(1).default('.state/agent/spool'),
  /**
   * Most bytes the spool keeps on disk; when full, the oldest reports are dropped and counted. Default: from the
   * free space of the spool's filesystem when the config is loaded (defaultSpoolBytes: half the free space above
   * minFreeBytes, 1-64 MiB).
   */
  maxSpoolBytes: z.number().int().min(64 * 1024).optional(),
  /**
   * Free bytes the spool leaves on its filesystem: below that, acknowledged segments are deleted, then
   * the oldest reports dropped (counted in agent.dropped_reports); when even that makes no room, the
   * new report is dropped and counted.
   */
  minFreeBytes: z.number().int().min(0).default(DEFAULT_MIN_FREE_BYTES),
  /** Size at which a segment file is closed and a new one started; the unit of reclaiming space. */
  segmentBytes: z.number().int().min(4 * 1024).max(64 * 1024 * 1024).default(1024 * 1024),
});

export const spoolSectionSchema = spoolSectionFields
  .transform((s) => ({ ...s, maxSpoolBytes: s.maxSpoolBytes ?? defaultSpoolBytes(s.dir, s.minFreeBytes) }))
  .prefault({});

export type SpoolSection = z.output<typeof spoolSectionSchema>;
