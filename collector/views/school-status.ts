/**
 * Per-school status points for Grafana's offline table: every registered school, never-seen ones (no
 * report ever) included, written with the coverage history. Online schools get a point too, so the
 * newest point of a school is its status now (a table filters `online` out).
 */
import type { Point, Sink } from '../sink/sink.js';
import type { CoverageModel } from './coverage/model.js';

/**
 * Schools per slice: one slice is built (and turned into line protocol) per event-loop turn. 500: a slice of
 * 2,000 held the loop 30–127 ms in the province soak.
 */
const SLICE = 500;

/**
 * `school_status` points at `timestampMs`, one per registered school, with its status at `nowMs`, in
 * slices of SLICE. Tags: the school's point tags (school, province, city, county, link) and `label`
 * (`id name`). Fields: `status` (`online` | `offline` | `never_seen`), `name`, and for a school seen at
 * least once `last_report_s` (seconds since its last report).
 */
export function* schoolStatusSlices(model: CoverageModel, nowMs: number, timestampMs: number): Generator<Point[]> {
  const reg = model.registry;
  let points: Point[] = [];
  for (const s of reg.schools.values()) {
    const c = model.school(s.id, nowMs);
    // A fresh object per call: used as the point's tags as it is (250,000 copies cost scavenges).
    const tags = reg.tagsFor(s.id) as Record<string, string> | undefined;
    if (!c || !tags) continue;
    // `id name`: Grafana's school drop-down shows the name and keeps the id as the value.
    tags.label = `${s.id} ${s.name}`;
    const fields: Record<string, number | string> = { status: c.status, name: s.name };
    if (c.liveness) fields.last_report_s = Math.max(0, Math.round((nowMs - c.liveness.lastReportMs) / 1000));
    points.push({ measurement: 'school_status', tags, fields, timestampMs });
    if (points.length === SLICE) {
      yield points;
      points = [];
    }
  }
  if (points.length) yield points;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Every school's status point (the slices joined, one event-loop turn between slices). */
export async function schoolStatusPoints(model: CoverageModel, nowMs: number, timestampMs: number): Promise<Point[]> {
  const out: Point[] = [];
  for (const slice of schoolStatusSlices(model, nowMs, timestampMs)) {
    out.push(...slice);
    await turn();
  }
  return out;
}

/**
 * Writes the status points slice by slice: each slice goes to the sink (which turns it into line
 * protocol at once) before the next is built, so 250,000 schools never block the event loop in one go
 * nor stay alive as objects. Resolves when every slice is written; rejects with the first failure.
 */
export async function writeSchoolStatus(sink: Pick<Sink, 'write'>, model: CoverageModel, nowMs: number, timestampMs: number): Promise<number> {
  const writes: Promise<unknown>[] = [];
  let failed = false;
  let failure: unknown;
  let n = 0;
  for (const slice of schoolStatusSlices(model, nowMs, timestampMs)) {
    // Handled at once: a slice refused while later ones are still being built (influxd's cache full) was an
    // unhandled rejection, which ended the collector.
    writes.push(
      sink.write(slice).catch((e: unknown) => {
        if (!failed) (failed = true), (failure = e);
      }),
    );
    n += slice.length;
    await turn();
  }
  await Promise.all(writes);
  if (failed) throw failure;
  return n;
}
