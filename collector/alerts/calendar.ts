/**
 * When a school is in session: the alert rules' view of the school calendar (collector/calendar/:
 * public holidays and make-up workdays, each province's 寒暑假, school hours).
 */
import type { SchoolCalendar } from '../calendar/index.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** China Standard Time, UTC+8 all year. */
const CHINA_OFFSET_MS = 8 * HOUR_MS;

/** The school as the calendar needs it: its id and its province's 6-digit code. */
export interface SchoolPlace {
  id: string;
  provinceCode: string;
}

/** Answers whether a school is in session at `atMs`. Called once per school per sweep: must be cheap. */
export interface SchoolTime {
  isSchoolTime(school: SchoolPlace, atMs: number): boolean;
}

/** Every moment is school time: offline alerts fire around the clock (tests, no calendar). */
export const ALWAYS_SCHOOL_TIME: SchoolTime = { isSchoolTime: () => true };

/** School time from the school calendar: a school day of the school's province, inside school hours (China time). */
export function calendarSchoolTime(calendar: SchoolCalendar): SchoolTime {
  return {
    isSchoolTime(school, atMs) {
      const local = atMs + CHINA_OFFSET_MS;
      const day = Math.floor(local / DAY_MS);
      const hour = Math.floor((local - day * DAY_MS) / HOUR_MS);
      return ((calendar.hoursMask(day, school.provinceCode) >>> hour) & 1) === 1;
    },
  };
}
