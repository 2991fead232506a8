/**
 * The info-level story of delivery an operator reads in the log: one line per upload round that
 * delivered something, "delivery paused" once when the collector stops answering (repeats go to
 * debug), "delivery resumed" when it answers again, "backlog drained" when everything that waited has
 * gone, and an hourly heartbeat.
 */
import type { Logger } from 'pino';
import type { FlushResult } from './delivery.js';

/** How often `run()` logs the heartbeat. */
export const HEARTBEAT_EVERY_MS = 3_600_000;

export interface DeliveryLogOptions {
  log: Logger;
  /** Clock, ms since the epoch. */
  now: () => number;
}

/** What the heartbeat says beside the delivery figures. */
export interface HeartbeatFacts {
  /** Reports waiting in the spool. */
  waiting: number;
  /** Reports collected since start. */
  collected: number;
  /** Reports dropped since installation (agent.dropped_reports). */
  droppedReports: number;
}

/** Tracks delivery state across upload rounds and writes the lines described above. */
export class DeliveryLog {
  private pausedSinceMs?: number;
  /** Since when reports have been waiting behind an outage or a restart (undefined: no backlog). */
  private backlogSinceMs?: number;
  private deliveredSinceBacklog = 0;
  private deliveredTotal = 0;
  private lastDeliveredAtMs?: number;
  private readonly startedAtMs: number;

  constructor(private readonly opts: DeliveryLogOptions) {
    this.startedAtMs = opts.now();
  }

  /** At start: reports already waiting in the spool are a backlog to drain. */
  started(waiting: number): void {
    if (waiting > 0) this.backlogSinceMs = this.opts.now();
  }

  /** After every upload round, with the reports still waiting. */
  afterFlush(result: FlushResult, waiting: number): void {
    const { log, now } = this.opts;
    const n = result.acked.length;
    if (n > 0) {
      if (this.pausedSinceMs !== undefined) {
        log.info({ pausedForS: Math.round((now() - this.pausedSinceMs) / 1000), waiting }, 'delivery resumed');
        this.pausedSinceMs = undefined;
      }
      this.deliveredTotal += n;
      this.lastDeliveredAtMs = now();
      if (this.backlogSinceMs !== undefined) this.deliveredSinceBacklog += n;
      log.info({ reports: n, firstSeq: result.acked.reduce((a, b) => Math.min(a, b)), lastSeq: result.acked.reduce((a, b) => Math.max(a, b)), quarantined: result.quarantined.length, waiting }, 'reports delivered');
    }
    const e = result.stoppedBy;
    if (e && e.action === 'keep-and-back-off') {
      const fields = { code: 'AGT_ERR_COLLECTOR_UNAVAILABLE', status: e.status, retryAfterMs: e.retryAfterMs, err: e.message, waiting };
      this.backlogSinceMs ??= now();
      if (this.pausedSinceMs === undefined) {
        this.pausedSinceMs = now();
        log.warn(fields, 'delivery paused; reports stay in the spool and are sent when the collector answers');
      } else {
        log.debug(fields, 'delivery still paused');
      }
      return;
    }
    if (!e && !result.yielded && this.backlogSinceMs !== undefined) {
      log.info({ reports: this.deliveredSinceBacklog, tookS: Math.round((now() - this.backlogSinceMs) / 1000) }, 'backlog drained');
      this.backlogSinceMs = undefined;
      this.deliveredSinceBacklog = 0;
    }
  }

  /** The hourly "still here" line. */
  heartbeat(facts: HeartbeatFacts): void {
    const { now } = this.opts;
    this.opts.log.info(
      {
        uptimeS: Math.round((now() - this.startedAtMs) / 1000),
        collected: facts.collected,
        delivered: this.deliveredTotal,
        waiting: facts.waiting,
        droppedReports: facts.droppedReports,
        lastDeliveredAgoS: this.lastDeliveredAtMs === undefined ? null : Math.round((now() - this.lastDeliveredAtMs) / 1000),
        paused: this.pausedSinceMs !== undefined,
      },
      'agent alive',
    );
  }
}
