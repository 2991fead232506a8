/** Turns accepted reports into InfluxDB points, adding the registry's hierarchy tags. */
import { MEASUREMENT_FIELD_ORDER, type Report } from '../../protocol/report.js';
import { LineWriter, blockLines, escKeyFast, escMeasurement, escString, flatString, toLineProtocol, type LineBlock } from '../sink/line-protocol.js';
import type { Point } from '../sink/sink.js';
import { derivedFieldsOf, notStored, storedFields, type DerivedFieldMap } from './stored-fields.js';

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
 * How far the collector shifts an uncorrected report's times: by its agent's clock offset (receive time
 * against `sentAt`, to the second) when that is beyond `maxClockSkewMs`, else 0.
 */
export function skewShiftMs(report: Pick<Report, 'sentAt' | 'clockCorrected'>, receivedAtMs: number, maxClockSkewMs?: number): number {
  const skew = receivedAtMs - report.sentAt;
  return !report.clockCorrected && Math.abs(skew) > (maxClockSkewMs ?? DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS) ? Math.round(skew / 1000) * 1000 : 0;
}

/**
 * The points of one report: one per measurement plus one `report` point.
 * Every point is stamped with the report's collection time, so replaying a report
 * writes identical series and timestamps and InfluxDB overwrites instead of duplicating.
 */
export function reportToPoints({ report, tags, receivedAtMs, maxClockSkewMs }: ToPointsOptions): Point[] {
  const base = { ...tags, agent: report.agent };
  const shift = skewShiftMs(report, receivedAtMs, maxClockSkewMs);
  const at = report.collectedAt + shift;
  const corrected = report.clockCorrected || shift !== 0;
  const points: Point[] = report.measurements.map((m) => ({
    measurement: m.name,
    tags: { ...base, ...m.tags },
    fields: storedFields(m.name, m.fields as Record<string, number | string>),
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

const SPACE = 32;
const COMMA = 44;
const EQ = 61;
const QUOTE = 34;

/** Where each tag of a series comes from, in the sorted order line protocol writes them. */
interface Slot {
  /** `,<escaped key>=`. */
  prefix: string;
  /** Index into the base tags (registry + agent), or -1. */
  base: number;
  /** The measurement's own tag (which wins over a base tag of the same key), or undefined. */
  own: string | undefined;
}

/** The layout of one measurement's lines for one set of base tag keys and own tag keys (in their order). */
export interface Template {
  /** False when a name or key is not plainly writable: such reports take the general path. */
  writable: boolean;
  head: string;
  slots: Slot[];
  baseKeys: readonly string[];
  ownKeys: readonly string[];
  /** The schema's field order, and each key escaped; undefined for any-key measurements (`modem`). */
  fieldOrder: readonly string[] | undefined;
  fieldText: readonly (string | undefined)[];
  /** Fields InfluxDB can derive, not stored (stored-fields.ts). */
  derived: DerivedFieldMap | undefined;
}

/** Most layouts kept: a handful exist (one per measurement name and tag-key order). */
const MAX_TEMPLATES = 1024;
/** Most escaped field keys kept (fixed by the schema but for `modem`'s snake_case keys). */
const MAX_FIELD_KEYS = 4096;

/**
 * What `reportToLines` reuses between reports: line layouts and escaped field keys. Bounded: when
 * full it starts over (what a hostile agent can make it hold is a few thousand short strings).
 */
export class LineCache {
  private readonly byName = new Map<string, Template[]>();
  private count = 0;
  private lastBaseKeys: readonly string[] = [];
  readonly fieldKeys = new Map<string, string | null>();

  /** How many layouts are held. */
  get templates(): number {
    return this.count;
  }

  /** The same array for the same base tag keys, so layouts compare them by identity. */
  baseKeys(keys: readonly string[]): readonly string[] {
    const last = this.lastBaseKeys;
    if (last.length === keys.length && keys.every((k, i) => k === last[i])) return last;
    return (this.lastBaseKeys = keys);
  }

  /** The layout of measurement `name` with these own tags, for base keys from baseKeys(). */
  template(baseKeys: readonly string[], name: string, own: Record<string, unknown>): Template {
    let list = this.byName.get(name);
    if (list) {
      for (const t of list) if (t.baseKeys === baseKeys && sameOwnKeys(t.ownKeys, own)) return t;
    } else {
      if (this.count >= MAX_TEMPLATES) this.clear();
      this.byName.set(name, (list = []));
    }
    const t = buildTemplate(baseKeys, name, Object.keys(own));
    if (this.count >= MAX_TEMPLATES) {
      this.clear();
      this.byName.set(name, (list = []));
    }
    list.push(t);
    this.count++;
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

  private clear(): void {
    this.byName.clear();
    this.count = 0;
  }
}

/** Whether the object's own keys are exactly these, in this order (without allocating). */
function sameOwnKeys(keys: readonly string[], own: Record<string, unknown>): boolean {
  let i = 0;
  for (const k in own) if (keys[i++] !== k) return false;
  return i === keys.length;
}

function buildTemplate(baseKeys: readonly string[], name: string, ownKeys: readonly string[]): Template {
  const fieldOrder = MEASUREMENT_FIELD_ORDER.get(name);
  const t: Template = { writable: false, head: '', slots: [], baseKeys, ownKeys, fieldOrder, fieldText: (fieldOrder ?? []).map((k) => escKeyFast(k)), derived: derivedFieldsOf(name) };
  if (name.length === 0 || /[\n\r\\]/.test(name)) return t;
  for (const key of [...new Set([...baseKeys, ...ownKeys])].sort()) {
    const e = escKeyFast(key);
    if (e === undefined) return t;
    const own = ownKeys.includes(key);
    t.slots.push({ prefix: `,${e}=`, base: own ? -1 : baseKeys.indexOf(key), own: own ? key : undefined });
  }
  t.head = escMeasurement(name);
  t.writable = true;
  return t;
}

/** Writes the series key of one point; false when not plainly writable. */
function writeSeriesKey(w: LineWriter, t: Template, baseValues: readonly (string | undefined)[], own: Record<string, unknown> | undefined): boolean {
  w.str(t.head);
  for (const s of t.slots) {
    let e: string | undefined;
    if (s.own !== undefined) {
      const v = (own as Record<string, unknown>)[s.own];
      if (v === '' || v === undefined) continue;
      if (typeof v !== 'string' || (e = escKeyFast(v)) === undefined) return false;
    } else {
      e = baseValues[s.base];
      if (e === '') continue;
      if (e === undefined) return false;
    }
    w.str(s.prefix);
    w.str(e);
  }
  return true;
}

/** Writes `=<value>` of one field as line protocol; false when not plainly writable. */
function writeFieldValue(w: LineWriter, v: unknown): boolean {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return false;
    w.byte(EQ);
    w.num(v);
    return true;
  }
  if (typeof v === 'string') {
    w.byte(EQ);
    w.byte(QUOTE);
    w.str(escString(v));
    w.byte(QUOTE);
    return true;
  }
  return false;
}

/**
 * Writes the fields of one point as line protocol (`k=v,…`); false when not plainly writable (the caller
 * rewinds the writer). The one place a report's field values are written on the hot path.
 */
export function writeFields(w: LineWriter, cache: LineCache, t: Template, fields: Record<string, unknown>): boolean {
  let n = 0;
  let dropped = 0;
  const order = t.fieldOrder;
  if (order) {
    for (let i = 0; i < order.length; i++) {
      const v = fields[order[i] as string];
      if (v === undefined) continue;
      if (notStored(t.derived, order[i] as string, fields)) {
        dropped++;
        continue;
      }
      const ek = t.fieldText[i];
      if (ek === undefined) return false;
      if (n++ !== 0) w.byte(COMMA);
      w.str(ek);
      if (!writeFieldValue(w, v)) return false;
    }
    // A key outside the schema's order would be lost: leave such a report to the general path.
    let present = 0;
    for (const k in fields) present++;
    if (n + dropped !== present) return false;
  } else {
    for (const k in fields) {
      const ek = cache.fieldKey(k);
      if (ek === null) return false;
      if (n++ !== 0) w.byte(COMMA);
      w.str(ek);
      if (!writeFieldValue(w, fields[k])) return false;
    }
  }
  return n !== 0;
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

/** What reportsToBlock writes: the reports of one upload with their registry tags. */
export interface ToBlockOptions extends Omit<ToPointsOptions, 'report'> {
  reports: readonly Report[];
  cache: LineCache;
  /** The reused buffer the lines are written into (one per collector: uploads are written one at a time). */
  writer: LineWriter;
}

/**
 * The line protocol of one upload's reports as one LineBlock: byte for byte the lines of
 * `reportToPoints(...).map(toLineProtocol)` for the schema's output of each report
 * (test/collector/ingest/points.property.test.ts), written straight into `writer` without Point objects,
 * line strings or regular expressions; a report that is not plainly writable takes that general path,
 * with its errors (a non-retryable SinkError).
 */
export function reportsToBlock(opts: ToBlockOptions): LineBlock {
  const { writer } = opts;
  writer.rewind(0);
  let agent: string | undefined;
  let base: Base = { keys: [], values: [] };
  try {
    for (const report of opts.reports) {
      if (report.agent !== agent) base = baseOf(opts.cache, opts.tags, (agent = report.agent));
      const mark = writer.mark();
      if (writeReport(writer, opts, base, report)) continue;
      writer.rewind(mark);
      for (const line of generalLines({ ...opts, report })) {
        writer.str(line);
        writer.endLine();
      }
    }
    return writer.take();
  } finally {
    writer.rewind(0);
  }
}

/** The base tags (registry + agent) of a report: their keys from LineCache.baseKeys and escaped values. */
interface Base {
  keys: readonly string[];
  values: (string | undefined)[];
}

function baseOf(cache: LineCache, tags: RegistryTags, agent: string): Base {
  const base: Record<string, string> = { ...tags, agent };
  const keys = cache.baseKeys(Object.keys(base));
  const values: (string | undefined)[] = [];
  for (const k of keys) {
    const v = base[k];
    values.push(v === '' ? '' : typeof v === 'string' ? escKeyFast(v) : undefined);
  }
  return { keys, values };
}

/** Writes one report's lines on the hot path; false when it must take the general path. */
function writeReport(w: LineWriter, opts: Omit<ToBlockOptions, 'reports' | 'writer'>, base: Base, report: Report): boolean {
  const { receivedAtMs, cache } = opts;
  const { keys: baseKeys, values: baseValues } = base;
  const shift = skewShiftMs(report, receivedAtMs, opts.maxClockSkewMs);
  const at = report.collectedAt + shift;
  const corrected = report.clockCorrected || shift !== 0;
  const offset = report.clockCorrected ? (report.clockOffsetMs ?? 0) : shift;
  const lag = Math.max(0, (receivedAtMs - at) / 1000);
  if (!Number.isFinite(lag) || !Number.isFinite(offset) || !Number.isFinite(report.seq) || !Number.isFinite(at)) return false;
  const ts = Math.round(at);
  let lines = 0;
  for (const m of report.measurements) {
    const t = cache.template(baseKeys, m.name, m.tags);
    if (!t.writable || !writeSeriesKey(w, t, baseValues, m.tags)) return false;
    w.byte(SPACE);
    if (!writeFields(w, cache, t, m.fields)) return false;
    w.byte(SPACE);
    w.num(ts);
    w.endLine();
    lines++;
  }
  const t = cache.template(baseKeys, 'report', {});
  if (!t.writable || !writeSeriesKey(w, t, baseValues, undefined)) return false;
  w.str(' lag_s=');
  w.num(lag);
  w.str(',points=');
  w.num(lines);
  w.str(',seq=');
  w.num(report.seq);
  if (corrected) {
    w.str(',clock_corrected=1,clock_offset_ms=');
    w.num(offset);
  }
  w.byte(SPACE);
  w.num(ts);
  w.endLine();
  return true;
}

/** The lines of one report as strings: reportsToBlock of that report alone (for callers that want strings). */
export function reportToLines(opts: ToPointsOptions & { cache: LineCache; writer?: LineWriter }): string[] {
  return blockLines(reportsToBlock({ ...opts, reports: [opts.report], writer: opts.writer ?? scratchWriter() }));
}

let scratch: LineWriter | undefined;
function scratchWriter(): LineWriter {
  return (scratch ??= new LineWriter({ initialBytes: 16 * 1024 }));
}

/** The general path: Point objects through toLineProtocol, fields in the schema's order. */
function generalLines(opts: ToPointsOptions): string[] {
  return reportToPoints(opts).map((p) => flatString(toLineProtocol(inSchemaOrder(p))));
}
