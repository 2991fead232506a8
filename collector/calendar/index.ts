/**
 * The school calendar: which China-time days are school days in a province, and its school hours.
 * Public holidays and make-up workdays (调休) come from the `chinese-days` package (State Council
 * notices, one file per year); term breaks (寒暑假) per province and holidays of years the package
 * does not cover yet come from the collector config (`calendar`).
 *
 * Days are China-time day numbers: days since 1970-01-01 in UTC+8 (collector/views/compliance/engine.ts).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { calendarSectionSchema, type CalendarSection } from './config.js';

export { calendarSectionSchema, type CalendarSection } from './config.js';

const DAY_MS = 86_400_000;

/** What kind of day a day is for a school. */
export type DayKind = 'workday' | 'make-up workday' | 'weekend' | 'holiday' | 'break';

export interface DayInfo {
  /** Whether the school has lessons that day. */
  schoolDay: boolean;
  kind: DayKind;
  /** The holiday's or break's name (国庆节, 寒假), when it has one. */
  name?: string;
  /** false when neither the package nor the config knows that year's holidays: only weekends are known. */
  covered: boolean;
}

/** Public holidays and make-up workdays by ISO date, with their names. */
export interface HolidayData {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
}

/** The data `chinese-days` ships (the same the package's own isWorkday reads). */
export function chineseDaysData(): HolidayData {
  const require = createRequire(import.meta.url);
  return require('chinese-days/dist/chinese-days.json') as HolidayData;
}

/** The ISO date (YYYY-MM-DD) of a China day number. */
export function isoDateOf(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The China day number of an ISO date. */
export function dayOfIso(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
}

/** The Chinese name in `chinese-days`' "National Day,国庆节,3" labels. */
function zhName(label: string): string {
  return label.split(',')[1] ?? label;
}

/** School days and hours of every province. Immutable once built. */
export class SchoolCalendar {
  /** First school hour (China time) and the hour school ends, e.g. 8 and 17. */
  readonly fromHour: number;
  readonly toHour: number;
  /** Mask of the school hours of a school day: bit h is the hour h:00-h+1:00. */
  readonly schoolDayMask: number;
  /** Last year whose public holidays the package or the config gives. */
  readonly coveredThroughYear: number;
  private readonly holidays = new Map<number, string>();
  private readonly workdays = new Map<number, string>();
  private readonly breaks = new Map<string, { from: number; to: number; name: string }[]>();
  /**
   * Identifies what the calendar says about every day (holidays, make-up workdays, breaks): equal
   * fingerprints, equal school days. Evidence kept per school day is only valid for its fingerprint.
   */
  readonly fingerprint: string;

  constructor(section: CalendarSection = calendarSectionSchema.parse({}), data: HolidayData = chineseDaysData()) {
    this.fromHour = Number(section.schoolHours.from.slice(0, 2));
    this.toHour = Number(section.schoolHours.to.slice(0, 2));
    let mask = 0;
    for (let h = this.fromHour; h < this.toHour; h++) mask |= 1 << h;
    this.schoolDayMask = mask >>> 0;
    let maxYear = 0;
    for (const [d, label] of Object.entries(data.holidays)) {
      this.holidays.set(dayOfIso(d), zhName(label));
      maxYear = Math.max(maxYear, Number(d.slice(0, 4)));
    }
    for (const [d, label] of Object.entries(data.workdays)) this.workdays.set(dayOfIso(d), zhName(label));
    for (const d of section.extraHolidays) {
      this.holidays.set(dayOfIso(d), '假日');
      maxYear = Math.max(maxYear, Number(d.slice(0, 4)));
    }
    for (const d of section.extraWorkdays) this.workdays.set(dayOfIso(d), '调休上班');
    this.coveredThroughYear = maxYear;
    for (const [province, list] of Object.entries(section.breaks)) {
      this.breaks.set(province, list.map((b) => ({ from: dayOfIso(b.from), to: dayOfIso(b.to), name: b.name })));
    }
    const sorted = (m: Map<number, string>): number[] => [...m.keys()].sort((a, b) => a - b);
    const breaks = [...this.breaks].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, l]) => [k, l.map((b) => [b.from, b.to])]);
    this.fingerprint = createHash('sha256').update(JSON.stringify([sorted(this.holidays), sorted(this.workdays), breaks])).digest('hex').slice(0, 16);
  }

  /**
   * The calendar group of a province: its own code when it has its own breaks, else `default`.
   * Provinces of one group have the same school days.
   */
  group(provinceCode: string): string {
    return this.breaks.has(provinceCode) ? provinceCode : 'default';
  }

  /** Every calendar group: `default` and each province with its own breaks. */
  groups(): string[] {
    return ['default', ...[...this.breaks.keys()].filter((k) => k !== 'default').sort()];
  }

  /** What day `day` is for schools of `provinceCode` (a 6-digit code; unknown provinces use the default breaks). */
  day(day: number, provinceCode: string): DayInfo {
    const covered = Number(isoDateOf(day).slice(0, 4)) <= this.coveredThroughYear;
    const brk = (this.breaks.get(provinceCode) ?? this.breaks.get('default'))?.find((b) => day >= b.from && day <= b.to);
    if (brk) return { schoolDay: false, kind: 'break', name: brk.name, covered };
    const holiday = this.holidays.get(day);
    if (holiday !== undefined) return { schoolDay: false, kind: 'holiday', name: holiday, covered };
    const workday = this.workdays.get(day);
    if (workday !== undefined) return { schoolDay: true, kind: 'make-up workday', name: workday, covered };
    const weekday = new Date(day * DAY_MS).getUTCDay();
    return weekday === 0 || weekday === 6 ? { schoolDay: false, kind: 'weekend', covered } : { schoolDay: true, kind: 'workday', covered };
  }

  isSchoolDay(day: number, provinceCode: string): boolean {
    return this.day(day, provinceCode).schoolDay;
  }

  /** The school hours of a day as a mask (bit h: hour h), 0 on a day without school. */
  hoursMask(day: number, provinceCode: string): number {
    return this.isSchoolDay(day, provinceCode) ? this.schoolDayMask : 0;
  }
}
