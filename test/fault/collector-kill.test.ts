/** Fault: the collector SIGKILLed under load from 50 agents, then restarted at the same address. */
import { expect } from 'chai';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, startAgent, until } from './harness.js';

describe('fault: collector SIGKILL under load from 50 agents', function () {
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

  it('every report of every agent is in InfluxDB exactly once, and the downtime is in the collector start/stop log', async () => {
    const schools = SCHOOLS.slice(0, 50);
    expect(schools).to.have.length(50);
    const agents = schools.map((school) => startAgent({ school, url: collector.url, token: collector.token(school), cycleEveryMs: 500 }));
    const runs = agents.map((a) => a.run());
    await until(() => agents.every((a) => a.spool.lastSeq() >= 6), 30_000, 'six cycles everywhere');
    await collector.kill();
    const killedAt = agents.map((a) => a.spool.lastSeq());
    await new Promise((r) => setTimeout(r, 3000));
    await collector.start();
    await until(() => agents.every((a, i) => a.spool.lastSeq() >= (killedAt[i] as number) + 10 && !a.spool.waiting().some((q) => q <= (killedAt[i] as number) + 4)), 60_000, 'the backlog delivered after the restart');
    await Promise.all(runs.map((r) => r.stop()));
    for (const a of agents) expect((await a.flush()).stoppedBy?.message).to.equal(undefined);
    let total = 0;
    for (const [i, a] of agents.entries()) {
      await expectExactlyOnce(influx, { school: schools[i] as string, agent: 'gw-01', collected: a.spool.lastSeq() });
      total += a.spool.lastSeq();
      a.close();
    }
    expect(total).to.be.at.least(50 * 16);
    const { join } = await import('node:path');
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(collector.stateDir, 'state.db'), { readonly: true });
    const life = { downtimes: db.prepare('SELECT from_ms AS fromMs, to_ms AS toMs FROM lifelog_downtimes').all() as { fromMs: number; toMs: number }[] };
    db.close();
    expect(life.downtimes).to.have.length(1);
    expect((life.downtimes[0]?.toMs ?? 0) - (life.downtimes[0]?.fromMs ?? 0)).to.be.within(2500, 15_000);
  });
});
