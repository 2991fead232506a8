/**
 * Per-school status points for Grafana's offline table: every registered school, never-seen ones (no
 * report ever) included, written with the coverage history. Online schools get a point too, so the
 * newest point of a school is its status now (a table filters `online` out).
 */
import type { Point } from '../sink/sink.js';
import type { CoverageModel } from './coverage/model.js';

/** Schools looked at per event-loop turn. */
const SLICE = 2000;

/**
 * `school_status` points at `timestampMs`, one per registered school, with its status at `nowMs`.
 * Tags: the school's point tags (school, province, city, county, link) and `label` (`id name`). Fields: `status` (`online` |
 * `offline` | `never_seen`), `name`, and for a school seen at least once `last_report_s` (seconds since
 * its last report).
 */
export async function schoolStatusPoints(model: CoverageModel, nowMs: number, timestampMs: number): Promise<Point[]> {
  const points: Point[] = [];
  const reg = model.registry;
  let n = 0;
  for (const s of reg.schools.values()) {
    // 250,000 schools take longer than one turn of the event loop may: let other work in between.
    if (++n % SLICE === 0) await new Promise((r) => setImmediate(r));
    const c = model.school(s.id, nowMs);
    if (!c) continue;
    // A fresh object per call: used as the point's tags as it is (250,000 copies cost scavenges).
    const tags = reg.tagsFor(s.id) as Record<string, string> | undefined;
    if (!tags) continue;
    const fields: Record<string, number | string> = { status: c.status, name: s.name };
    if (c.liveness) fields.last_report_s = Math.max(0, Math.round((nowMs - c.liveness.lastReportMs) / 1000));
    // `id name`: Grafana's school drop-down shows the name and keeps the id as the value.
    tags.label = `${s.id} ${s.name}`;
    points.push({ measurement: 'school_status', tags, fields, timestampMs });
  }
  return points;
}
