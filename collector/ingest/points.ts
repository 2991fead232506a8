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
}

/**
 * The points of one report: one per measurement plus one `report` point.
 * Every point is stamped with the report's collection time, so replaying a report
 * writes identical series and timestamps and InfluxDB overwrites instead of duplicating.
 */
export function reportToPoints({ report, tags, receivedAtMs }: ToPointsOptions): Point[] {
  const base = { ...tags, agent: report.agent };
  const points: Point[] = report.measurements.map((m) => ({
    measurement: m.name,
    tags: { ...base, ...m.tags },
    fields: m.fields as Record<string, number | string>,
    timestampMs: report.collectedAt,
  }));
  points.push({
    measurement: 'report',
    tags: base,
    fields: {
      lag_s: Math.max(0, (receivedAtMs - report.collectedAt) / 1000),
      points: points.length,
      seq: report.seq,
    },
    timestampMs: report.collectedAt,
  });
  return points;
}
