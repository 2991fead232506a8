/** Fault: the school link down for 60 cycles (through the link emulator), then back. */
import { expect } from 'chai';
import { LinkEmulator } from '../../sim/link/emulator.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, startAgent, until } from './harness.js';

describe('fault: a 60-cycle link outage through the emulator', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx, { CAMPUSLINK_GAPS_LATE_AFTER_MS: '2000' });
    await collector.start();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('every report collected during the outage arrives afterwards exactly once, and the hole is written as a link gap', async () => {
    const school = SCHOOLS[0] as string;
    const link = new LinkEmulator({ target: { host: '127.0.0.1', port: collector.port }, latencyMs: 20 });
    const { url } = await link.start();
    const agent = startAgent({ school, url, token: collector.token(school), cycleEveryMs: 100 });
    const run = agent.run();
    await until(() => agent.spool.lastSeq() >= 10 && !agent.spool.waiting().some((q) => q <= 10), 20_000, 'the first 10 reports delivered');
    link.setDown(true);
    const downAt = agent.spool.lastSeq();
    await until(() => agent.spool.lastSeq() >= downAt + 60, 30_000, '60 cycles during the outage');
    expect(agent.spool.waiting().length).to.be.at.least(55);
    link.setDown(false);
    await until(() => agent.spool.lastSeq() >= downAt + 70 && !agent.spool.waiting().some((q) => q <= downAt + 60), 30_000, 'the backlog delivered while cycles go on');
    await run.stop();
    const final = await agent.flush();
    expect(final.stoppedBy).to.equal(undefined);
    expect(agent.spool.waiting()).to.deep.equal([]);
    await expectExactlyOnce(influx, { school, agent: 'gw-01', collected: agent.spool.lastSeq() });
    const gaps = await influx.query(`SELECT * FROM "gap" WHERE "school" = '${school}'`);
    expect(gaps.map((g) => g.cause)).to.include('link');
    agent.close();
    await link.stop();
  });
});
