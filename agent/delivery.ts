/**
 * Delivers spooled reports: live reports first, then the backlog oldest first at a capped rate.
 * Forgets only what the collector acknowledged; a refused batch is retried report by report so that
 * only the reports the collector refuses are quarantined.
 */
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { Route } from './identity/identity.js';
import type { Spool } from './spool/spool.js';
import type { AgentStats } from './state/stats.js';
import type { BatchSender } from './transport/pool.js';
import { UploadError, type UploadResult } from './transport/uploader.js';

export interface DeliveryOptions {
  spool: Spool;
  sender: BatchSender;
  /** Most reports in one POST. */
  maxBatchReports: number;
  /** Reports with a higher sequence are live and go first; the rest is backlog. */
  liveAfterSeq: number;
  /** Request-body bytes per second the backlog may use (Infinity: no cap). */
  backlogBytesPerSec: number;
  /** Asked between backlog batches: true makes the flush return so live reports go first. */
  yieldTo?: () => boolean;
  /** Called with every acknowledged upload (the runtime takes the clock offset and rotated tokens from it). */
  onAck?: (result: UploadResult) => void;
  /**
   * How each report travels (agent/identity): with the current token, with an older identity's own
   * token (a moved agent's backlog, sent in batches of its own), or quarantined. Without it every
   * report goes with the sender's token.
   */
  route?: (r: Report) => Route;
  stats: AgentStats;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
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
  /** True when the flush returned early so that newer live reports go first. */
  yielded?: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Sends live reports, then the backlog; stops at the first "keep and back off" or "stop" answer. */
export async function flushSpool(opts: DeliveryOptions): Promise<FlushResult> {
  const result: FlushResult = { acked: [], quarantined: [] };
  const sleep = opts.sleep ?? defaultSleep;

  const send = async (batch: Report[], token?: string): Promise<number> => {
    const sentAt = opts.now();
    const outgoing = batch.map((r) => ({ ...r, sentAt }));
    const up = await opts.sender.send(outgoing, token === undefined ? undefined : { token });
    opts.stats.add({ sentBytes: up.requestBytes });
    opts.onAck?.(up);
    const inBatch = new Set(batch.map((r) => r.seq));
    const accepted = up.ack.accepted.filter((s) => inBatch.has(s));
    await opts.spool.remove(accepted);
    result.acked.push(...accepted);
    return up.requestBytes;
  };

  /** Quarantines reports of an identity this agent cannot send for, counted as dropped. */
  const quarantineMoved = async (batch: readonly Report[], reason: string): Promise<void> => {
    const seqs = batch.map((r) => r.seq);
    await opts.spool.quarantine(seqs, reason);
    opts.stats.add({ droppedReports: seqs.length });
    result.quarantined.push(...seqs);
    opts.log.error({ code: 'AGT_ERR_MOVED_BACKLOG', school: batch[0]?.school, agent: batch[0]?.agent, quarantined: seqs.length, first: seqs[0], last: seqs.at(-1) }, `backlog quarantined and counted in agent.dropped_reports: ${reason}`);
  };

  /** Sends one batch, split by identity; returns its bytes, or undefined after setting stoppedBy. */
  const deliver = async (batch: Report[]): Promise<number | undefined> => {
    if (!opts.route) return deliverAs(batch);
    const groups = new Map<string, { route: Route; reports: Report[] }>();
    for (const r of batch) {
      const k = `${r.school}/${r.agent}`;
      const g = groups.get(k) ?? { route: opts.route(r), reports: [] };
      g.reports.push(r);
      groups.set(k, g);
    }
    let bytes = 0;
    for (const { route, reports } of groups.values()) {
      if (route.kind === 'quarantine') {
        await quarantineMoved(reports, route.reason);
        continue;
      }
      // Reports collected before enrollment under the config's agent id travel as the enrolled agent.
      const as = reports.map((r) => (r.agent === route.agent && r.school === route.school ? r : { ...r, school: route.school, agent: route.agent }));
      const b = await deliverAs(as, route.token, route.current);
      if (b === undefined) return undefined;
      bytes += b;
    }
    return bytes;
  };

  /** Sends one identity's batch; a refused token of an older identity quarantines its backlog instead of stopping. */
  const deliverAs = async (batch: Report[], token?: string, current = true): Promise<number | undefined> => {
    const before = result.acked.length + result.quarantined.length;
    let bytes = 0;
    try {
      bytes = await send(batch, token);
    } catch (e) {
      if (!(e instanceof UploadError)) throw e;
      if (e.action === 'stop-and-alert' && !current) {
        await quarantineMoved(batch, `the collector refused the old identity's token (${e.message})`);
        return bytes;
      }
      if (e.action !== 'drop-and-count') {
        result.stoppedBy = e;
        return undefined;
      }
      for (const report of batch) {
        try {
          bytes += await send([report], token);
        } catch (single) {
          if (!(single instanceof UploadError)) throw single;
          if (single.action !== 'drop-and-count') {
            result.stoppedBy = single;
            return undefined;
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
      return undefined;
    }
    return bytes;
  };

  const waiting = opts.spool.waiting();
  const live = waiting.filter((s) => s > opts.liveAfterSeq);
  for (const seqs of chunks(live, opts.maxBatchReports)) {
    if ((await deliver(await opts.spool.read(seqs))) === undefined) return result;
  }
  const backlog = waiting.filter((s) => s <= opts.liveAfterSeq);
  for (const seqs of chunks(backlog, opts.maxBatchReports)) {
    if (opts.yieldTo?.()) {
      result.yielded = true;
      return result;
    }
    const started = opts.now();
    const bytes = await deliver(await opts.spool.read(seqs));
    if (bytes === undefined) return result;
    if (Number.isFinite(opts.backlogBytesPerSec)) {
      // Pace the backlog so a recovering school does not saturate its own uplink.
      const wait = (bytes / opts.backlogBytesPerSec) * 1000 - (opts.now() - started);
      if (wait > 0) await sleep(wait);
    }
  }
  return result;
}
