/** Fault: InfluxDB stopped for 30 s under three agents, then started again. */
import { expect } from 'chai';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, startAgent, until } from './harness.js';

describe('fault: influxd stopped for 30 s', function () {
  this.timeout(120_000);
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

  it('the collector acknowledges nothing while InfluxDB is down, and afterwards every report is in InfluxDB exactly once', async () => {
    const schools = SCHOOLS.slice(0, 3);
    const agents = schools.map((school) => startAgent({ school, url: collector.url, token: collector.token(school), cycleEveryMs: 250 }));
    const runs = agents.map((a) => a.run());
    await until(() => agents.every((a) => a.spool.lastSeq() >= 4), 20_000, 'a few cycles');
    await influx.influxd.stop();
    const downAt = agents.map((a) => a.spool.lastSeq());
    await new Promise((r) => setTimeout(r, 30_000));
    agents.forEach((a, i) => expect(a.spool.waiting().length, 'reports kept while InfluxDB is down').to.be.at.least(a.spool.lastSeq() - (downAt[i] as number) - 2));
    await influx.influxd.restart();
    await until(() => agents.every((a, i) => !a.spool.waiting().some((q) => q <= (downAt[i] as number) + 100)), 40_000, 'the backlog delivered');
    await Promise.all(runs.map((r) => r.stop()));
    for (const a of agents) expect((await a.flush()).stoppedBy).to.equal(undefined);
    for (const [i, a] of agents.entries()) {
      await expectExactlyOnce(influx, { school: schools[i] as string, agent: 'gw-01', collected: a.spool.lastSeq() });
      a.close();
    }
  });
});
