import { expect } from 'chai';
import { SchoolCalendar, calendarSectionSchema, dayOfIso } from '../../../collector/calendar/index.js';
import { parseRegistry } from '../../../collector/registry/index.js';
import type { School } from '../../../collector/registry/schema.js';
import { judgeSchool, RulePlans, type Judgement } from '../../../collector/views/compliance/engine.js';
import { Evidence, evidenceLayout } from '../../../collector/views/compliance/evidence.js';
import { resolveProfiles, type Profile } from '../../../collector/views/compliance/profile.js';
import { SchoolWindows } from '../../../collector/views/compliance/windows.js';
import { PROTOCOL_VERSION, type Report } from '../../../protocol/index.js';
import { ping, registryCsv, seedSchools, startHarness, type Harness } from './harness.js';

const at = (iso: string): number => Date.parse(`${iso}+08:00`);

/** Two rules on internet reachability: the last school day, and all of the last 7 school days. */
const PROFILE: Profile = resolveProfiles([
  {
    file: 'cal.yaml',
    data: {
      id: 'cal',
      name: 'calendar windows',
      rules: [
        { id: 'T-01', description: 'online on the last school day', metric: 'internet_reachable_pct', comparison: '>', window: { schoolDays: 1, from: '08:00', to: '17:00' }, source: 'test', versions: [{ validFrom: '2020-01-01', threshold: 0 }] },
        { id: 'T-07', description: 'every probe answered on the last 7 school days', metric: 'internet_reachable_pct', comparison: '>=', window: { schoolDays: 7, from: '08:00', to: '17:00' }, source: 'test', versions: [{ validFrom: '2020-01-01', threshold: 100 }] },
      ],
    },
  },
]).get('cal') as Profile;

const REG = parseRegistry(registryCsv(seedSchools(9)), { source: 'test.csv' });
const NINGXIA = REG.schools.values().next().value as School;
/** The same school as if it were in 青海 (a province without its own term breaks in these tests). */
const QINGHAI: School = { ...NINGXIA, id: '1630102001', provinceCode: '630000' };

function report(school: string, atMs: number, loss: number): Report {
  return { v: PROTOCOL_VERSION, school, agent: 'gw', seq: 1, collectedAt: atMs, sentAt: atMs, measurements: [ping('internet', loss)] };
}

function windowsWith(breaks: Record<string, { from: string; to: string; name: string }[]>, lookbackDays?: number): SchoolWindows {
  return new SchoolWindows(new SchoolCalendar(calendarSectionSchema.parse({ breaks })), lookbackDays);
}

function judged(ev: Evidence, school: School, nowMs: number): Record<string, Judgement> {
  const js = judgeSchool(new RulePlans(PROFILE, nowMs, ev.windows), school, ev.source(nowMs));
  return Object.fromEntries(js.map((j) => [j.rule, j]));
}

describe('collector/views compliance windows on the school calendar (injected clock)', () => {
  it('the last 7 school days on 2026-10-13 skip National Day (Oct 1-7) and count the make-up Saturday Oct 10', () => {
    const windows = new SchoolWindows();
    const ev = new Evidence(evidenceLayout([PROFILE], windows), windows);
    const now = at('2026-10-13T16:00:00');
    const schoolDays = ['2026-09-29', '2026-09-30', '2026-10-08', '2026-10-09', '2026-10-10', '2026-10-12', '2026-10-13'];
    // Answered on every school day; unanswered on the holidays and the Sunday (the uplink is off then).
    for (const d of schoolDays) ev.apply(NINGXIA.id, report(NINGXIA.id, at(`${d}T10:00:00`), 0), at(`${d}T10:00:00`), now, NINGXIA.provinceCode);
    for (const d of ['2026-10-01', '2026-10-02', '2026-10-05', '2026-10-06', '2026-10-07', '2026-10-11']) ev.apply(NINGXIA.id, report(NINGXIA.id, at(`${d}T10:00:00`), 100), at(`${d}T10:00:00`), now, NINGXIA.provinceCode);
    const j = judged(ev, NINGXIA, now)['T-07']!;
    expect(j.window.days).to.deep.equal(schoolDays);
    expect(j.window.description).to.include('2026-10-10 (make-up workday').and.include('2026-09-29');
    expect(j.window.fromMs).to.equal(at('2026-09-29T08:00:00'));
    expect(j.window.toMs).to.equal(now);
    for (const d of j.window.days!) expect(windows.calendar.isSchoolDay(dayOfIso(d), NINGXIA.provinceCode), d).to.equal(true);
    // Monday-Friday would have counted Oct 5-7 (no answer) and left out Oct 10: 4 of 7.
    expect(j).to.include({ status: 'pass', value: 100 });
  });

  it('inside 寒假 a province with its breaks configured is judged on its last school days before the break, another province on today', () => {
    const windows = windowsWith({ '640000': [{ from: '2026-01-24', to: '2026-03-01', name: '寒假' }] });
    const ev = new Evidence(evidenceLayout([PROFILE], windows), windows);
    const now = at('2026-02-10T10:00:00');
    const before = ['2026-01-15', '2026-01-16', '2026-01-19', '2026-01-20', '2026-01-21', '2026-01-22', '2026-01-23'];
    for (const d of before) ev.apply(NINGXIA.id, report(NINGXIA.id, at(`${d}T09:00:00`), 0), at(`${d}T09:00:00`), now, NINGXIA.provinceCode);
    // A probe during the break (the caretaker's office) is no school day's evidence.
    ev.apply(NINGXIA.id, report(NINGXIA.id, at('2026-02-09T09:00:00'), 100), at('2026-02-09T09:00:00'), now, NINGXIA.provinceCode);
    ev.apply(QINGHAI.id, report(QINGHAI.id, at('2026-02-10T09:00:00'), 0), at('2026-02-10T09:00:00'), now, QINGHAI.provinceCode);
    const nx = judged(ev, NINGXIA, now);
    expect(nx['T-01']!.window.days).to.deep.equal(['2026-01-23']);
    expect(nx['T-01']).to.include({ status: 'pass', value: 100 });
    expect(nx['T-07']!.window.days).to.deep.equal(before);
    expect(nx['T-07']).to.include({ status: 'pass', value: 100 });
    expect(nx['T-07']!.window.description).to.include('province 640000');
    const qh = judged(ev, QINGHAI, now);
    expect(qh['T-01']!.window.days).to.deep.equal(['2026-02-10']);
    expect(qh['T-01']).to.include({ status: 'pass', value: 100 });
    // Bounded: 26 days back, in the school-day ring of 9 buckets (7 + today + a spare), not a ring of China days.
    expect(ev.layout.schoolDays).to.equal(9);
    expect(ev.serialize(NINGXIA.id)!.byteLength).to.equal(ev.layout.days * (4 + 8 * ev.layout.slots) + ev.layout.schoolDays * (4 + 8 * ev.layout.schoolSlots));
  });

  it('a window reaching beyond the lookback is unknown, naming the school days it found; a shorter window on the same evidence is judged', () => {
    const windows = windowsWith({ '640000': [{ from: '2026-01-17', to: '2026-03-01', name: '寒假' }] }, 30);
    const ev = new Evidence(evidenceLayout([PROFILE], windows), windows);
    const now = at('2026-02-10T10:00:00');
    for (const d of ['2026-01-12', '2026-01-13', '2026-01-14', '2026-01-15', '2026-01-16']) ev.apply(NINGXIA.id, report(NINGXIA.id, at(`${d}T09:00:00`), 0), at(`${d}T09:00:00`), now, NINGXIA.provinceCode);
    // Older than the lookback: not kept at all.
    expect(ev.apply(NINGXIA.id, report(NINGXIA.id, at('2026-01-09T09:00:00'), 0), at('2026-01-09T09:00:00'), now, NINGXIA.provinceCode)).to.equal(false);
    const j = judged(ev, NINGXIA, now);
    expect(j['T-01']).to.include({ status: 'pass', value: 100 });
    expect(j['T-01']!.window.days).to.deep.equal(['2026-01-16']);
    expect(j['T-07']).to.include({ status: 'unknown', value: null });
    expect(j['T-07']!.reason).to.equal('window incomplete: only 5 of 7 school days (2026-01-12 to 2026-01-16) in the last 30 days the evidence reaches back (views.complianceLookbackDays)');
    expect(j['T-07']!.window.days).to.deep.equal(['2026-01-12', '2026-01-13', '2026-01-14', '2026-01-15', '2026-01-16']);
  });

  it('every 3 h 17 min over 2026, a school-day window holds exactly N school days, newest first back from now, and never a holiday, weekend or break day', () => {
    const windows = windowsWith({ '640000': [{ from: '2026-01-24', to: '2026-03-01', name: '寒假' }, { from: '2026-07-11', to: '2026-08-31', name: '暑假' }] });
    const cal = windows.calendar;
    for (let t = at('2026-01-01T00:30:00'); t < at('2027-01-01T00:00:00'); t += 3 * 3_600_000 + 17 * 60_000) {
      for (const province of ['640000', '630000']) {
        for (const w of [{ schoolDays: 1, from: '08:00', to: '17:00' }, { schoolDays: 7, from: '08:00', to: '17:00' }]) {
          const span = windows.span(w, t, province);
          const today = Math.floor((t + 8 * 3_600_000) / 86_400_000);
          expect(span.days, `${new Date(t).toISOString()} ${province}`).to.have.length(w.schoolDays);
          expect(span.short).to.equal(undefined);
          for (const d of span.days) expect(cal.isSchoolDay(d, province), `${new Date(t).toISOString()} ${province} day ${d}`).to.equal(true);
          // No school day is skipped between the oldest day and now.
          const first = span.days[0] as number;
          const inToday = t > at(`${new Date(today * 86_400_000).toISOString().slice(0, 10)}T08:00:00`);
          let between = 0;
          for (let d = first; d <= today; d++) if (cal.isSchoolDay(d, province) && (d < today || inToday)) between++;
          expect(between, `${new Date(t).toISOString()} ${province} ${JSON.stringify(span.days)}`).to.equal(w.schoolDays);
        }
      }
    }
  });

  it('the evidence layout changes with the calendar, so evidence kept on other school days is rebuilt, not reused', () => {
    const a = evidenceLayout([PROFILE], new SchoolWindows());
    const b = evidenceLayout([PROFILE], windowsWith({ '640000': [{ from: '2026-07-11', to: '2026-08-31', name: '暑假' }] }));
    expect(a.fingerprint).to.not.equal(b.fingerprint);
    expect(evidenceLayout([PROFILE], new SchoolWindows()).fingerprint).to.equal(a.fingerprint);
  });
});

describe('collector/views compliance windows on the school calendar: evidence and InfluxQL agree (real influxd)', function () {
  this.timeout(120_000);
  const schools = seedSchools(27);
  let h: Harness;
  const BREAK = { '640000': [{ from: '2026-01-24', to: '2026-03-01', name: '寒假' }] };

  before(async () => {
    h = await startHarness({ schools, config: { calendar: { breaks: BREAK } } });
  });
  after(async () => h?.close());

  /** Posts reports of every school at 10:00 and 20:00 of each day from `from` to `to` (the clock at each day's end). */
  const postDays = async (from: string, to: string): Promise<void> => {
    for (let d = dayOfIso(from); d <= dayOfIso(to); d++) {
      const day = new Date(d * 86_400_000).toISOString().slice(0, 10);
      h.clock.now = at(`${day}T21:00:00`);
      for (const [i, s] of schools.entries()) {
        const loss = (i + d) % 4 === 0 ? 100 : 0;
        await h.post(s.id, [
          { atMs: at(`${day}T10:00:00`), measurements: [ping('internet', loss), ping('peer', loss, { rtt: 100 + i, jitter: i % 40 })] },
          { atMs: at(`${day}T20:00:00`), measurements: [ping('internet', 100 - loss)] },
        ]);
      }
    }
  };

  const compare = async (views: typeof h.views, nowMs: number): Promise<Judgement[]> => {
    const p = views.compliance.profile('cn-moe')!;
    const out: Judgement[] = [];
    for (const s of schools) {
      const live = await views.compliance.school(p, s.id, nowMs, 'live');
      const raw = await views.compliance.school(p, s.id, nowMs, 'raw');
      expect(live, s.id).to.deep.equal(raw);
      out.push(...(live?.judgements ?? []));
    }
    return out;
  };

  it('inside 寒假, after a restart that rebuilds the evidence from InfluxDB, live and raw judge the same school days', async () => {
    await postDays('2026-01-19', '2026-01-28');
    const now = at('2026-02-10T10:00:00');
    h.clock.now = now;
    h.state.db.prepare("DELETE FROM views_meta WHERE key = 'evidence.complete'").run();
    const views = await h.restartViews();
    const js = await compare(views, now);
    const bb01 = js.filter((j) => j.rule === 'CN-BB-01');
    expect(bb01.every((j) => JSON.stringify(j.window.days) === '["2026-01-23"]')).to.equal(true);
    expect(new Set(bb01.map((j) => j.status))).to.include('pass').and.include('fail');
    const c2c = js.find((j) => j.rule === 'C2C-01' && j.status !== 'not_applicable')!;
    // The 7 school days before the break, 2 of them before the first report.
    expect(c2c.window.days).to.deep.equal(['2026-01-15', '2026-01-16', '2026-01-19', '2026-01-20', '2026-01-21', '2026-01-22', '2026-01-23']);
    expect(['pass', 'fail']).to.include(c2c.status);
  });

  it('across National Day and the make-up Saturday, the evidence fed by ingest judges as InfluxQL over raw data does', async () => {
    await postDays('2026-09-28', '2026-10-13');
    const now = at('2026-10-13T16:00:00');
    h.clock.now = now;
    await h.views.live()!.refreshAll();
    const js = await compare(h.views, now);
    const c2c = js.find((j) => j.rule === 'C2C-01' && j.status !== 'not_applicable')!;
    expect(c2c.window.days).to.deep.equal(['2026-09-29', '2026-09-30', '2026-10-08', '2026-10-09', '2026-10-10', '2026-10-12', '2026-10-13']);
    expect(js.filter((j) => j.rule === 'CN-BB-01').every((j) => JSON.stringify(j.window.days) === '["2026-10-13"]')).to.equal(true);
  });
});
