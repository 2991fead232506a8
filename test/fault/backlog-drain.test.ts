/** Fault: a GEO school (600 ms RTT, 2 Mbps) back after a day offline drains its backlog without starving live reports. */
import { join } from 'node:path';
import { expect } from 'chai';
import { SegmentSpool } from '../../agent/spool/segment-spool.js';
import { SequenceStore } from '../../agent/state/sequence.js';
import { LINK_PROFILES, LinkEmulator } from '../../sim/link/emulator.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport, typicalMeasurements } from '../helpers/reports.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, startAgent, tempDir, until } from './harness.js';

const DAY = 1440;

describe('fault: a 1-day backlog over a 600 ms RTT, 2 Mbps link', function () {
  this.timeout(180_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    await collector.start();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('the day arrives exactly once, oldest first, while every live report arrives within 5 s (the compressed 5 minutes), and the hole is a link gap', async () => {
    const school = SCHOOLS[6] as string;
    const dir = tempDir('agent');
    // A day of 1-minute reports that could not be sent, as the agent would have spooled them.
    const start = Date.now() - DAY * 60_000;
    const spool = new SegmentSpool({ dir: join(dir, 'spool'), maxSpoolBytes: 64 << 20, segmentBytes: 1 << 20 });
    for (let seq = 1; seq <= DAY; seq++) {
      const measurements = typicalMeasurements(seq).map((m) => (m.name === 'agent' ? { ...m, fields: { ...m.fields, spool_reports: seq - 1, spool_bytes: (seq - 1) * 3300 } } : m));
      await spool.append(makeReport({ school, seq, collectedAt: start + (seq - 1) * 60_000, sentAt: start + (seq - 1) * 60_000 + 900, measurements }));
    }
    spool.close();
    new SequenceStore(dir).commit(DAY);

    const link = new LinkEmulator({ ...LINK_PROFILES.geo, target: { host: '127.0.0.1', port: collector.port } });
    const { url } = await link.start();
    const agent = startAgent({ school, url, token: collector.token(school), dir, linkType: 'sat-geo', cycleEveryMs: 1000, collector: { uploadIntervalMs: 1000, backlogShare: 0.5, maxBatchReports: 200 } });
    const t0 = Date.now();
    const run = agent.run();
    await until(() => !agent.spool.waiting().some((q) => q <= DAY), 90_000, 'the day drained');
    const drainS = (Date.now() - t0) / 1000;
    await run.stop();
    expect((await agent.flush()).stoppedBy?.message).to.equal(undefined);
    const collected = agent.spool.lastSeq();
    expect(collected).to.be.greaterThan(DAY + 3);
    await expectExactlyOnce(influx, { school, agent: 'gw-01', collected });

    const live = (await influx.query(`SELECT "seq", "lag_s" FROM "report" WHERE "school" = '${school}' AND "seq" > ${DAY}`)).map((r) => Number(r.lag_s));
    expect(live.length).to.equal(collected - DAY);
    expect(Math.max(...live), `live lags ${live.join(', ')}`).to.be.at.most(5);
    const gaps = await influx.query(`SELECT * FROM "gap" WHERE "school" = '${school}'`);
    expect(gaps.map((g) => g.cause)).to.include('link');
    process.stdout.write(`      drained ${DAY} reports in ${drainS.toFixed(1)} s; link bytes up ${link.counters.upBytes}, down ${link.counters.downBytes}; live lag max ${Math.max(...live)} s\n`);
    agent.close();
    await link.stop();
  });
});
