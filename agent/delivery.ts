/** Delivers spooled reports to the collector, oldest first, and forgets only what was acknowledged. */
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { Spool } from './spool/spool.js';
import type { AgentStats } from './state/stats.js';
import { UploadError, uploadBatch, type UploaderOptions } from './transport/uploader.js';

export interface DeliveryOptions {
  spool: Spool;
  uploader: UploaderOptions;
  /** Most reports in one POST. */
  maxBatchReports: number;
  stats: AgentStats;
  now: () => number;
  log: Logger;
}

/** What one flush achieved. */
export interface FlushResult {
  /** Sequences the collector acknowledged. */
  acked: number[];
  /** Sequences quarantined after a 4xx. */
  quarantined: number[];
  /** Why the flush stopped before the spool was empty, if it did. */
  stoppedBy?: UploadError;
}

/**
 * Sends everything in the spool, in batches, oldest first. Stops at the first answer that says
 * "keep and back off" (collector or database down) or "stop" (401/403); a refused batch (400, 413, 415)
 * is retried report by report so that only the reports the collector refuses are quarantined.
 */
export async function flushSpool(opts: DeliveryOptions): Promise<FlushResult> {
  const result: FlushResult = { acked: [], quarantined: [] };
  const send = async (batch: Report[]): Promise<void> => {
    const sentAt = opts.now();
    const outgoing = batch.map((r) => ({ ...r, sentAt }));
    const { ack, requestBytes } = await uploadBatch(opts.uploader, outgoing);
    opts.stats.add({ sentBytes: requestBytes });
    const inBatch = new Set(batch.map((r) => r.seq));
    const accepted = ack.accepted.filter((s) => inBatch.has(s));
    await opts.spool.remove(accepted);
    result.acked.push(...accepted);
  };
  for (;;) {
    const batch = await opts.spool.pending(opts.maxBatchReports);
    if (batch.length === 0) return result;
    const before = result.acked.length + result.quarantined.length;
    try {
      await send(batch);
    } catch (e) {
      if (!(e instanceof UploadError)) throw e;
      if (e.action !== 'drop-and-count') {
        result.stoppedBy = e;
        return result;
      }
      for (const report of batch) {
        try {
          await send([report]);
        } catch (single) {
          if (!(single instanceof UploadError)) throw single;
          if (single.action !== 'drop-and-count') {
            result.stoppedBy = single;
            return result;
          }
          await opts.spool.quarantine([report.seq], single.message);
          opts.stats.add({ droppedReports: 1 });
          result.quarantined.push(report.seq);
          opts.log.error({ code: 'AGT_ERR_REPORT_REJECTED', seq: report.seq, status: single.status, err: single.message }, 'report refused by the collector; quarantined');
        }
      }
    }
    if (result.acked.length + result.quarantined.length === before) {
      // The collector acknowledged none of the batch: stop rather than loop on it.
      result.stoppedBy = new UploadError('collector acknowledged none of the batch', 200, 'keep-and-back-off', true);
      return result;
    }
  }
}
