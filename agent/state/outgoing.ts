/**
 * What the agent's state does to reports on their way out: correct those stamped before a clock step,
 * send those of an epoch renewed after a clone under the new epoch, and find a clone (a cloned SD card:
 * same agent id, epoch and sequence) from the collector's answer.
 */
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import type { BatchSender } from '../transport/pool.js';
import type { UploadResult } from '../transport/uploader.js';
import type { AnchoredClock, ClockStore } from './clock.js';
import type { EpochStore } from './epoch.js';

export interface OutgoingOptions {
  clock: ClockStore;
  wall: AnchoredClock;
  epochs: EpochStore;
  /** Reports above this sequence were made by this process. */
  bornAfterSeq: number;
  log: Logger;
}

/** Sequences remembered as sent once; beyond it the set starts over (quarantined reports never leave it). */
const MAX_ATTEMPTED = 50_000;

export class OutgoingReports {
  /** Sequences this process sent at least once and did not see acknowledged yet. */
  private readonly attempted = new Set<number>();

  constructor(private readonly opts: OutgoingOptions) {}

  /**
   * Notices a step of the wall clock since the last look: reports collected up to `uptoSeq` (in this
   * epoch) are corrected by it when they are sent, and the collector offset measured before it moves with it.
   */
  checkClock(uptoSeq: number): void {
    const deltaMs = this.opts.wall.check();
    if (!deltaMs) return;
    this.opts.clock.recordStep({ epoch: this.opts.epochs.epoch ?? '', uptoSeq, deltaMs });
    this.opts.log.warn({ code: 'AGT_ERR_CLOCK_STEP', deltaMs, uptoSeq }, 'the wall clock stepped; reports collected before the step are corrected and flagged when sent');
  }

  /** The reports as they go out: corrected by later clock steps and flagged; an aliased epoch sent as the current one. */
  restamp(reports: readonly Report[]): Report[] {
    return reports.map((r) => {
      const d = r.clockCorrected ? 0 : this.opts.clock.correctionFor(r.epoch ?? '', r.seq);
      const epoch = this.opts.epochs.sendAs(r.epoch);
      if (!d && epoch === r.epoch) return r;
      const { epoch: _old, ...rest } = r;
      return { ...rest, ...(epoch ? { epoch } : {}), ...(d ? { collectedAt: Math.max(0, r.collectedAt + d), clockCorrected: true as const, clockOffsetMs: d } : {}) };
    });
  }

  /**
   * Sends a batch. When the collector answers that it already held a report this process made and never
   * sent before, another install shares this state (a cloned SD card): a new epoch starts and the batch
   * goes again under it, so the clone's reports are kept, not taken for repeats (AGT_ERR_STATE_CLONED).
   * `sendOpts` go to the sender unchanged (the token of the identity these reports were collected under).
   */
  async send(sender: BatchSender, reports: readonly Report[], sendOpts?: Parameters<BatchSender['send']>[1]): Promise<UploadResult> {
    const current = this.opts.epochs.epoch;
    const first = reports.filter((r) => r.seq > this.opts.bornAfterSeq && !this.attempted.has(r.seq) && this.opts.epochs.sendAs(r.epoch) === current).map((r) => r.seq);
    if (this.attempted.size > MAX_ATTEMPTED) this.attempted.clear();
    for (const r of reports) this.attempted.add(r.seq);
    let up = await sender.send(this.restamp(reports), sendOpts);
    const dups = new Set(up.ack.duplicates ?? []);
    const cloned = first.filter((q) => dups.has(q));
    if (cloned.length) {
      const next = this.opts.epochs.renew(this.opts.log);
      this.opts.log.error({ code: 'AGT_ERR_STATE_CLONED', oldEpoch: current ?? 'legacy', epoch: next, seqs: cloned.slice(0, 5) }, 'the collector already held reports this agent just made: another install uses the same state (a cloned SD card?); a new epoch starts and they are sent again under it');
      const again = await sender.send(this.restamp(reports), sendOpts);
      up = { ...again, requestBytes: again.requestBytes + up.requestBytes };
    }
    for (const q of up.ack.accepted) this.attempted.delete(q);
    return up;
  }
}
