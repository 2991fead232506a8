/**
 * The province's roll-up spool: the agent's segment spool (agent/spool/segment-spool.ts: framed records,
 * one fsync per append, an acknowledged log, a size limit that drops the oldest first, recovery that
 * never refuses to start) holding roll-ups instead of reports. A roll-up is spooled before it is sent and
 * removed only once the hub acknowledged it, so a hub outage or a restart loses nothing.
 */
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import type { Rollup } from '../../protocol/rollup.js';
import { SegmentSpool } from '../../agent/spool/segment-spool.js';

/** The spool's view of roll-ups: what the segment spool stores is JSON with a `seq`, which a roll-up has. */
export class RollupSpool {
  private readonly spool: SegmentSpool;

  constructor(opts: { dir: string; maxSpoolBytes: number; committedSeq?: number; log?: Logger }) {
    this.spool = new SegmentSpool({ dir: opts.dir, maxSpoolBytes: opts.maxSpoolBytes, segmentBytes: 16 * 1024 * 1024, ...(opts.committedSeq !== undefined && { committedSeq: opts.committedSeq }), ...(opts.log && { log: opts.log }) });
  }

  /** What opening found and repaired (torn tail, corrupt segments, lost sequences). */
  get recovery() {
    return this.spool.recovery;
  }

  /** Stores a roll-up durably; resolves with the sequences dropped to make room (oldest first). */
  async append(r: Rollup): Promise<number[]> {
    return (await this.spool.append(r as unknown as Report)).dropped;
  }

  /** Up to `limit` spooled roll-ups, oldest first. */
  async pending(limit: number): Promise<Rollup[]> {
    return (await this.spool.pending(limit)) as unknown as Rollup[];
  }

  /** Forgets acknowledged roll-ups, durably. */
  remove(seqs: readonly number[]): Promise<void> {
    return this.spool.remove(seqs);
  }

  /** Moves roll-ups the hub refused as invalid aside (kept for inspection, never resent). */
  quarantine(seqs: readonly number[], reason: string): Promise<void> {
    return this.spool.quarantine(seqs, reason);
  }

  /** Sequences waiting for an acknowledgement, ascending. */
  waiting(): number[] {
    return this.spool.waiting();
  }

  /** Highest sequence ever stored (0 when none). */
  lastSeq(): number {
    return this.spool.lastSeq();
  }

  stats() {
    return this.spool.stats();
  }

  /** Closes open files. */
  close(): void {
    this.spool.close();
  }
}
