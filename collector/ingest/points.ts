/** Turns accepted reports into InfluxDB points, adding the registry's hierarchy tags. */
import { MEASUREMENT_FIELD_ORDER, type Report } from '../../protocol/report.js';
import { escKeyFast, escMeasurement, escString, toLineProtocol } from '../sink/line-protocol.js';
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

// -------------------------------------------------------------------------------------------------
// The hot path: line protocol straight from a report, without Point objects.

/** Where each tag of a series comes from, in the sorted order line protocol writes them. */
interface Slot {
  /** `,<escaped key>=`. */
  prefix: string;
  /** Index into the base tags (registry + agent), or -1. */
  base: number;
  /** Index into the measurement's own tags (which win over base tags of the same key), or -1. */
  own: number;
}

/** The layout of one measurement's series key: its escaped name and tag slots. */
interface Template {
  head: string;
  slots: Slot[];
  /** What it was built for, compared on every use: the cache id alone could be ambiguous. */
  name: string;
  baseKeys: readonly string[];
  ownKeys: readonly string[];
}

const sameKeys = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** Most distinct layouts kept: a handful exist (one per measurement name and tag-key order). */
const MAX_TEMPLATES = 1024;
/** Most escaped field keys kept (fixed by the schema but for `modem`'s snake_case keys). */
const MAX_FIELD_KEYS = 4096;

/**
 * What `reportToLines` reuses between reports: series-key layouts and escaped field keys. Bounded:
 * when full, it starts over (what a hostile agent can make it hold is a few thousand short strings).
 */
export class LineCache {
  readonly templates = new Map<string, Template | null>();
  readonly fieldKeys = new Map<string, string | null>();

  /** The layout for these base tag keys, measurement name and own tag keys; null when not plainly writable. */
  template(baseKeys: readonly string[], baseId: string, name: string, ownKeys: readonly string[]): Template | null {
    const id = `${baseId}\n${name}\n${ownKeys.join('\n')}`;
    let t = this.templates.get(id);
    if (t !== undefined && (t === null || (t.name === name && sameKeys(t.baseKeys, baseKeys) && sameKeys(t.ownKeys, ownKeys)))) return t;
    if (t !== undefined) return buildTemplate(baseKeys, name, ownKeys);
    t = buildTemplate(baseKeys, name, ownKeys);
    if (this.templates.size >= MAX_TEMPLATES) this.templates.clear();
    this.templates.set(id, t);
    return t;
  }

  /** The escaped field key; null when not plainly writable. */
  fieldKey(k: string): string | null {
    let e = this.fieldKeys.get(k);
    if (e !== undefined) return e;
    e = escKeyFast(k) ?? null;
    if (this.fieldKeys.size >= MAX_FIELD_KEYS) this.fieldKeys.clear();
    this.fieldKeys.set(k, e);
    return e;
  }
}

function buildTemplate(baseKeys: readonly string[], name: string, ownKeys: readonly string[]): Template | null {
  if (name.length === 0 || /[\n\r\\]/.test(name)) return null;
  const keys = new Set([...baseKeys, ...ownKeys]);
  const slots: Slot[] = [];
  for (const key of [...keys].sort()) {
    const e = escKeyFast(key);
    if (e === undefined) return null;
    slots.push({ prefix: `,${e}=`, base: ownKeys.includes(key) ? -1 : baseKeys.indexOf(key), own: ownKeys.indexOf(key) });
  }
  return { head: escMeasurement(name), slots, name, baseKeys: [...baseKeys], ownKeys: [...ownKeys] };
}

/** The series key of one point from its template and tag values; undefined when not plainly writable. */
function seriesKey(t: Template, baseValues: readonly (string | undefined)[], own: Record<string, unknown> | undefined, ownKeys: readonly string[]): string | undefined {
  let line = t.head;
  for (const s of t.slots) {
    let e: string | undefined;
    if (s.own >= 0) {
      const v = (own as Record<string, unknown>)[ownKeys[s.own] as string];
      if (v === '' || v === undefined) continue;
      if (typeof v !== 'string' || (e = escKeyFast(v)) === undefined) return undefined;
    } else {
      e = baseValues[s.base];
      if (e === '') continue;
      if (e === undefined) return undefined;
    }
    line += s.prefix + e;
  }
  return line;
}

/** The fields of one point as line protocol (`k=v,…`), in `order` when given; undefined when not plainly writable. */
function fieldsText(cache: LineCache, fields: Record<string, unknown>, order: readonly string[] | undefined): string | undefined {
  let text = '';
  let n = 0;
  const one = (k: string, v: unknown): boolean => {
    const ek = cache.fieldKey(k);
    if (ek === null) return false;
    let t: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false;
      t = String(v);
    } else if (typeof v === 'string') {
      t = `"${escString(v)}"`;
    } else return false;
    text += (n++ === 0 ? '' : ',') + ek + '=' + t;
    return true;
  };
  if (order) {
    let present = 0;
    for (const k in fields) present++;
    for (const k of order) {
      const v = fields[k];
      if (v === undefined) continue;
      if (!one(k, v)) return undefined;
    }
    // A key outside the schema's order would be lost: leave such a report to the general path.
    if (n !== present) return undefined;
  } else {
    for (const k in fields) if (!one(k, fields[k])) return undefined;
  }
  return n === 0 ? undefined : text;
}

/** The point with its fields in the order the schema's output has them (a report as sent may differ). */
function inSchemaOrder(p: Point): Point {
  const order = MEASUREMENT_FIELD_ORDER.get(p.measurement);
  if (!order) return p;
  // No prototype: whatever keys a report carries stay data.
  const fields = Object.create(null) as Record<string, number | string>;
  for (const k of order) if (Object.hasOwn(p.fields, k)) fields[k] = p.fields[k] as number | string;
  for (const k of Object.keys(p.fields)) if (!Object.hasOwn(fields, k)) fields[k] = p.fields[k] as number | string;
  return { ...p, fields };
}

/**
 * The line protocol of one report, byte for byte what `reportToPoints(...).map(toLineProtocol)`
 * gives for the schema's output of the same report (test/collector/ingest/points.property.test.ts),
 * built without Point objects or regular expressions; a report that is not plainly writable takes
 * that general path, with its errors (a non-retryable SinkError).
 */
export function reportToLines(opts: ToPointsOptions & { cache: LineCache }): string[] {
  const { report, tags, receivedAtMs, cache } = opts;
  const base: Record<string, string> = { ...tags, agent: report.agent };
  const baseKeys = Object.keys(base);
  const baseValues = baseKeys.map((k) => {
    const v = base[k];
    return v === '' ? '' : typeof v === 'string' ? escKeyFast(v) : undefined;
  });
  const baseId = baseKeys.join('\n');
  const skew = receivedAtMs - report.sentAt;
  const shift = !report.clockCorrected && Math.abs(skew) > (opts.maxClockSkewMs ?? DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS) ? Math.round(skew / 1000) * 1000 : 0;
  const at = report.collectedAt + shift;
  const general = () => reportToPoints(opts).map((p) => toLineProtocol(inSchemaOrder(p)));
  if (!Number.isFinite(at)) return general();
  const ts = ` ${Math.round(at)}`;
  const lines: string[] = [];
  for (const m of report.measurements) {
    const ownKeys = Object.keys(m.tags);
    const t = cache.template(baseKeys, baseId, m.name, ownKeys);
    const key = t && seriesKey(t, baseValues, m.tags, ownKeys);
    const fields = key && fieldsText(cache, m.fields, MEASUREMENT_FIELD_ORDER.get(m.name));
    if (!fields) return general();
    lines.push(`${key} ${fields}${ts}`);
  }
  const corrected = report.clockCorrected || shift !== 0;
  const offset = report.clockCorrected ? (report.clockOffsetMs ?? 0) : shift;
  const t = cache.template(baseKeys, baseId, 'report', []);
  const key = t && seriesKey(t, baseValues, undefined, []);
  if (!key || !Number.isFinite(offset) || !Number.isFinite(report.seq)) return general();
  const lag = Math.max(0, (receivedAtMs - at) / 1000);
  if (!Number.isFinite(lag)) return general();
  lines.push(`${key} lag_s=${lag},points=${lines.length},seq=${report.seq}${corrected ? `,clock_corrected=1,clock_offset_ms=${offset}` : ''}${ts}`);
  return lines;
}
