/**
 * The info-level lines an operator reads: one per delivered upload round, "delivery paused" once per
 * outage, "delivery resumed", "backlog drained", and the heartbeat of `run()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema } from '../../agent/config.js';
import { AgentRuntime } from '../../agent/runtime.js';
import type { BatchSender } from '../../agent/transport/pool.js';
import { UploadError, type UploadResult } from '../../agent/transport/uploader.js';
import type { Report } from '../../protocol/index.js';
import { T0 } from '../helpers/reports.js';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A collector that is up or down as the test says. */
class SwitchableSender implements BatchSender {
  up = true;
  async send(reports: readonly Report[]): Promise<UploadResult> {
    if (!this.up) throw new UploadError('connect ECONNREFUSED 127.0.0.1:9', undefined, 'keep-and-back-off', true);
    return { ack: { v: 1, accepted: reports.map((r) => r.seq), serverTime: T0 }, requestBytes: 100, sentAtMs: T0, answeredAtMs: T0 };
  }
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cl-delivery-log-'));
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as Line), cb()) }));
  let t = T0;
  const sender = new SwitchableSender();
  const config = agentConfigSchema.parse({ school: '1640104001', spool: { dir: join(dir, 'spool') }, stateDir: dir, logLevel: 'info', collector: { token: 'clk1_x' } });
  const make = () => new AgentRuntime({ config, log, probes: [], sender, now: () => (t += 1000) });
  return { dir, lines, sender, make, msgs: () => lines.map((l) => l.msg.split(';')[0]) };
}

describe('agent delivery log lines', () => {
  it('logs one "reports delivered" line per upload round at info level, with the sequences', async () => {
    const { dir, lines, make } = setup();
    const agent = make();
    try {
      await agent.once();
      await agent.once();
      const delivered = lines.filter((l) => l.msg === 'reports delivered');
      expect(delivered).to.have.length(2);
      expect(delivered[1]).to.include({ level: 30, reports: 1, firstSeq: 2, lastSeq: 2, waiting: 0 });
    } finally {
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says "delivery paused" once for an outage, then "delivery resumed" and "backlog drained" when it ends', async () => {
    const { dir, lines, sender, make, msgs } = setup();
    const agent = make();
    try {
      await agent.once();
      sender.up = false;
      for (let i = 0; i < 4; i++) await agent.once();
      expect(msgs().filter((m) => m === 'delivery paused')).to.have.length(1);
      const paused = lines.find((l) => l.msg.startsWith('delivery paused'));
      expect(paused).to.include({ level: 40, code: 'AGT_ERR_COLLECTOR_UNAVAILABLE', waiting: 1 });
      sender.up = true;
      await agent.once();
      const after = msgs().slice(msgs().lastIndexOf('delivery paused') + 1);
      expect(after).to.deep.equal(['delivery resumed', 'reports delivered', 'backlog drained']);
      expect(lines.find((l) => l.msg === 'backlog drained')).to.include({ level: 30, reports: 5 });
      expect(lines.at(-2)).to.include({ reports: 5, firstSeq: 2, lastSeq: 6, waiting: 0 });
    } finally {
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after a restart with reports waiting, says "backlog drained" once they are all delivered', async () => {
    const { dir, lines, sender, make } = setup();
    sender.up = false;
    const first = make();
    await first.once();
    await first.once();
    first.close();
    sender.up = true;
    const second = make();
    try {
      await second.flush();
      expect(lines.filter((l) => l.msg === 'backlog drained')).to.have.length(1);
      expect(lines.at(-1)).to.include({ msg: 'backlog drained', reports: 2 });
    } finally {
      second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('run() logs an "agent alive" heartbeat with what it collected and delivered', async () => {
    const { dir, lines } = setup();
    const config = agentConfigSchema.parse({ school: '1640104001', spool: { dir: join(dir, 'spool') }, stateDir: dir, logLevel: 'info', collector: { token: 'clk1_x' }, jitterMs: 0 });
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as Line), cb()) }));
    const agent = new AgentRuntime({ config, log, probes: [], sender: new SwitchableSender(), cycleEveryMs: 20, heartbeatEveryMs: 150 });
    const handle = agent.run();
    try {
      while (!lines.some((l) => l.msg === 'agent alive' && Number(l.delivered) > 0)) await new Promise((r) => setTimeout(r, 20));
      const beat = lines.find((l) => l.msg === 'agent alive' && Number(l.delivered) > 0) as Line;
      expect(beat.level).to.equal(30);
      expect(beat.collected).to.be.a('number').greaterThan(0);
      expect(beat).to.include({ paused: false, droppedReports: 0 });
      expect(beat).to.have.property('lastDeliveredAgoS').that.is.a('number');
    } finally {
      await handle.stop();
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
