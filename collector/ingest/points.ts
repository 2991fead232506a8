/** Turns accepted reports into InfluxDB points, adding the registry's hierarchy tags. */
import type { Report } from '../../protocol/index.js';
import type { Point } from '../sink/sink.js';

/** Tags the collector adds to every point from the registry. */
export interface RegistryTags {
  school: string;
  province: string;
  city: string;
  county: string;
  link: string;
}

export interface ToPointsOptions {
  report: Report;
  tags: RegistryTags;
  /** When the collector received the report, ms since the epoch. */
  receivedAtMs: number;
  /**
   * When the agent did not correct its clock itself and its `sentAt` is further than this from the
   * receive time (ms), the report's times are shifted by the difference (rounded to the second) and the
   * `report` point is flagged `clock_corrected`. Default 600000; Infinity turns it off.
   */
  maxClockSkewMs?: number;
}

/** Default collector-side skew tolerance, ms: far above any upload's transit time. */
export const DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS = 600_000;

/**
 * The points of one report: one per measurement plus one `report` point.
 * Every point is stamped with the report's collection time, so replaying a report
 * writes identical series and timestamps and InfluxDB overwrites instead of duplicating.
 */
export function reportToPoints({ report, tags, receivedAtMs, maxClockSkewMs }: ToPointsOptions): Point[] {
  const base = { ...tags, agent: report.agent };
  const skew = receivedAtMs - report.sentAt;
  const shift = !report.clockCorrected && Math.abs(skew) > (maxClockSkewMs ?? DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS) ? Math.round(skew / 1000) * 1000 : 0;
  const at = report.collectedAt + shift;
  const corrected = report.clockCorrected || shift !== 0;
  const points: Point[] = report.measurements.map((m) => ({
    measurement: m.name,
    tags: { ...base, ...m.tags },
    fields: m.fields as Record<string, number | string>,
    timestampMs: at,
  }));
  points.push({
    measurement: 'report',
    tags: base,
    fields: {
      lag_s: Math.max(0, (receivedAtMs - at) / 1000),
      points: points.length,
      seq: report.seq,
      ...(corrected ? { clock_corrected: 1, clock_offset_ms: report.clockCorrected ? (report.clockOffsetMs ?? 0) : shift } : {}),
    },
    timestampMs: at,
  });
  return points;
}
