/**
 * Honest gaps against a real collector and influxd: `once` runs, then a healthy 1-minute schedule, a
 * collector restart, a schedule change and one real outage, in compressed agent time. Only the outage
 * is a gap; no "agent stopped, 0 minutes" row appears.
 */
import { expect } from 'chai';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport } from '../helpers/reports.js';
import { CollectorChild, SCHOOLS, until } from './harness.js';

const MIN = 60_000;

describe('fault: honest gaps (the usual interval adapts both ways)', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  const school = SCHOOLS[1] as string;
  before(async () => {
    influx = await startTestInfluxd();
    // Agent time runs hours ahead of wall time here: reports are neither late nor shifted.
    collector = new CollectorChild(influx, { CAMPUSLINK_GAPS_LATE_AFTER_MS: '86400000', CAMPUSLINK_INGEST_MAX_CLOCK_SKEW_MS: String(7 * 86_400_000), CAMPUSLINK_INFLUX_FLUSH_INTERVAL_MS: '50' });
    await collector.start();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('once runs, a 1-minute schedule, a collector restart, a change to 5 minutes and one 30-minute outage: exactly one agent gap, for the outage', async () => {
    const token = collector.token(school);
    let t = Date.now() - 20 * 3_600_000;
    let seq = 0;
    // What an agent sends: one report per cycle, stamped by its clock (here hours in the past, in compressed time).
    const cycles = async (n: number, stepMs: number) => {
      for (let i = 0; i < n; i++) {
        t += stepMs;
        const res = await fetch(`${collector.url}/api/v1/reports`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ reports: [makeReport({ school, agent: 'gw-honest', seq: ++seq, collectedAt: t, sentAt: t + 300 })] }),
        });
        expect(res.status).to.equal(200);
      }
    };
    // Five manual `once` runs a few seconds apart, then the cron schedule.
    await cycles(5, 4_000);
    t += 10 * MIN;
    await cycles(40, MIN);
    await collector.stop();
    await collector.start();
    await cycles(20, MIN);
    await cycles(12, 5 * MIN);
    await cycles(10, MIN);
    const outageFrom = t + MIN;
    t += 30 * MIN;
    await cycles(10, MIN);
    const stored = async () => Number((await influx.query(`SELECT count("seq") FROM "report" WHERE "agent" = 'gw-honest'`))[0]?.count ?? 0);
    await until(async () => (await stored()) === 97, 10_000, `every report stored (have ${JSON.stringify((await influx.query(`SELECT "seq" FROM "report" WHERE "agent" = 'gw-honest'`)).map((r) => [r.seq, r.time]))})`);
    const gaps = await influx.query(`SELECT * FROM "gap" WHERE "school" = '${school}' AND "agent" = 'gw-honest'`).catch(() => []);
    expect(gaps.map((g) => [g.cause, g.time, g.missing_reports])).to.deep.equal([['agent', outageFrom, 30]]);
  });
});
