/**
 * Rule windows on the school calendar: `lastDays: N` is N whole China days and today so far;
 * `schoolDays: N` is the school hours of the last N school days of the school's province
 * (collector/calendar: public holidays and make-up workdays from chinese-days, term breaks from the
 * config), looking back at most `lookbackDays` calendar days. A window that finds fewer school days
 * than it asks for within the lookback is short: judged unknown, with the days it did find.
 */
import { SchoolCalendar, isoDateOf } from '../../calendar/index.js';
import type { RuleWindow } from './profile.js';

const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;
/** Default of how far back a school-day window looks for its school days, calendar days (today included). */
export const DEFAULT_LOOKBACK_DAYS = 100;

/** A time range [fromMs, toMs). */
export interface Interval {
  fromMs: number;
  toMs: number;
}

/** A rule window expanded at one time for one calendar group. */
export interface WindowSpan {
  pieces: Interval[];
  /** China day numbers of the school days a `schoolDays` window covers, oldest first; [] for `lastDays`. */
  days: number[];
  /** Fewer school days than the window asks for lie within the lookback. */
  short?: { found: number; wanted: number; lookbackDays: number };
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

const dayStartMs = (dayNo: number): number => dayNo * DAY_MS - CHINA_OFFSET_MS;
const dayNumber = (t: number): number => Math.floor((t + CHINA_OFFSET_MS) / DAY_MS);

/** Expands rule windows on a school calendar. Immutable apart from its caches (bounded). */
export class SchoolWindows {
  /** School days found per (group, window, whether today counts), for one China day at a time. */
  private readonly daysMemo = new Map<string, { days: number[]; found: number }>();
  private memoToday = Number.NaN;
  private readonly schoolDayMemo = new Map<string, boolean>();

  constructor(
    readonly calendar: SchoolCalendar = new SchoolCalendar(),
    readonly lookbackDays: number = DEFAULT_LOOKBACK_DAYS,
  ) {}

  /** The calendar group of a province (provinces of a group have the same school days). */
  group(provinceCode: string): string {
    return this.calendar.group(provinceCode);
  }

  /** Whether `dayNo` is a school day in `provinceCode` (cached: evidence asks for every report). */
  isSchoolDay(dayNo: number, provinceCode: string): boolean {
    const key = `${this.group(provinceCode)}|${dayNo}`;
    let v = this.schoolDayMemo.get(key);
    if (v === undefined) {
      if (this.schoolDayMemo.size >= 20_000) this.schoolDayMemo.clear();
      v = this.calendar.isSchoolDay(dayNo, provinceCode);
      this.schoolDayMemo.set(key, v);
    }
    return v;
  }

  /**
   * The N most recent school days of `group` up to `today` (today only when `withToday`), newest
   * last, within the lookback.
   */
  private schoolDays(group: string, wanted: number, today: number, withToday: boolean): { days: number[]; found: number } {
    if (today !== this.memoToday) {
      this.daysMemo.clear();
      this.memoToday = today;
    }
    const key = `${group}|${wanted}|${withToday ? 1 : 0}`;
    let hit = this.daysMemo.get(key);
    if (hit) return hit;
    const days: number[] = [];
    for (let d = withToday ? today : today - 1; d > today - this.lookbackDays && days.length < wanted; d--) {
      if (this.isSchoolDay(d, group)) days.unshift(d);
    }
    hit = { days, found: days.length };
    this.daysMemo.set(key, hit);
    return hit;
  }

  /** The window `w` ending at `atMs` for schools of `provinceCode`. */
  span(w: RuleWindow, atMs: number, provinceCode: string): WindowSpan {
    const today = dayNumber(atMs);
    if ('lastDays' in w) return { pieces: [{ fromMs: dayStartMs(today) - Math.ceil(w.lastDays) * DAY_MS, toMs: atMs }], days: [] };
    const fromMs = minutesOf(w.from) * 60_000;
    const toMs = minutesOf(w.to) * 60_000;
    const group = this.group(provinceCode);
    // Today is one of the N days once its school hours have begun.
    const withToday = atMs > dayStartMs(today) + fromMs && this.isSchoolDay(today, group);
    const { days, found } = this.schoolDays(group, w.schoolDays, today, withToday);
    const pieces = days.map((d) => ({ fromMs: dayStartMs(d) + fromMs, toMs: Math.min(dayStartMs(d) + toMs, atMs) }));
    return found < w.schoolDays ? { pieces, days, short: { found, wanted: w.schoolDays, lookbackDays: this.lookbackDays } } : { pieces, days };
  }

  /** How a window reads in a judgement, with the dates a school-day window covers. */
  describe(w: RuleWindow, span: WindowSpan, provinceCode: string): string {
    if ('lastDays' in w) {
      const n = Math.ceil(w.lastDays);
      return `the last ${n} day${n === 1 ? '' : 's'} (from midnight China time) and today so far`;
    }
    const group = this.group(provinceCode);
    const dates = span.days.map((d) => {
      const info = this.calendar.day(d, group);
      return info.kind === 'make-up workday' ? `${isoDateOf(d)} (make-up workday${info.name ? ` ${info.name}` : ''})` : isoDateOf(d);
    });
    const cal = group === 'default' ? 'school calendar: public holidays, make-up workdays and the default term breaks' : `school calendar of province ${group}: public holidays, make-up workdays and its term breaks`;
    const year = span.days.length ? Number(isoDateOf(span.days[span.days.length - 1] as number).slice(0, 4)) : 0;
    const unknownYear = year > this.calendar.coveredThroughYear ? `; the public holidays of ${year} are not known yet (only weekends are left out)` : '';
    return `${w.from}-${w.to} China time on the last ${w.schoolDays} school day${w.schoolDays === 1 ? '' : 's'} (${cal}${unknownYear}): ${dates.join(', ') || 'none'}`;
  }

  /** Why a short window is unknown. */
  static shortReason(span: WindowSpan): string {
    const s = span.short;
    if (!s) return '';
    const from = span.days.length ? ` (${isoDateOf(span.days[0] as number)} to ${isoDateOf(span.days[span.days.length - 1] as number)})` : '';
    return `window incomplete: only ${s.found} of ${s.wanted} school days${from} in the last ${s.lookbackDays} days the evidence reaches back (views.complianceLookbackDays)`;
  }
}

let shared: SchoolWindows | undefined;

/** Windows on the default calendar (chinese-days, no term breaks): for callers without a configured calendar. */
export function defaultWindows(): SchoolWindows {
  return (shared ??= new SchoolWindows());
}
