/**
 * The school-hours online rate: of the school hours (the school calendar: school days of the school's
 * province, school hours) of the last 7 or 30 China-time days, the share in which the school was online.
 * "Online now" says whether a school answered in the last 15 minutes, so it drops every night, weekend
 * and holiday; this rate counts only the hours the school is meant to be open, which is what officials
 * mean by availability.
 *
 * An hour counts as online when a report collected in it had an internet target answering (the same
 * test as "online now"). Per school: one 24-bit mask of online hours per China day, in a ring of 30
 * days, and the newest day held (124 bytes a school; 31 MB at 250,000 schools, persisted in the state
 * database as one blob a school). Days before the collector started counting (`sinceDay`) are left out of the school hours,
 * so a new installation does not count its first weeks as offline.
 */
import type { Registry } from '../../registry/index.js';
import type { SchoolCalendar } from '../../calendar/index.js';
import { isoDateOf } from '../../calendar/index.js';
import { DirtySchools } from '../dirty.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const CHINA_OFFSET_MS = 8 * HOUR_MS;
/** Days kept per school: the longest window. */
export const RING_DAYS = 30;
/** The windows the rate is given for, in days (today included). */
export const RATE_WINDOWS = [7, 30] as const;

function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const chinaDay = (t: number): number => Math.floor((t + CHINA_OFFSET_MS) / DAY_MS);
const chinaHour = (t: number): number => Math.floor((((t + CHINA_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS / HOUR_MS);

/** Online school hours over school hours, for one school or summed over a region. */
export interface HoursCount {
  online: number;
  school: number;
}

/** The rate of one window as the API shows it. */
export interface SchoolHoursRate {
  days: number;
  /** 100 × online / school hours; null when the window has no school hours (holidays, breaks). */
  onlinePct: number | null;
  onlineHours: number;
  schoolHours: number;
  /** Why there is no rate. */
  reason?: string;
}

/** Per-school online-hour masks and the rates computed from them. */
export class Availability {
  private readonly index = new Map<string, number>();
  private ids: string[] = [];
  private bits = new Uint32Array(0);
  /** Newest day each school's ring holds (-1: none); the ring holds the 30 days up to it. */
  private latest = new Int32Array(0);
  /** Schools whose ring changed since the last save. */
  readonly changed = new DirtySchools();

  /**
   * @param calendar school days and hours
   * @param sinceDay first China day the collector counted (days before it are not school hours here)
   */
  constructor(
    private readonly calendar: SchoolCalendar,
    readonly sinceDay: number,
  ) {}

  get size(): number {
    return this.ids.length;
  }

  private slotOf(school: string): number {
    let i = this.index.get(school);
    if (i !== undefined) return i;
    i = this.ids.length;
    if (i >= this.latest.length) {
      const cap = Math.max(1024, this.ids.length * 2);
      const bits = new Uint32Array(cap * RING_DAYS);
      bits.set(this.bits);
      const latest = new Int32Array(cap).fill(-1);
      latest.set(this.latest);
      this.bits = bits;
      this.latest = latest;
    }
    this.index.set(school, i);
    this.ids.push(school);
    return i;
  }

  /** Ring position of `day` for school slot `i` (the ring moves on, clearing the days it passes); -1 when older than the ring. */
  private cell(i: number, day: number): number {
    const latest = this.latest[i] as number;
    if (day <= latest - RING_DAYS) return -1;
    if (day > latest) {
      for (let d = Math.max(latest + 1, day - RING_DAYS + 1); d <= day; d++) this.bits[i * RING_DAYS + (d % RING_DAYS)] = 0;
      this.latest[i] = day;
    }
    return i * RING_DAYS + (day % RING_DAYS);
  }

  /** A report of `school` collected at `atMs` had an internet target answering. Returns whether a new hour was marked. */
  markOnline(school: string, atMs: number, nowMs: number): boolean {
    const day = chinaDay(atMs);
    const today = chinaDay(nowMs);
    // An agent clock ahead stamps the future; a spool replay the far past: neither is in a window.
    if (day > today || day <= today - RING_DAYS || atMs > nowMs + HOUR_MS) return false;
    const k = this.cell(this.slotOf(school), day);
    if (k < 0) return false;
    const bit = (1 << chinaHour(atMs)) >>> 0;
    const prev = this.bits[k] as number;
    if (prev & bit) return false;
    this.bits[k] = (prev | bit) >>> 0;
    this.changed.add(school);
    return true;
  }

  /** Per province, the school-hour masks of the ring's 30 days up to now, and the hour they were made for. */
  private readonly maskCache = new Map<string, { at: number; masks: Uint32Array }>();

  /**
   * The school-hour masks of the 30 days up to today (index 0: 29 days ago, 29: today, with today's hours
   * not yet begun left out; 0 before `sinceDay`). Cached per province for the current hour: the calendar
   * is asked 30 times a province an hour, not per school.
   */
  private masks(province: string, nowMs: number): Uint32Array {
    const hourNo = Math.floor(nowMs / HOUR_MS);
    const hit = this.maskCache.get(province);
    if (hit?.at === hourNo) return hit.masks;
    const today = chinaDay(nowMs);
    const h = chinaHour(nowMs);
    const masks = new Uint32Array(RING_DAYS);
    for (let k = 0; k < RING_DAYS; k++) {
      const day = today - RING_DAYS + 1 + k;
      if (day < this.sinceDay) continue;
      const m = this.calendar.hoursMask(day, province);
      masks[k] = day === today ? (m & (h >= 23 ? 0xffffff : (1 << (h + 1)) - 1)) >>> 0 : m;
    }
    if (this.maskCache.size > 64) this.maskCache.clear();
    this.maskCache.set(province, { at: hourNo, masks });
    return masks;
  }

  /** School hours of the last `windowDays` days in a province (the same for every school of it). */
  schoolHours(province: string, nowMs: number, windowDays: number): number {
    const masks = this.masks(province, nowMs);
    let n = 0;
    for (let k = RING_DAYS - windowDays; k < RING_DAYS; k++) n += popcount(masks[k] as number);
    return n;
  }

  /** Online school hours of one school over the last `windowDays` days. */
  onlineHours(school: string, province: string, nowMs: number, windowDays: number): number {
    const i = this.index.get(school);
    if (i === undefined) return 0;
    const masks = this.masks(province, nowMs);
    const today = chinaDay(nowMs);
    const latest = this.latest[i] as number;
    let n = 0;
    for (let k = RING_DAYS - windowDays; k < RING_DAYS; k++) {
      const d = today - RING_DAYS + 1 + k;
      if (d <= latest && d > latest - RING_DAYS) n += popcount(((this.bits[i * RING_DAYS + (d % RING_DAYS)] as number) & (masks[k] as number)) >>> 0);
    }
    return n;
  }

  /**
   * Online school hours of one school over every window of RATE_WINDOWS at once, into `out` (one pass over
   * the ring; the region sums call it per school).
   */
  onlineHoursAll(school: string, province: string, nowMs: number, out: number[]): void {
    out.fill(0);
    const i = this.index.get(school);
    if (i === undefined) return;
    const masks = this.masks(province, nowMs);
    const today = chinaDay(nowMs);
    const latest = this.latest[i] as number;
    if (latest <= today - RING_DAYS) return;
    for (let k = 0; k < RING_DAYS; k++) {
      const d = today - RING_DAYS + 1 + k;
      if (d > latest || d <= latest - RING_DAYS) continue;
      const n = popcount(((this.bits[i * RING_DAYS + (d % RING_DAYS)] as number) & (masks[k] as number)) >>> 0);
      if (n === 0) continue;
      for (let w = 0; w < RATE_WINDOWS.length; w++) if (k >= RING_DAYS - (RATE_WINDOWS[w] as number)) out[w] = (out[w] as number) + n;
    }
  }

  /** The school's own rate over each window. */
  rates(school: string, province: string, nowMs: number): SchoolHoursRate[] {
    return RATE_WINDOWS.map((days) => rateOf(days, { online: this.onlineHours(school, province, nowMs, days), school: this.schoolHours(province, nowMs, days) }, this.sinceDay));
  }

  /** One school's ring as a blob (the 30 masks, then the newest day), for the state database. */
  serialize(school: string): Buffer | undefined {
    const i = this.index.get(school);
    if (i === undefined) return undefined;
    const out = Buffer.alloc(RING_DAYS * 4 + 4);
    for (let r = 0; r < RING_DAYS; r++) out.writeUInt32LE(this.bits[i * RING_DAYS + r] as number, r * 4);
    out.writeInt32LE(this.latest[i] as number, RING_DAYS * 4);
    return out;
  }

  /** Puts a saved ring back; a blob of another size is refused. */
  restore(school: string, blob: Uint8Array): boolean {
    if (blob.byteLength !== RING_DAYS * 4 + 4) return false;
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    const i = this.slotOf(school);
    for (let r = 0; r < RING_DAYS; r++) this.bits[i * RING_DAYS + r] = b.readUInt32LE(r * 4);
    this.latest[i] = b.readInt32LE(RING_DAYS * 4);
    return true;
  }
}

/** A window's rate from its counts. */
export function rateOf(days: number, c: HoursCount, sinceDay: number): SchoolHoursRate {
  if (c.school === 0) {
    return { days, onlinePct: null, onlineHours: 0, schoolHours: 0, reason: `no school hours in the last ${days} days since ${isoDateOf(sinceDay)} (weekends, holidays, term breaks, or counting started only today)` };
  }
  return { days, onlinePct: (100 * c.online) / c.school, onlineHours: c.online, schoolHours: c.school };
}

/** Summed counts per region code (and `000000` for the nation), one entry per window. */
export interface AvailabilitySnapshot {
  atMs: number;
  byCode: Map<string, HoursCount[]>;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Sums every registered school's counts into its county, city, province and the nation, yielding to
 * the event loop every 15 ms (about 250,000 schools × 30 days of masks). A school that never reported
 * counts its school hours with none online.
 */
export async function availabilitySnapshot(registry: Registry, a: Availability, nowMs: number, national = '000000'): Promise<AvailabilitySnapshot> {
  const W = RATE_WINDOWS.length;
  // Counties first (one map lookup a school), then rolled up: a few thousand additions.
  const byCounty = new Map<string, { county: string; city: string; province: string; sums: Float64Array }>();
  const hoursByProvince = new Map<string, number[]>();
  const online = new Array<number>(W).fill(0);
  let slice = performance.now();
  let n = 0;
  for (const s of registry.schools.values()) {
    let hours = hoursByProvince.get(s.provinceCode);
    if (!hours) hoursByProvince.set(s.provinceCode, (hours = RATE_WINDOWS.map((d) => a.schoolHours(s.provinceCode, nowMs, d))));
    let c = byCounty.get(s.countyCode);
    if (!c) byCounty.set(s.countyCode, (c = { county: s.countyCode, city: s.cityCode, province: s.provinceCode, sums: new Float64Array(2 * W) }));
    a.onlineHoursAll(s.id, s.provinceCode, nowMs, online);
    for (let w = 0; w < W; w++) {
      c.sums[2 * w] = (c.sums[2 * w] as number) + (online[w] as number);
      c.sums[2 * w + 1] = (c.sums[2 * w + 1] as number) + (hours[w] as number);
    }
    if ((++n & 255) === 0 && performance.now() - slice > 15) {
      await yieldNow();
      slice = performance.now();
    }
  }
  const byCode = new Map<string, HoursCount[]>();
  const add = (code: string, sums: Float64Array): void => {
    let e = byCode.get(code);
    if (!e) byCode.set(code, (e = RATE_WINDOWS.map(() => ({ online: 0, school: 0 }))));
    e.forEach((x, w) => {
      x.online += sums[2 * w] as number;
      x.school += sums[2 * w + 1] as number;
    });
  };
  for (const c of byCounty.values()) for (const code of [national, c.province, c.city, c.county]) add(code, c.sums);
  return { atMs: nowMs, byCode };
}
