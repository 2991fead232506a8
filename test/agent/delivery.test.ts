import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { flushSpool } from '../../agent/delivery.js';
import { SegmentSpool } from '../../agent/spool/segment-spool.js';
import { AgentStats } from '../../agent/state/stats.js';
import type { BatchSender } from '../../agent/transport/pool.js';
import { UploadError, type UploadResult } from '../../agent/transport/uploader.js';
import type { Report } from '../../protocol/index.js';
import { T0, makeReport } from '../helpers/reports.js';

const log = pino({ level: 'silent' });

/** A sender that records batches and answers as told. */
class RecordingSender implements BatchSender {
  batches: number[][] = [];
  answer: (reports: readonly Report[]) => UploadResult | UploadError = (reports) => ({ ack: { v: 1, accepted: reports.map((r) => r.seq), serverTime: T0 }, requestBytes: 1000, sentAtMs: T0, answeredAtMs: T0 });
  async send(reports: readonly Report[]): Promise<UploadResult> {
    this.batches.push(reports.map((r) => r.seq));
    const a = this.answer(reports);
    if (a instanceof UploadError) throw a;
    return a;
  }
}

async function setup(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'cl-delivery-'));
  const spool = new SegmentSpool({ dir: join(dir, 'spool'), maxSpoolBytes: 1 << 22, segmentBytes: 1 << 16 });
  for (let i = 1; i <= n; i++) await spool.append(makeReport({ seq: i, collectedAt: T0 + i * 1000 }));
  return { spool, stats: new AgentStats(dir), sender: new RecordingSender() };
}

describe('agent/delivery', () => {
  it('flushSpool() sends live reports first, then the backlog oldest first', async () => {
    const { spool, stats, sender } = await setup(10);
    const r = await flushSpool({ spool, sender, stats, log, now: () => T0, maxBatchReports: 4, liveAfterSeq: 8, backlogBytesPerSec: Infinity });
    expect(sender.batches).to.deep.equal([[9, 10], [1, 2, 3, 4], [5, 6, 7, 8]]);
    expect(r.acked).to.have.length(10);
    expect(spool.waiting()).to.deep.equal([]);
  });

  it('flushSpool() paces the backlog at backlogBytesPerSec and yields when live reports are due', async () => {
    const { spool, stats, sender } = await setup(6);
    const sleeps: number[] = [];
    let calls = 0;
    const r = await flushSpool({ spool, sender, stats, log, now: () => T0, maxBatchReports: 2, liveAfterSeq: 6, backlogBytesPerSec: 500, sleep: async (ms) => void sleeps.push(ms), yieldTo: () => ++calls > 2 });
    // Two backlog batches of 1000 bytes at 500 B/s: 2 s after each; the third is not sent (yielded).
    expect(sleeps).to.deep.equal([2000, 2000]);
    expect(r.yielded).to.equal(true);
    expect(spool.waiting()).to.deep.equal([5, 6]);
  });

  it('flushSpool() quarantines and counts only the reports the collector refuses, report by report', async () => {
    const { spool, stats, sender } = await setup(3);
    sender.answer = (reports) =>
      reports.some((x) => x.seq === 2) ? new UploadError('400', 400, 'drop-and-count', false) : { ack: { v: 1, accepted: reports.map((x) => x.seq), serverTime: T0 }, requestBytes: 10, sentAtMs: T0, answeredAtMs: T0 };
    const r = await flushSpool({ spool, sender, stats, log, now: () => T0, maxBatchReports: 10, liveAfterSeq: 0, backlogBytesPerSec: Infinity });
    expect(r.quarantined).to.deep.equal([2]);
    expect(r.acked).to.deep.equal([1, 3]);
    expect(stats.get().droppedReports).to.equal(1);
  });

  it('flushSpool() stops on 503 and on 401, keeping every report', async () => {
    for (const [status, action] of [[503, 'keep-and-back-off'], [401, 'stop-and-alert']] as const) {
      const { spool, stats, sender } = await setup(3);
      sender.answer = () => new UploadError(String(status), status, action, status === 503, 7000);
      const r = await flushSpool({ spool, sender, stats, log, now: () => T0, maxBatchReports: 10, liveAfterSeq: 0, backlogBytesPerSec: Infinity });
      expect(r.stoppedBy?.status).to.equal(status);
      expect(spool.waiting()).to.deep.equal([1, 2, 3]);
    }
  });

  it('flushSpool() forgets only the sequences the ack lists', async () => {
    const { spool, stats, sender } = await setup(3);
    sender.answer = () => ({ ack: { v: 1, accepted: [1, 3, 99], serverTime: T0 }, requestBytes: 10, sentAtMs: T0, answeredAtMs: T0 });
    await flushSpool({ spool, sender, stats, log, now: () => T0, maxBatchReports: 10, liveAfterSeq: 0, backlogBytesPerSec: Infinity });
    expect(spool.waiting()).to.deep.equal([2]);
  });
});
