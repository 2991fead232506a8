/**
 * The `calendar` section of the collector config: school hours, per-province term breaks (寒暑假) and
 * extra holidays or make-up workdays for years the holiday package does not know yet. Validated once;
 * every problem is listed.
 */
import { z } from 'zod';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `s` is a real calendar date written YYYY-MM-DD. */
export function isIsoDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

const isoDate = z.string().refine(isIsoDate, 'must be a date written YYYY-MM-DD');
const wholeHour = z.string().regex(/^([01]\d|2[0-4]):00$/, 'must be a whole hour HH:00 (00:00-24:00)');

/** One break: the first and last day off, both included. */
export const breakSchema = z
  .strictObject({
    from: isoDate,
    to: isoDate,
    /** e.g. 寒假, 暑假. */
    name: z.string().min(1).max(64).default('假期'),
  })
  .refine((b) => b.from <= b.to, { path: ['to'], message: 'must not be before from' });

/** Key of a province's breaks: its 6-digit GB/T 2260 code, or `default` for every province without its own list. */
const provinceKey = z.string().regex(/^(default|\d{2}0000)$/, 'must be a province code (e.g. 630000) or "default"');

export const calendarSectionSchema = z
  .strictObject({
    /** School hours, China time, whole hours: the hours the school-hours online rate counts. */
    schoolHours: z.strictObject({ from: wholeHour.default('08:00'), to: wholeHour.default('17:00') }).prefault({}),
    /**
     * Term breaks by province: days off although they are workdays (寒假, 暑假). A province with its own
     * list uses only that list; the others use `default`.
     */
    breaks: z.record(provinceKey, z.array(breakSchema).max(50, 'at most 50 breaks per province'), { error: 'keys must be province codes (e.g. 630000) or "default"' }).default({}),
    /** Extra public holidays (days off) for years `chinese-days` does not cover yet. */
    extraHolidays: z.array(isoDate).max(100).default([]),
    /** Extra make-up workdays (调休上班, a weekend day with school) for such years. */
    extraWorkdays: z.array(isoDate).max(100).default([]),
  })
  .superRefine((c, ctx) => {
    if (c.schoolHours.from >= c.schoolHours.to) ctx.addIssue({ code: 'custom', path: ['schoolHours', 'to'], message: 'must be after schoolHours.from' });
    for (const [province, list] of Object.entries(c.breaks)) {
      const sorted = list.map((b, i) => ({ ...b, i })).sort((a, b) => (a.from < b.from ? -1 : 1));
      for (let k = 1; k < sorted.length; k++) {
        const prev = sorted[k - 1] as (typeof sorted)[number];
        const cur = sorted[k] as (typeof sorted)[number];
        if (cur.from <= prev.to) ctx.addIssue({ code: 'custom', path: ['breaks', province, cur.i, 'from'], message: `overlaps break ${prev.i} (${prev.from}..${prev.to})` });
      }
    }
    const both = c.extraHolidays.filter((d) => c.extraWorkdays.includes(d));
    for (const d of both) ctx.addIssue({ code: 'custom', path: ['extraWorkdays'], message: `${d} is also in extraHolidays` });
  });

export type CalendarSection = z.output<typeof calendarSectionSchema>;
