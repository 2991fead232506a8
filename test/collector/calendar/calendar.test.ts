import { expect } from 'chai';
import { SchoolCalendar, calendarSectionSchema, dayOfIso, isoDateOf } from '../../../collector/calendar/index.js';
import { collectorConfigSchema } from '../../../collector/config.js';

const cal = (section: unknown = {}) => new SchoolCalendar(calendarSectionSchema.parse(section));
const day = (iso: string, province = '640000', c = cal()) => c.day(dayOfIso(iso), province);

describe('collector/calendar: school days from chinese-days and the config', () => {
  it('National Day 2026 is a holiday week, its Saturday make-up day (2026-10-10) a school day, weekends are not', () => {
    for (let d = 1; d <= 7; d++) expect(day(`2026-10-0${d}`), `10-0${d}`).to.deep.include({ schoolDay: false, kind: 'holiday', name: '国庆节' });
    expect(day('2026-10-10')).to.deep.include({ schoolDay: true, kind: 'make-up workday' });
    expect(day('2026-10-11')).to.deep.include({ schoolDay: false, kind: 'weekend' });
    expect(day('2026-10-12')).to.deep.include({ schoolDay: true, kind: 'workday', covered: true });
    expect(day('2026-09-25')).to.deep.include({ schoolDay: false, name: '中秋' });
  });

  it('term breaks are per province, the others use `default`, and a break wins over a make-up workday', () => {
    const c = cal({
      breaks: {
        default: [{ from: '2026-07-11', to: '2026-08-31', name: '暑假' }],
        '630000': [{ from: '2026-07-01', to: '2026-08-20', name: '暑假' }, { from: '2026-09-20', to: '2026-09-20', name: '校庆' }],
      },
    });
    expect(day('2026-07-06', '640000', c)).to.deep.include({ schoolDay: true });
    expect(day('2026-07-06', '630000', c)).to.deep.include({ schoolDay: false, kind: 'break', name: '暑假' });
    expect(day('2026-08-25', '630000', c).schoolDay).to.equal(true);
    expect(day('2026-08-25', '640000', c).schoolDay).to.equal(false);
    // 2026-09-20 (Sunday) is a make-up workday nationally; Qinghai's config gives it off.
    expect(day('2026-09-20', '640000', c)).to.deep.include({ schoolDay: true, kind: 'make-up workday' });
    expect(day('2026-09-20', '630000', c)).to.deep.include({ schoolDay: false, kind: 'break' });
  });

  it('a year the package does not cover is weekends only and says so; extraHolidays and extraWorkdays fill it in', () => {
    const y = cal().coveredThroughYear + 1;
    const first = `${y}-01-01`;
    expect(day(first).covered).to.equal(false);
    expect(day(first).kind).to.be.oneOf(['workday', 'weekend']);
    const c = cal({ extraHolidays: [first], extraWorkdays: [] });
    expect(day(first, '640000', c)).to.deep.include({ schoolDay: false, kind: 'holiday', covered: true });
  });

  it('school hours give the mask of the hours counted', () => {
    expect(cal().schoolDayMask).to.equal(0b11111111100000000); // 08:00-17:00: bits 8..16
    expect(cal({ schoolHours: { from: '07:00', to: '12:00' } }).hoursMask(dayOfIso('2026-10-12'), '640000')).to.equal(0b111110000000); // bits 7..11
    expect(cal().hoursMask(dayOfIso('2026-10-03'), '640000')).to.equal(0);
    expect(isoDateOf(dayOfIso('2026-02-28'))).to.equal('2026-02-28');
  });

  it('a malformed calendar section lists every problem: bad dates, to before from, overlaps, bad province keys, hours', () => {
    const r = collectorConfigSchema.safeParse({
      calendar: {
        schoolHours: { from: '17:00', to: '08:30' },
        breaks: {
          '630000': [{ from: '2026-07-01', to: '2026-08-20' }, { from: '2026-08-01', to: '2026-08-02' }, { from: '2026-02-30', to: '2026-03-01' }, { from: '2026-05-02', to: '2026-05-01' }],
          '630100': [],
        },
        extraHolidays: ['2027-01-01'],
        extraWorkdays: ['2027-01-01'],
      },
    });
    expect(r.success).to.equal(false);
    const paths = r.error!.issues.filter((i) => i.path[0] === 'calendar').map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(paths.join('\n')).to.include('calendar.schoolHours.to: must be a whole hour')
      .and.include('calendar.breaks.630000.2.from: must be a date')
      .and.include('calendar.breaks.630000.3.to: must not be before from')
      .and.include('calendar.breaks.630100: keys must be province codes');
    // The cross-field checks run once the fields themselves are valid.
    const r2 = calendarSectionSchema.safeParse({
      schoolHours: { from: '17:00', to: '08:00' },
      breaks: { '630000': [{ from: '2026-07-01', to: '2026-08-20' }, { from: '2026-08-01', to: '2026-08-02' }] },
      extraHolidays: ['2027-01-01'],
      extraWorkdays: ['2027-01-01'],
    });
    expect(r2.error!.issues.map((i) => i.path.join('.'))).to.have.members(['schoolHours.to', 'breaks.630000.1.from', 'extraWorkdays']);
  });
});
