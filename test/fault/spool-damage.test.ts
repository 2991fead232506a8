/** Faults on the agent's disk: random bytes in a segment, and a spool limit small enough to force drops. */
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { AgentStats } from '../../agent/state/stats.js';
import { LinkEmulator } from '../../sim/link/emulator.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, seqsInInflux, startAgent, tempDir } from './harness.js';

describe('fault: damaged and full spools', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  let link: LinkEmulator;
  let linkUrl: string;
  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    await collector.start();
    link = new LinkEmulator({ target: { host: '127.0.0.1', port: collector.port } });
    linkUrl = (await link.start()).url;
  });
  after(async () => {
    await link?.stop();
    await collector?.stop();
    await influx?.cleanup();
  });

  it('random bytes written into a spool segment: the agent starts, keeps every intact report, and counts exactly the lost ones as dropped', async () => {
    const school = SCHOOLS[3] as string;
    const dir = tempDir('agent');
    const token = collector.token(school);
    link.setDown(true);
    const first = startAgent({ school, url: linkUrl, token, dir, spool: { segmentBytes: 16 * 1024 } });
    for (let i = 0; i < 30; i++) await first.cycle();
    first.close();
    const spoolDir = join(dir, 'spool');
    const seg = join(spoolDir, readdirSync(spoolDir).filter((n) => n.endsWith('.seg')).sort()[1] as string);
    const fd = openSync(seg, 'r+');
    writeSync(fd, randomBytes(200), 0, 200, Math.floor(statSync(seg).size / 2));
    closeSync(fd);
    link.setDown(false);

    const second = startAgent({ school, url: linkUrl, token, dir });
    const lost = second.spool.recovery.lost;
    expect(second.spool.recovery.corruptSegments).to.have.length(1);
    expect(lost.length).to.be.within(1, 2);
    expect(readdirSync(join(spoolDir, 'corrupt'))).to.have.length(1);
    const r = await second.once();
    expect(r.delivered).to.equal(true);
    await expectExactlyOnce(influx, { school, agent: 'gw-01', collected: 31, missing: lost });
    expect(new AgentStats(dir).get().droppedReports).to.equal(lost.length);
    second.close();
  });

  it('a spool limit small enough to force drops: the count of dropped reports equals what is missing, and the oldest went first', async () => {
    const school = SCHOOLS[4] as string;
    const dir = tempDir('agent');
    const agent = startAgent({ school, url: linkUrl, token: collector.token(school), dir, spool: { maxSpoolBytes: 64 * 1024, segmentBytes: 8 * 1024 } });
    expect((await agent.once()).delivered).to.equal(true);
    link.setDown(true);
    for (let i = 0; i < 60; i++) await agent.cycle();
    link.setDown(false);
    const r = await agent.flush();
    expect(r.stoppedBy?.message).to.equal(undefined);
    const collected = agent.spool.lastSeq();
    const seqs = await seqsInInflux(influx, school, 'gw-01');
    const missing = Array.from({ length: collected }, (_, i) => i + 1).filter((q) => !seqs.includes(q));
    const dropped = new AgentStats(dir).get().droppedReports;
    expect(dropped).to.be.greaterThan(20);
    expect(missing).to.have.length(dropped);
    expect(missing).to.deep.equal(Array.from({ length: dropped }, (_, i) => i + 2));
    await expectExactlyOnce(influx, { school, agent: 'gw-01', collected, missing });
    agent.close();
  });
});
