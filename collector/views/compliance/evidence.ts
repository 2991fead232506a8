/**
 * Per-school rolling compliance evidence, maintained from accepted reports: for every query of the
 * metrics the loaded profiles use (collector/views/compliance/metrics.ts), the same counts, sums and
 * maxima the InfluxQL path computes, in China-time day buckets — one set for whole days (`lastDays`
 * windows) and one per school-hours span (`schoolDays` windows, only points inside `from`–`to`).
 * Buckets combine exactly like the InfluxQL pieces (counts and sums add, maxima take the max), so a
 * judgement from the evidence equals the one from raw data for the same points.
 *
 * Two rings per school, both bounded whatever the calendar does:
 * - whole-day channels: a ring of China days, the longest `lastDays` window plus today and one spare;
 * - school-hours channels: a ring of school days only (the school calendar of the school's province:
 *   holidays, make-up workdays, term breaks), the most `schoolDays` any window asks for plus today and
 *   one spare. A holiday or a break takes no bucket, so "the last 7 school days" across the Spring
 *   Festival or from inside 寒假 is held in 9 buckets, however far back the days lie (up to the
 *   windows' lookback, views.complianceLookbackDays). Points of a non-school day are in no such window
 *   and are not kept there.
 * The school-day ring is only valid for the calendar it was filled with: its fingerprint is part of
 * the layout's, so a changed calendar (term breaks, a chinese-days update) rebuilds the evidence.
 */
import type { Report } from '../../../protocol/index.js';
import { chinaDayNumber, chinaDayStartMs, type DataSource } from './engine.js';
import { METRICS, type QuerySpec } from './metrics.js';
import type { Profile, RuleWindow } from './profile.js';
import { defaultWindows, type SchoolWindows } from './windows.js';

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
  /** First slot of this channel in a bucket of its ring. */
  offset: number;
  /** The ring it is kept in: China days (whole-day windows) or school days (school-hours windows). */
  ring: 'day' | 'school';
}

/** How the evidence is laid out for the loaded profiles; a change of it means rebuilding the evidence. */
export interface EvidenceLayout {
  /** Buckets and slots per bucket of the China-day ring. */
  days: number;
  slots: number;
  /** Buckets and slots per bucket of the school-day ring. */
  schoolDays: number;
  schoolSlots: number;
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

/** How many China-day buckets a whole-day window reaches back (today included). */
export function windowSpanDays(w: RuleWindow): number {
  return 'lastDays' in w ? Math.ceil(w.lastDays) + 1 : 1;
}

/** The layout for a set of profiles, on the school calendar of `windows`. */
export function evidenceLayout(profiles: Iterable<Profile>, windows: SchoolWindows = defaultWindows()): EvidenceLayout {
  const specs = new Map<string, { q: QuerySpec; w: RuleWindow; groups: Set<string> }>();
  let days = 1;
  let schoolDays = 0;
  for (const p of profiles) {
    for (const rule of p.rules) {
      const queries = METRICS[rule.metric].queries({ class: rule.class });
      if (queries.length && 'lastDays' in rule.window) days = Math.max(days, windowSpanDays(rule.window));
      // The window's days and today (before school hours it is not one of them yet).
      if (queries.length && 'schoolDays' in rule.window) schoolDays = Math.max(schoolDays, rule.window.schoolDays + 1);
      for (const q of queries) {
        const id = `${q.key}|${windowClass(rule.window)}`;
        let spec = specs.get(id);
        if (!spec) specs.set(id, (spec = { q, w: rule.window, groups: new Set(q.groupBy ? [ANY_GROUP] : ['']) }));
        if (q.groupBy) spec.groups.add(rule.class ?? '');
      }
    }
  }
  // One bucket more than any window reaches: a point stamped tomorrow (an agent clock slightly ahead at
  // midnight) takes the spare bucket instead of evicting a day still in a window.
  days += 1;
  if (schoolDays > 0) schoolDays += 1;
  const channels: Channel[] = [];
  const offsets = { day: 0, school: 0 };
  for (const [id, { q, w, groups }] of [...specs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const aliases = Object.keys(q.fold).sort();
    const g = [...groups].sort();
    const ring = 'lastDays' in w ? 'day' : 'school';
    channels.push({ id, q, hours: 'lastDays' in w ? null : { fromMs: hhmmMs(w.from), toMs: hhmmMs(w.to) }, groups: g, aliases, offset: offsets[ring], ring });
    offsets[ring] += g.length * aliases.length;
  }
  const byMeasurement = new Map<string, Channel[]>();
  for (const c of channels) byMeasurement.set(c.q.measurement, [...(byMeasurement.get(c.q.measurement) ?? []), c]);
  const fingerprint = JSON.stringify({
    v: 3,
    days,
    schoolDays,
    calendar: windows.calendar.fingerprint,
    lookbackDays: windows.lookbackDays,
    channels: channels.map((c) => [c.id, c.ring, c.groups, c.aliases.map((a) => [a, c.q.fold[a]?.field, c.q.fold[a]?.agg]), c.q.where]),
  });
  return { days, slots: offsets.day, schoolDays, schoolSlots: offsets.school, channels, byMeasurement, byId: new Map(channels.map((c) => [c.id, c])), fingerprint };
}

/**
 * One school's buckets: the day number held by each ring position (the China-day ring's positions,
 * then the school-day ring's) and the slots (NaN: nothing), in the same order.
 */
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
  /** Where the school-day ring's slots start in `vals`. */
  private readonly schoolBase: number;

  constructor(
    readonly layout: EvidenceLayout,
    readonly windows: SchoolWindows = defaultWindows(),
  ) {
    this.schoolBase = layout.days * layout.slots;
  }

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

  /** First slot of `dayNo` in the China-day ring (cleared when it held an older day); -1 when older than the ring. */
  private dayBucket(b: SchoolBuckets, dayNo: number): number {
    const { days, slots } = this.layout;
    const idx = ((dayNo % days) + days) % days;
    const held = b.days[idx] as number;
    if (held === dayNo) return idx * slots;
    if (held > dayNo) return -1;
    b.days[idx] = dayNo;
    b.vals.fill(NaN, idx * slots, (idx + 1) * slots);
    return idx * slots;
  }

  /**
   * First slot of school day `dayNo` in the school-day ring: its bucket, else the oldest one (cleared);
   * -1 when every bucket holds a newer school day (the day is in no window any more).
   */
  private schoolBucket(b: SchoolBuckets, dayNo: number): number {
    const { days, schoolDays, schoolSlots } = this.layout;
    let oldest = -1;
    for (let j = 0; j < schoolDays; j++) {
      const held = b.days[days + j] as number;
      if (held === dayNo) return this.schoolBase + j * schoolSlots;
      if (oldest < 0 || held < (b.days[days + oldest] as number)) oldest = j;
    }
    if (oldest < 0 || (b.days[days + oldest] as number) > dayNo) return -1;
    b.days[days + oldest] = dayNo;
    const base = this.schoolBase + oldest * schoolSlots;
    b.vals.fill(NaN, base, base + schoolSlots);
    return base;
  }

  private buckets(school: string): SchoolBuckets {
    let b = this.bySchool.get(school);
    if (!b) {
      const { days, slots, schoolDays, schoolSlots } = this.layout;
      // One buffer for both (as restore() makes them): a backing store less per school.
      const nVals = days * slots + schoolDays * schoolSlots;
      const buf = new ArrayBuffer(nVals * 8 + (days + schoolDays) * 4);
      b = { vals: new Float64Array(buf, 0, nVals).fill(NaN), days: new Int32Array(buf, nVals * 8, days + schoolDays).fill(-1) };
      this.bySchool.set(school, b);
    }
    return b;
  }

  /**
   * Folds one accepted report, stamped `timeMs` (its points' time in InfluxDB), into the evidence of
   * a school of `provinceCode`. Points older than every window that could still hold them, or more
   * than a day ahead of `nowMs`, are skipped; school-hours channels keep only points of school days.
   * Returns whether anything was kept.
   */
  apply(school: string, report: Report, timeMs: number, nowMs: number, provinceCode = ''): boolean {
    const { layout } = this;
    const dayNo = chinaDayNumber(timeMs);
    const today = chinaDayNumber(nowMs);
    if (dayNo > today + 1) return false;
    const dayOk = dayNo > today - layout.days;
    let schoolOk: boolean | undefined;
    const tod = timeMs - chinaDayStartMs(timeMs);
    let b: SchoolBuckets | undefined;
    const base = { day: -2, school: -2 };
    let kept = false;
    for (const m of report.measurements) {
      const channels = layout.byMeasurement.get(m.name);
      if (!channels) continue;
      for (const c of channels) {
        if (c.ring === 'day' ? !dayOk : (schoolOk ??= dayNo > today - this.windows.lookbackDays && this.windows.isSchoolDay(dayNo, provinceCode)) === false) continue;
        if (c.hours && (tod < c.hours.fromMs || tod >= c.hours.toMs)) continue;
        if (!c.q.match(m)) continue;
        b ??= this.buckets(school);
        if (base[c.ring] === -2) base[c.ring] = c.ring === 'day' ? this.dayBucket(b, dayNo) : this.schoolBucket(b, dayNo);
        const at = base[c.ring];
        if (at < 0) continue;
        kept = true;
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
            fold(b.vals, at + c.offset + gi * c.aliases.length + ai, f.agg, v);
          }
        }
      }
    }
    if (kept) this.changed(school);
    return kept;
  }

  /**
   * Merges aggregates read from InfluxDB (the rebuild) into one day bucket of a school: a count or sum
   * adds to what live reports already put there, a max takes the max.
   */
  mergeAggregates(school: string, channelId: string, group: string, dayNo: number, values: Record<string, unknown>): void {
    const c = this.layout.byId.get(channelId);
    if (!c) return;
    const b = this.buckets(school);
    const at = c.ring === 'day' ? this.dayBucket(b, dayNo) : this.schoolBucket(b, dayNo);
    if (at < 0) return;
    const base = at + c.offset;
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
    const { days, slots, schoolDays, schoolSlots } = this.layout;
    const nVals = days * slots + schoolDays * schoolSlots;
    const nDays = days + schoolDays;
    if (blob.byteLength !== nDays * 4 + nVals * 8) return false;
    // A copy on its own (8-aligned) buffer: the slots first, then the day numbers.
    const copy = new Uint8Array(blob);
    this.bySchool.set(school, { vals: new Float64Array(copy.buffer, 0, nVals), days: new Int32Array(copy.buffer, nVals * 8, nDays) });
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
    const today = chinaDayNumber(atMs);
    const dayLists = new Map<number, number[]>();
    const daysOf = (w: RuleWindow, span: WindowSpanLike): readonly number[] => {
      if (!('lastDays' in w)) return span.days;
      const n = Math.ceil(w.lastDays);
      let list = dayLists.get(n);
      if (!list) dayLists.set(n, (list = Array.from({ length: n + 1 }, (_, k) => today - n + k)));
      return list;
    };
    // Rules of one school often share a query and window (CN-BB-02/03, the inventory rules): combine once.
    let memoSchool = '';
    const memo = new Map<string, Map<string, Record<string, number>> | undefined>();
    return (school, queryKey, window, span) => {
      const b = this.bySchool.get(school);
      if (!b) return undefined;
      const wc = windowClass(window);
      const key = `${queryKey}|${wc}|${'lastDays' in window ? window.lastDays : window.schoolDays}`;
      if (school !== memoSchool) {
        memoSchool = school;
        memo.clear();
      } else if (memo.has(key)) return memo.get(key);
      const c = this.layout.byId.get(`${queryKey}|${wc}`);
      const out = c && this.combine(b, c, daysOf(window, span));
      memo.set(key, out);
      return out;
    };
  }

  /** First slot of day `d` of channel `c`'s ring in `b`, -1 when the ring does not hold it. */
  private held(b: SchoolBuckets, c: Channel, d: number): number {
    const { days, slots, schoolDays, schoolSlots } = this.layout;
    if (c.ring === 'day') {
      const idx = ((d % days) + days) % days;
      return b.days[idx] === d ? idx * slots : -1;
    }
    for (let j = 0; j < schoolDays; j++) if (b.days[days + j] === d) return this.schoolBase + j * schoolSlots;
    return -1;
  }

  private combine(b: SchoolBuckets, c: Channel, dayNos: readonly number[]): Map<string, Record<string, number>> | undefined {
    const n = c.groups.length * c.aliases.length;
    const acc = new Float64Array(n).fill(NaN);
    for (const d of dayNos) {
      const at = this.held(b, c, d);
      if (at < 0) continue;
      const base = at + c.offset;
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

  /** Day numbers `from` today back over the China-day ring (for the rebuild). */
  static ringDays(nowMs: number, days: number): number[] {
    const today = chinaDayNumber(nowMs);
    return Array.from({ length: days }, (_, k) => today - days + 1 + k);
  }

  /** The school days the school-day ring holds at `nowMs` for a province, oldest first (for the rebuild). */
  schoolRingDays(nowMs: number, provinceCode: string): number[] {
    const today = chinaDayNumber(nowMs);
    const out: number[] = [];
    for (let d = today; d > today - this.windows.lookbackDays && out.length < this.layout.schoolDays - 1; d--) if (this.windows.isSchoolDay(d, provinceCode)) out.unshift(d);
    return out;
  }
}

type WindowSpanLike = { days: readonly number[] };

/** China midnight of a day number, ms. */
export function dayNumberStartMs(dayNo: number): number {
  return dayNo * DAY_MS - CHINA_OFFSET_MS;
}
