import { expect } from 'chai';
import { SchoolCalendar, calendarSectionSchema, dayOfIso } from '../../../collector/calendar/index.js';
import { parseRegistry } from '../../../collector/registry/index.js';
import { Availability, availabilitySnapshot } from '../../../collector/views/coverage/availability.js';
import { MIN, NOW, ping, seedSchools, startHarness, type Harness } from './harness.js';

const at = (iso: string) => Date.parse(`${iso}+08:00`);
const HOUR = 60 * MIN;
const calendar = new SchoolCalendar(calendarSectionSchema.parse({}));
const SINCE = dayOfIso('2026-09-28'); // a Monday
/** Monday 2026-10-12 10:30 China time, after the National Day week (10-01..07 off, Saturday 10-10 a make-up workday). */
const T = at('2026-10-12T10:30:00');

/** Calls `fn` every `stepMs` from `from` to `to`. */
function every(from: number, to: number, stepMs: number, fn: (t: number) => void): void {
  for (let t = from; t < to; t += stepMs) fn(t);
}

describe('collector/views school-hours online rate (school calendar, injected clock)', () => {
  it('a school online around the clock is 100 % online in school hours over a holiday week, weekends and a make-up Saturday', () => {
    const a = new Availability(calendar, SINCE);
    every(at('2026-09-28T00:00:00'), T, 10 * MIN, (t) => a.markOnline('A', t, T));
    const [d7, d30] = a.rates('A', '640000', T);
    // 7 days (10-06..10-12): Thu 10-08, Fri 10-09, Sat 10-10 (make-up) × 9 h, and Monday 08-10 h so far.
    expect(d7).to.deep.equal({ days: 7, onlinePct: 100, onlineHours: 30, schoolHours: 30 });
    // 30 days, counted since 09-28: Mon-Wed 09-28..30 (27 h) + 27 h + 3 h.
    expect(d30).to.deep.equal({ days: 30, onlinePct: 100, onlineHours: 57, schoolHours: 57 });
  });

  it('hours online only outside school hours, at weekends or on holidays count for nothing; school hours missed count against', () => {
    const a = new Availability(calendar, SINCE);
    // B is online on school days' mornings 08-12 only, and all through the holiday week and the Sunday.
    every(at('2026-09-28T00:00:00'), T, 10 * MIN, (t) => {
      const d = calendar.day(Math.floor((t + 8 * HOUR) / (24 * HOUR)), '640000');
      const h = new Date(t + 8 * HOUR).getUTCHours();
      if (!d.schoolDay || (h >= 8 && h < 12) || h < 6) a.markOnline('B', t, T);
    });
    const [d7, d30] = a.rates('B', '640000', T);
    // School days in the 7-day window: 3 × (4 of 9 h) + Monday's 3 h of 3.
    expect(d7).to.include({ onlineHours: 15, schoolHours: 30 });
    expect(d7?.onlinePct).to.equal(50);
    expect(d30).to.include({ onlineHours: 6 * 4 + 3, schoolHours: 57 });
    // Never reported: all school hours missed, not "no data".
    expect(a.rates('never', '640000', T)[0]).to.include({ onlinePct: 0, onlineHours: 0, schoolHours: 30 });
  });

  it('in a week with no school hours (the National Day holidays) the rate is null with a reason, not 0 %', () => {
    const a = new Availability(calendar, SINCE);
    const t = at('2026-10-07T20:00:00');
    a.markOnline('A', t - HOUR, t);
    const [d7] = a.rates('A', '640000', at('2026-10-04T12:00:00'));
    expect(d7).to.include({ onlinePct: 0 }); // 09-28..30 in the window
    const [noSchool] = new Availability(calendar, dayOfIso('2026-10-01')).rates('A', '640000', t);
    expect(noSchool).to.include({ onlinePct: null, schoolHours: 0 });
    expect(noSchool?.reason).to.include('no school hours');
  });

  it('a province term break is no school hours for its schools only', () => {
    const withBreak = new SchoolCalendar(calendarSectionSchema.parse({ breaks: { '630000': [{ from: '2026-10-08', to: '2026-10-10', name: '秋假' }] } }));
    const a = new Availability(withBreak, SINCE);
    expect(a.rates('X', '630000', T)[0]).to.include({ schoolHours: 3 });
    expect(a.rates('X', '640000', T)[0]).to.include({ schoolHours: 30 });
  });

  it('the ring keeps 30 days: older reports are refused, a saved ring restores the same rates, a blob of another size is refused', () => {
    const a = new Availability(calendar, SINCE);
    every(at('2026-09-28T00:00:00'), T, HOUR, (t) => a.markOnline('A', t, T));
    expect(a.markOnline('A', at('2026-09-01T09:00:00'), T)).to.equal(false);
    expect(a.markOnline('A', T + 2 * HOUR, T), 'a report from the future').to.equal(false);
    const b = new Availability(calendar, SINCE);
    expect(b.restore('A', a.serialize('A')!)).to.equal(true);
    expect(b.rates('A', '640000', T)).to.deep.equal(a.rates('A', '640000', T));
    expect(b.restore('A', new Uint8Array(10))).to.equal(false);
    // 40 days later nothing of it is in the 30-day window any more.
    const later = T + 40 * 24 * HOUR;
    expect(a.rates('A', '640000', later)[1]?.onlineHours).to.equal(0);
    expect(a.markOnline('A', later - HOUR, later)).to.equal(true);
  });

  it('availabilitySnapshot() sums schools into county, city, province and nation, never-reporting schools included', async () => {
    const csv = `school_id,school_name,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon
1640104001,A,640000,宁夏,640100,银川,640104,兴庆区,fiber,100,10,2,38,106
1640104002,B,640000,宁夏,640100,银川,640104,兴庆区,fiber,100,10,2,38,106
1640105001,C,640000,宁夏,640100,银川,640105,西夏区,fiber,100,10,2,38,106
`;
    const reg = parseRegistry(csv);
    const a = new Availability(calendar, SINCE);
    every(at('2026-09-28T00:00:00'), T, 10 * MIN, (t) => a.markOnline('1640104001', t, T));
    const snap = await availabilitySnapshot(reg, a, T);
    expect(snap.byCode.get('640104')?.[0]).to.deep.equal({ online: 30, school: 60 });
    expect(snap.byCode.get('640105')?.[0]).to.deep.equal({ online: 0, school: 30 });
    expect(snap.byCode.get('640000')?.[1]).to.deep.equal({ online: 57, school: 3 * 57 });
    expect(snap.byCode.get('000000')?.[1]).to.deep.equal({ online: 57, school: 3 * 57 });
  });
});

describe('collector/views school-hours online rate in GET /api/v1/coverage (real influxd)', function () {
  this.timeout(60_000);
  let h: Harness;
  const schools = seedSchools(18);
  before(async () => {
    h = await startHarness({ schools });
  });
  after(async () => h?.close());

  it('rows carry schoolHoursOnline for 7 and 30 days beside "online now"; the county sums its schools; CSV has the columns; it survives a restart', async () => {
    const id = schools[0]!.id;
    // Monday 2026-11-23, counted from today (a first start): school hours 08..16 so far = 9; online 08, 09, 10 and at 20:00 yesterday.
    const reports = ['08:30', '09:05', '09:45', '10:10'].map((hm) => ({ atMs: at(`2026-11-23T${hm}:00`), measurements: [ping('internet', 0)] }));
    await h.post(id, reports);
    await h.views.refreshSchoolHours();
    const county = schools[0]!.county;
    const body = await (await h.get(`/api/v1/coverage?level=county&code=${county}`)).json();
    const row = body.children.find((c: { code: string }) => c.code === id);
    expect(row.schoolHoursOnline[0]).to.deep.equal({ days: 7, onlinePct: (100 * 3) / 9, onlineHours: 3, schoolHours: 9 });
    expect(row.status).to.equal('offline'); // last answer 10:10, now 16:00
    const n = body.children.length;
    expect(body.schoolHoursOnline[0]).to.include({ onlineHours: 3, schoolHours: 9 * n });
    expect(body.schoolHours.since).to.equal(new Date(at('2026-11-23T00:00:00')).toISOString());
    const csv = await (await h.get(`/api/v1/coverage?level=county&code=${county}&format=csv`)).text();
    const [head, , first] = csv.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(head).to.include('school_hours_online_7d_pct,school_hours_online_30d_pct');
    expect(first).to.match(/,33\.33,33\.33$/);
    await h.views.saveState();
    expect((h.state.db.prepare('SELECT count(*) AS n FROM views_availability').get() as { n: number }).n).to.equal(1);
    const restarted = await h.restartViews();
    expect(NOW).to.equal(at('2026-11-23T16:00:00'));
    expect(restarted.schoolHours()?.availability.rates(id, '640000', NOW)[0]).to.include({ onlineHours: 3, schoolHours: 9 });
    expect(restarted.schoolHours()?.availability.sinceDay).to.equal(dayOfIso('2026-11-23'));
  });
});
