/**
 * Per-school rolling compliance evidence, maintained from accepted reports: for every query of the
 * metrics the loaded profiles use (collector/views/compliance/metrics.ts), the same counts, sums and
 * maxima the InfluxQL path computes, in China-time day buckets — one set for whole days (`lastDays`
 * windows) and one per school-hours span (`schoolDays` windows, only points inside `from`–`to`).
 * Buckets combine exactly like the InfluxQL pieces (counts and sums add, maxima take the max), so a
 * judgement from the evidence equals the one from raw data for the same points.
 *
 * Bounded per school: a ring of `days` buckets, the longest span any loaded window reaches back plus one.
 */
import type { Report } from '../../../protocol/index.js';
import { chinaDayNumber, chinaDayStartMs, windowPieces, type DataSource } from './engine.js';
import { METRICS, type QuerySpec } from './metrics.js';
import type { Profile, RuleWindow } from './profile.js';

const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;
/** The group holding every group's aggregate of a groupBy query ("the school reports inventory at all"). */
const ANY_GROUP = '\u0000any';

/** One query accumulated for one window class. */
export interface Channel {
  /** `<query key>|<window class>`. */
  id: string;
  q: QuerySpec;
  /** School-hours span in ms after China midnight, or null for whole days. */
  hours: { fromMs: number; toMs: number } | null;
  /** Groups kept for a groupBy query (the rules' classes plus ANY_GROUP); [''] without groupBy. */
  groups: string[];
  aliases: string[];
  /** First slot of this channel in a bucket. */
  offset: number;
}

/** How the evidence is laid out for the loaded profiles; a change of it means rebuilding the evidence. */
export interface EvidenceLayout {
  days: number;
  slots: number;
  channels: Channel[];
  byMeasurement: Map<string, Channel[]>;
  byId: Map<string, Channel>;
  /** Identifies the layout in the state database. */
  fingerprint: string;
}

function hhmmMs(s: string): number {
  const [h, m] = s.split(':').map(Number);
  return ((h ?? 0) * 60 + (m ?? 0)) * 60_000;
}

/** The window class of a rule window: `day`, or `h<from>-<to>` for school hours. */
export function windowClass(w: RuleWindow): string {
  return 'lastDays' in w ? 'day' : `h${w.from}-${w.to}`;
}

/** How many day buckets a window reaches back at most (today included), over every weekday and hour. */
export function windowSpanDays(w: RuleWindow): number {
  const monday = Date.parse('2026-11-23T00:30:00+08:00');
  let span = 1;
  for (let h = 0; h < 7 * 24; h++) {
    const at = monday + h * 3_600_000;
    const first = windowPieces(w, at)[0];
    if (first) span = Math.max(span, chinaDayNumber(at) - chinaDayNumber(first.fromMs) + 1);
  }
  return span;
}

/** The layout for a set of profiles. */
export function evidenceLayout(profiles: Iterable<Profile>): EvidenceLayout {
  const specs = new Map<string, { q: QuerySpec; w: RuleWindow; groups: Set<string> }>();
  let days = 1;
  for (const p of profiles) {
    for (const rule of p.rules) {
      const queries = METRICS[rule.metric].queries({ class: rule.class });
      if (queries.length) days = Math.max(days, windowSpanDays(rule.window));
      for (const q of queries) {
        const id = `${q.key}|${windowClass(rule.window)}`;
        let spec = specs.get(id);
        if (!spec) specs.set(id, (spec = { q, w: rule.window, groups: new Set(q.groupBy ? [ANY_GROUP] : ['']) }));
        if (q.groupBy) spec.groups.add(rule.class ?? '');
      }
    }
  }
  // One day more than any window reaches: a point stamped tomorrow (an agent clock slightly ahead at
  // midnight) takes the spare bucket instead of evicting a day still in a window.
  days += 1;
  const channels: Channel[] = [];
  let offset = 0;
  for (const [id, { q, w, groups }] of [...specs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const aliases = Object.keys(q.fold).sort();
    const g = [...groups].sort();
    channels.push({ id, q, hours: 'lastDays' in w ? null : { fromMs: hhmmMs(w.from), toMs: hhmmMs(w.to) }, groups: g, aliases, offset });
    offset += g.length * aliases.length;
  }
  const byMeasurement = new Map<string, Channel[]>();
  for (const c of channels) byMeasurement.set(c.q.measurement, [...(byMeasurement.get(c.q.measurement) ?? []), c]);
  const fingerprint = JSON.stringify({ v: 2, days, channels: channels.map((c) => [c.id, c.groups, c.aliases.map((a) => [a, c.q.fold[a]?.field, c.q.fold[a]?.agg]), c.q.where]) });
  return { days, slots: offset, channels, byMeasurement, byId: new Map(channels.map((c) => [c.id, c])), fingerprint };
}

/** One school's buckets: the day number held by each ring position, and the slots (NaN: nothing). */
export interface SchoolBuckets {
  days: Int32Array;
  vals: Float64Array;
}

function fold(vals: Float64Array, slot: number, agg: 'count' | 'sum' | 'max', v: number): void {
  const prev = vals[slot] as number;
  if (agg === 'max') vals[slot] = Number.isNaN(prev) || v > prev ? v : prev;
  else vals[slot] = (Number.isNaN(prev) ? 0 : prev) + (agg === 'count' ? 1 : v);
}

/** Combines an already aggregated value (a count or sum adds, a max takes the max). */
function merge(vals: Float64Array, slot: number, agg: 'count' | 'sum' | 'max', v: number): void {
  const prev = vals[slot] as number;
  if (Number.isNaN(prev)) vals[slot] = v;
  else vals[slot] = agg === 'max' ? Math.max(prev, v) : prev + v;
}

/** The rolling evidence of every school that reported, in memory. */
export class Evidence {
  private readonly bySchool = new Map<string, SchoolBuckets>();
  /** Schools changed since the last `takeDirty()` (for persistence). */
  private dirty = new Set<string>();
  private readonly listeners: ((school: string) => void)[] = [];

  constructor(readonly layout: EvidenceLayout) {}

  get size(): number {
    return this.bySchool.size;
  }

  has(school: string): boolean {
    return this.bySchool.has(school);
  }

  get(school: string): SchoolBuckets | undefined {
    return this.bySchool.get(school);
  }

  /** Calls `fn` with every school whose evidence changed. */
  onChange(fn: (school: string) => void): void {
    this.listeners.push(fn);
  }

  /** The schools changed since the last call, and forgets them. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  /** Marks schools changed again (their save failed). */
  markDirty(schools: Iterable<string>): void {
    for (const s of schools) this.dirty.add(s);
  }

  private changed(school: string): void {
    this.dirty.add(school);
    for (const fn of this.listeners) fn(school);
  }

  /** The ring position for `dayNo`, cleared when it held an older day; -1 when the day is older than the ring. */
  private bucket(b: SchoolBuckets, dayNo: number): number {
    const { days, slots } = this.layout;
    const idx = ((dayNo % days) + days) % days;
    const held = b.days[idx] as number;
    if (held === dayNo) return idx;
    if (held > dayNo) return -1;
    b.days[idx] = dayNo;
    b.vals.fill(NaN, idx * slots, (idx + 1) * slots);
    return idx;
  }

  private buckets(school: string): SchoolBuckets {
    let b = this.bySchool.get(school);
    if (!b) {
      b = { days: new Int32Array(this.layout.days).fill(-1), vals: new Float64Array(this.layout.days * this.layout.slots).fill(NaN) };
      this.bySchool.set(school, b);
    }
    return b;
  }

  /**
   * Folds one accepted report, stamped `timeMs` (its points' time in InfluxDB), into the school's
   * evidence. Points older than the ring or more than a day ahead of `nowMs` are outside every window
   * the evidence answers and are skipped. Returns whether anything was kept.
   */
  apply(school: string, report: Report, timeMs: number, nowMs: number): boolean {
    const { layout } = this;
    const dayNo = chinaDayNumber(timeMs);
    const today = chinaDayNumber(nowMs);
    if (dayNo <= today - layout.days || dayNo > today + 1) return false;
    const tod = timeMs - chinaDayStartMs(timeMs);
    let b: SchoolBuckets | undefined;
    let base = -1;
    for (const m of report.measurements) {
      const channels = layout.byMeasurement.get(m.name);
      if (!channels) continue;
      for (const c of channels) {
        if (c.hours && (tod < c.hours.fromMs || tod >= c.hours.toMs)) continue;
        if (!c.q.match(m)) continue;
        if (!b) {
          b = this.buckets(school);
          const idx = this.bucket(b, dayNo);
          if (idx < 0) return false;
          base = idx * layout.slots;
        }
        const fields = m.fields as Record<string, unknown>;
        const tags = m.tags as Record<string, string>;
        const group = c.q.groupBy ? (tags[c.q.groupBy] ?? '') : '';
        for (let gi = 0; gi < c.groups.length; gi++) {
          const g = c.groups[gi] as string;
          if (g !== group && g !== ANY_GROUP) continue;
          for (let ai = 0; ai < c.aliases.length; ai++) {
            const f = c.q.fold[c.aliases[ai] as string];
            const v = f ? fields[f.field] : undefined;
            if (!f || typeof v !== 'number') continue;
            fold(b.vals, base + c.offset + gi * c.aliases.length + ai, f.agg, v);
          }
        }
      }
    }
    if (b) this.changed(school);
    return b !== undefined;
  }

  /**
   * Merges aggregates read from InfluxDB (the rebuild) into one day bucket of a school: a count or sum
   * adds to what live reports already put there, a max takes the max.
   */
  mergeAggregates(school: string, channelId: string, group: string, dayNo: number, values: Record<string, unknown>): void {
    const c = this.layout.byId.get(channelId);
    if (!c) return;
    const b = this.buckets(school);
    const idx = this.bucket(b, dayNo);
    if (idx < 0) return;
    const base = idx * this.layout.slots + c.offset;
    c.groups.forEach((g, gi) => {
      if (g !== group && g !== ANY_GROUP) return;
      c.aliases.forEach((a, ai) => {
        const v = values[a];
        const f = c.q.fold[a];
        if (f && typeof v === 'number') merge(b.vals, base + gi * c.aliases.length + ai, f.agg, v);
      });
    });
    this.changed(school);
  }

  /** Puts a school's saved buckets back (load at start); a blob of another layout is refused. */
  restore(school: string, blob: Uint8Array): boolean {
    const { days, slots } = this.layout;
    if (blob.byteLength !== days * 4 + days * slots * 8) return false;
    // A copy on its own (8-aligned) buffer: the slots first, then the day numbers.
    const copy = new Uint8Array(blob);
    this.bySchool.set(school, { vals: new Float64Array(copy.buffer, 0, days * slots), days: new Int32Array(copy.buffer, days * slots * 8, days) });
    return true;
  }

  /** A school's buckets as one blob (the slots, then the day numbers), for the state database. */
  serialize(school: string): Buffer | undefined {
    const b = this.bySchool.get(school);
    if (!b) return undefined;
    return Buffer.concat([Buffer.from(b.vals.buffer, b.vals.byteOffset, b.vals.byteLength), Buffer.from(b.days.buffer, b.days.byteOffset, b.days.byteLength)]);
  }

  /** Forgets everything (before a rebuild). */
  clear(): void {
    for (const s of this.bySchool.keys()) this.changed(s);
    this.bySchool.clear();
  }

  /**
   * The evidence as a judgement's data source at `atMs` (which must be now or later than every point
   * kept: today's bucket holds everything of today that arrived).
   */
  source(atMs: number): DataSource {
    const dayLists = new Map<string, number[]>();
    const daysOf = (w: RuleWindow): number[] => {
      const key = JSON.stringify(w);
      let list = dayLists.get(key);
      if (!list) {
        list = [];
        for (const p of windowPieces(w, atMs)) {
          for (let d = chinaDayNumber(p.fromMs); d <= chinaDayNumber(p.toMs - 1); d++) list.push(d);
        }
        dayLists.set(key, list);
      }
      return list;
    };
    // Rules of one school often share a query and window (CN-BB-02/03, the inventory rules): combine once.
    let memoSchool = '';
    const memo = new Map<string, Map<string, Record<string, number>> | undefined>();
    return (school, queryKey, window) => {
      const b = this.bySchool.get(school);
      if (!b) return undefined;
      const wc = windowClass(window);
      const key = `${queryKey}|${wc}|${'lastDays' in window ? window.lastDays : window.schoolDays}`;
      if (school !== memoSchool) {
        memoSchool = school;
        memo.clear();
      } else if (memo.has(key)) return memo.get(key);
      const c = this.layout.byId.get(`${queryKey}|${wc}`);
      const out = c && this.combine(b, c, daysOf(window));
      memo.set(key, out);
      return out;
    };
  }

  private combine(b: SchoolBuckets, c: Channel, dayNos: readonly number[]): Map<string, Record<string, number>> | undefined {
    const { days, slots } = this.layout;
    const n = c.groups.length * c.aliases.length;
    const acc = new Float64Array(n).fill(NaN);
    for (const d of dayNos) {
      const idx = ((d % days) + days) % days;
      if (b.days[idx] !== d) continue;
      const base = idx * slots + c.offset;
      for (let k = 0; k < n; k++) {
        const v = b.vals[base + k] as number;
        if (Number.isNaN(v)) continue;
        const f = c.q.fold[c.aliases[k % c.aliases.length] as string];
        merge(acc, k, f?.agg ?? 'sum', v);
      }
    }
    let out: Map<string, Record<string, number>> | undefined;
    c.groups.forEach((g, gi) => {
      let rec: Record<string, number> | undefined;
      c.aliases.forEach((a, ai) => {
        const v = acc[gi * c.aliases.length + ai] as number;
        if (!Number.isNaN(v)) (rec ??= {})[a] = v;
      });
      if (rec) (out ??= new Map()).set(g, rec);
    });
    return out;
  }

  /** Day numbers `from` today back over the ring (for the rebuild). */
  static ringDays(nowMs: number, days: number): number[] {
    const today = chinaDayNumber(nowMs);
    return Array.from({ length: days }, (_, k) => today - days + 1 + k);
  }
}

/** China midnight of a day number, ms. */
export function dayNumberStartMs(dayNo: number): number {
  return dayNo * DAY_MS - CHINA_OFFSET_MS;
}
