/**
 * When a school is in session: the alert rules' view of the school calendar. The calendar module
 * (collector/calendar/, holidays, 寒暑假, school hours) implements it; until it is wired, every
 * moment counts as school time (`ALWAYS_SCHOOL_TIME`).
 */

/** Answers whether `school` is in session at `atMs`. Called once per school per sweep: must be cheap. */
export interface SchoolTime {
  isSchoolTime(school: string, atMs: number): boolean;
}

/** Every moment is school time: offline alerts fire around the clock. */
export const ALWAYS_SCHOOL_TIME: SchoolTime = { isSchoolTime: () => true };
