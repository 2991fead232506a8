/**
 * The agent's spool and state on a filesystem that fills up (a tmpfs the test mounts), while the collector
 * is away; then the collector (real, with a real InfluxDB) comes back while the disk is still full.
 * Every report still held is delivered exactly once, every report not held is counted in
 * agent.dropped_reports, and nothing is torn.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { pino } from 'pino';
import { AgentRuntime } from '../../../agent/runtime.js';
import { SegmentSpool } from '../../../agent/spool/segment-spool.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { CollectorChild, SCHOOLS, TypicalProbe, agentConfig, freePort, seqsInInflux } from '../../fault/harness.js';
import { canMount, mountTmpfs, type Tmpfs } from './tmpfs.js';

describe('agent: spool on a full disk, collector away and back (real tmpfs, collector, influxd)', function () {
  this.timeout(120_000);
  let fs: Tmpfs | undefined;
  let influx: TestInfluxd | undefined;
  let collector: CollectorChild | undefined;
  before(async function () {
    if (!canMount()) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    collector.port = await freePort();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
    fs?.unmount();
  });

  it('after the collector returns, every report still held is delivered once and every other one is counted as dropped', async () => {
    const c = collector as CollectorChild;
    fs = mountTmpfs(384 * 1024);
    const school = SCHOOLS[1] as string;
    const config = agentConfig({ school, url: c.url, token: c.token(school), dir: fs.dir, spool: { segmentBytes: 8 * 1024, minFreeBytes: 32 * 1024 } });
    const log = pino({ level: 'silent' });
    const agent = new AgentRuntime({ config, log, probes: [new TypicalProbe()] });
    // Another program leaves 96 KiB of the disk.
    fs.fill('other-program', 96 * 1024);
    for (let i = 0; i < 30; i++) {
      await agent.cycle();
      const f = await agent.flush();
      expect(f.acked, 'the collector is away').to.deep.equal([]);
    }
    const held = agent.spool.waiting();
    expect(held.length, 'some reports held').to.be.greaterThan(3);
    expect(held.length, 'some reports dropped').to.be.lessThan(30);
    // The other program takes the rest: not even an acknowledgement can be written now.
    fs.fill('other-program-2');
    await c.start();
    for (let round = 0; round < 10 && agent.spool.waiting().length; round++) await agent.flush();
    expect(agent.spool.waiting(), 'everything held was delivered').to.deep.equal([]);
    const stored = await seqsInInflux(influx as TestInfluxd, school, 'gw-01');
    expect(stored, 'each held report once').to.deep.equal(held);
    // The next cycles store and deliver again in the space the delivered segments freed.
    const next = await agent.once();
    expect(next.delivered).to.equal(true);
    const dropped = 30 - held.length;
    expect(next.report.measurements.find((m) => m.name === 'agent')?.fields.dropped_reports, 'agent.dropped_reports').to.equal(dropped);
    agent.close();
    rmSync(join(fs.dir, 'other-program-2'));
    const reopened = new SegmentSpool({ dir: config.spool.dir, maxSpoolBytes: config.spool.maxSpoolBytes, segmentBytes: 8 * 1024, minFreeBytes: 0 });
    expect(reopened.recovery).to.deep.include({ tornBytes: 0, corruptSegments: [] });
    expect(reopened.waiting(), 'nothing delivered comes back after a restart').to.deep.equal([]);
    reopened.close();
  });
});
