import { expect } from 'chai';
import { alertRecord } from '../../../collector/alerts/alert.js';
import type { SchoolTime } from '../../../collector/alerts/calendar.js';
import { agentM, engineFor, provinceRegistry, internet, MIN, modemM, report, rules, seededRegistry } from './fixtures.js';

const T = Date.parse('2026-11-23T09:00:00+08:00');

describe('alerts/engine', () => {
  const { registry, schools } = seededRegistry(36);
  const fiber = schools.find((s) => s.link === 'fiber')!;
  const geo = schools.find((s) => s.link === 'sat-geo')!;

  it('sweep() raises school_offline once a school has had no internet answer for forMin, with labels, summaries and a console link, and resolves it when the school answers again', async () => {
    const clock = { now: T };
    const e = engineFor(registry, rules('rules:\n  - { id: off, kind: school_offline, forMin: 30 }\n'), clock);
    e.onReport(fiber.id, report(fiber.id, T, [internet(0)]), T);
    e.onReport(fiber.id, report(fiber.id, T + MIN, [internet(100)]), T + MIN);
    clock.now = T + 29 * MIN;
    expect((await e.sweep()).fired).to.have.length(0);
    clock.now = T + 31 * MIN;
    const r = await e.sweep();
    expect(r.fired).to.have.length(1);
    const a = r.fired[0]!;
    expect(a.labels).to.include({ alertname: 'CampuslinkSchoolOffline', rule: 'off', severity: 'critical', school: fiber.id, county: fiber.county, city: `${fiber.county.slice(0, 4)}00`, province: '640000', link: 'fiber' });
    expect(a.summaryEn).to.include(fiber.id).and.include('offline').and.include('31 min');
    expect(a.summaryZh).to.include('离线');
    expect(a.consoleUrl).to.equal(`https://campuslink.example.cn/console/school.html?id=${fiber.id}`);
    expect(a.startsAtMs).to.equal(T + 31 * MIN);
    expect((await e.sweep()).fired, 'no second alert while it holds').to.have.length(0);
    e.onReport(fiber.id, report(fiber.id, T + 32 * MIN, [internet(0)]), T + 32 * MIN);
    clock.now = T + 33 * MIN;
    const back = await e.sweep();
    expect(back.resolved.map((x) => x.key)).to.deep.equal([a.key]);
    expect(back.resolved[0]!.endsAtMs).to.equal(T + 33 * MIN);
    expect(e.active.size).to.equal(0);
  });

  it('sweep() does not raise school_offline outside school hours (a holiday silences it), and never for a school that never reported unless includeNeverSeen', async () => {
    const clock = { now: T };
    const holiday: SchoolTime = { isSchoolTime: () => false };
    const e = engineFor(registry, rules('rules:\n  - { id: off, kind: school_offline, forMin: 30 }\n'), clock, { schoolTime: holiday });
    e.onReport(fiber.id, report(fiber.id, T, [internet(100)]), T);
    clock.now = T + 120 * MIN;
    expect((await e.sweep()).fired).to.have.length(0);
    const all = engineFor(registry, rules('rules:\n  - { id: off, kind: school_offline, includeNeverSeen: true, schoolHoursOnly: false }\n'), clock);
    expect((await all.sweep()).fired).to.have.length(36);
  });

  it('sweep() judges RTT with per-link-type defaults: 600 ms on a GEO satellite link is no alert, on fibre it is', async () => {
    const clock = { now: T };
    const e = engineFor(registry, rules('rules:\n  - { id: rtt, kind: link_rtt, aboveMs: 300, forMin: 10 }\n'), clock);
    for (let m = 0; m <= 12; m++) {
      for (const s of [fiber, geo]) e.onReport(s.id, report(s.id, T + m * MIN, [internet(0, 600, 10)]), T + m * MIN);
    }
    clock.now = T + 12 * MIN;
    const r = await e.sweep();
    expect(r.fired.map((a) => a.labels.school)).to.deep.equal([fiber.id]);
    expect(r.fired[0]!.summaryEn).to.include('600 ms').and.include('300 ms');
  });

  it('sweep() needs the condition for the whole window: one good sample restarts it, and a stale school resolves', async () => {
    const clock = { now: T };
    const e = engineFor(registry, rules('rules:\n  - { id: loss, kind: link_loss, abovePct: 5, forMin: 10 }\n'), clock);
    for (let m = 0; m <= 12; m++) e.onReport(fiber.id, report(fiber.id, T + m * MIN, [internet(m === 6 ? 0 : 40)]), T + m * MIN);
    clock.now = T + 12 * MIN;
    expect((await e.sweep()).fired).to.have.length(0);
    for (let m = 13; m <= 17; m++) e.onReport(fiber.id, report(fiber.id, T + m * MIN, [internet(40)]), T + m * MIN);
    clock.now = T + 17 * MIN;
    expect((await e.sweep()).fired).to.have.length(1);
    clock.now = T + 40 * MIN;
    expect((await e.sweep()).resolved).to.have.length(1);
  });

  it('sweep() raises spool_backlog when the backlog stays above minReports without shrinking, agent_version for an old agent, modem_snr and modem_lock', async () => {
    const clock = { now: T };
    const e = engineFor(
      registry,
      rules(`rules:
  - { id: spool, kind: spool_backlog, minReports: 30, forMin: 20 }
  - { id: ver, kind: agent_version, minVersion: 0.2.0 }
  - { id: snr, kind: modem_snr, belowDb: 6, forMin: 5 }
  - { id: lock, kind: modem_lock, forMin: 2 }
`),
      clock,
    );
    for (let m = 0; m <= 25; m++) {
      e.onReport(fiber.id, report(fiber.id, T + m * MIN, [internet(0), agentM(30 + m, '0.1.9')]), T + m * MIN);
      e.onReport(geo.id, report(geo.id, T + m * MIN, [internet(0), agentM(50 - m, '0.2.0'), modemM({ snr_db: 3.5, locked: m > 20 ? 0 : 1 })]), T + m * MIN);
    }
    clock.now = T + 25 * MIN;
    const r = await e.sweep();
    const got = r.fired.map((a) => `${a.rule} ${a.labels.school}`).sort();
    expect(got).to.deep.equal([`lock ${geo.id}`, `snr ${geo.id}`, `spool ${fiber.id}`, `ver ${fiber.id}`].sort());
    expect(r.fired.find((a) => a.rule === 'ver')!.summaryEn).to.include('0.1.9').and.include('0.2.0');
  });

  it('sweep() raises region_online for a county whose online share is below target, once, with region labels', async () => {
    const clock = { now: T };
    const e = engineFor(registry, rules('rules:\n  - { id: county, kind: region_online, level: county, belowPct: 90, minSchools: 3, forMin: 10 }\n'), clock);
    const county = schools[0]!.county;
    const inCounty = schools.filter((s) => s.county === county);
    for (const s of schools) e.onReport(s.id, report(s.id, T, [internet(0)]), T);
    // Half of one county goes dark; the rest keep answering.
    for (let m = 1; m <= 30; m++) {
      for (const s of schools) if (!(s.county === county && inCounty.indexOf(s) % 2 === 0)) e.onReport(s.id, report(s.id, T + m * MIN, [internet(0)]), T + m * MIN);
    }
    clock.now = T + 20 * MIN;
    expect((await e.sweep()).fired, 'below target, but not yet for forMin').to.have.length(0);
    clock.now = T + 31 * MIN;
    const r = await e.sweep();
    expect(r.fired).to.have.length(1);
    expect(r.fired[0]!.labels).to.include({ region: county, level: 'county', county, kind: 'region_online' });
    expect(r.fired[0]!.summaryEn).to.match(/50\.0 %|% \(/);
  });

  it('sweep() raises compliance_failing only for a rule newly failing (pass → fail), not for one failing since it was first seen', async () => {
    const clock = { now: T };
    const status = new Map<string, 'pass' | 'fail'>([[fiber.id, 'pass'], [geo.id, 'fail']]);
    const table = { ruleIds: ['CN-BB-02'], statusOf: (s: string) => status.get(s) ?? 'unknown' };
    const e = engineFor(registry, rules('rules:\n  - { id: comp, kind: compliance_failing, profile: cn-moe }\n'), clock, { compliance: () => table as never });
    expect((await e.sweep()).fired).to.have.length(0);
    status.set(fiber.id, 'fail');
    const r = await e.sweep();
    expect(r.fired.map((a) => a.key)).to.deep.equal([`comp|${fiber.id}|CN-BB-02`]);
    expect(r.fired[0]!.labels.compliance_rule).to.equal('CN-BB-02');
    status.set(fiber.id, 'pass');
    expect((await e.sweep()).resolved).to.have.length(1);
  });

  it('regions: and links: overrides win over the base, the most specific region last, and enabled: false turns a rule off there', async () => {
    const clock = { now: T };
    const other = schools.find((s) => s.link === 'fiber' && s.county !== fiber.county)!;
    const e = engineFor(registry, rules(`rules:
  - id: off
    kind: school_offline
    forMin: 30
    regions:
      "640000": { forMin: 60 }
      "${fiber.county}": { forMin: 10 }
      "${other.county}": { enabled: false }
`), clock);
    for (const s of [fiber, other]) e.onReport(s.id, report(s.id, T, [internet(100)]), T);
    clock.now = T + 11 * MIN;
    const r = await e.sweep();
    expect(r.fired.map((a) => a.labels.school)).to.deep.equal([fiber.id]);
  });

  it('restore() keeps a saved alert and its start time until the sweep judges it false', async () => {
    const clock = { now: T };
    const rs = rules('rules:\n  - { id: off, kind: school_offline, forMin: 30 }\n');
    const first = engineFor(registry, rs, clock);
    first.onReport(fiber.id, report(fiber.id, T, [internet(100)]), T);
    clock.now = T + 40 * MIN;
    const [a] = (await first.sweep()).fired;
    const second = engineFor(registry, rs, clock);
    second.restore([{ ...alertRecord(a!), sweep: 0 }]);
    second.seed(fiber.id, null, T);
    clock.now = T + 45 * MIN;
    const r = await second.sweep();
    expect(r.fired).to.have.length(0);
    expect(second.active.get(a!.key)?.startsAtMs).to.equal(T + 40 * MIN);
  });

  it('sweep() yields to the event loop: a 1 ms timer ticks during a sweep over 60,000 schools', async function () {
    this.timeout(60_000);
    const big = provinceRegistry(60_000);
    expect(big.schools.size, 'every generated school registered (no abolished county code)').to.equal(60_000);
    const clock = { now: T };
    const e = engineFor(big, rules('rules:\n  - { id: off, kind: school_offline }\n  - { id: rtt, kind: link_rtt }\n  - { id: county, kind: region_online }\n'), clock, { sliceMs: 5 });
    for (const s of big.schools.values()) e.onReport(s.id, report(s.id, T, [internet(0)]), T);
    clock.now = T + 60 * MIN;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const r = await e.sweep();
    clearInterval(timer);
    expect(r.fired.length, "every school offline; counties not yet for forMin").to.equal(60_000);
    expect(ticks, 'timer ticks during the sweep').to.be.greaterThan(0);
  });
});
