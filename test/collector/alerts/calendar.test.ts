import { expect } from 'chai';
import { calendarSchoolTime } from '../../../collector/alerts/calendar.js';
import { SchoolCalendar, calendarSectionSchema } from '../../../collector/calendar/index.js';

/** ms of a China-time wall clock reading. */
const cst = (iso: string): number => Date.parse(`${iso}+08:00`);

describe('alerts/calendar', () => {
  const calendar = new SchoolCalendar(calendarSectionSchema.parse({ breaks: { '640000': [{ from: '2026-07-10', to: '2026-08-31', name: '暑假' }] } }));
  const time = calendarSchoolTime(calendar);
  const ningxia = { id: '6401040001', provinceCode: '640000' };
  const beijing = { id: '1101010001', provinceCode: '110000' };

  it('calendarSchoolTime() is school time on a school day inside school hours, China time', () => {
    expect(time.isSchoolTime(beijing, cst('2026-10-13T10:00:00'))).to.equal(true);
    expect(time.isSchoolTime(beijing, cst('2026-10-13T07:59:00'))).to.equal(false);
    expect(time.isSchoolTime(beijing, cst('2026-10-13T20:00:00'))).to.equal(false);
  });

  it('calendarSchoolTime() is not school time on National Day or a weekend, and is on the make-up Saturday', () => {
    expect(time.isSchoolTime(beijing, cst('2026-10-02T10:00:00'))).to.equal(false);
    expect(time.isSchoolTime(beijing, cst('2026-10-18T10:00:00'))).to.equal(false);
    expect(time.isSchoolTime(beijing, cst('2026-10-10T10:00:00'))).to.equal(true);
  });

  it("calendarSchoolTime() follows the school's province's term breaks", () => {
    expect(time.isSchoolTime(ningxia, cst('2026-07-14T10:00:00'))).to.equal(false);
    expect(time.isSchoolTime(beijing, cst('2026-07-14T10:00:00'))).to.equal(true);
  });
});
