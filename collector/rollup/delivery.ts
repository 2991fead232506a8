/**
 * Delivery of spooled roll-ups to the hub, the way an agent delivers reports: oldest first, in batches,
 * gzip, removed from the spool only once acknowledged (a repeat is acknowledged as a duplicate, never
 * counted twice), backoff with full jitter honouring Retry-After (agent/transport/backoff.ts) after a
 * failure. A batch refused as invalid is retried one roll-up at a time, and only a roll-up refused alone
 * is quarantined: one bad roll-up costs only itself.
 */
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { agentActionFor } from '../../protocol/index.js';
import { MAX_ROLLUPS_PER_BATCH, ROLLUPS_PATH, rollupAckSchema, type Rollup } from '../../protocol/rollup.js';
import { Backoff } from '../../agent/transport/backoff.js';
import type { HubCredential } from './credential.js';
import { answerDetail, postToHub, type HubPostOptions } from './post.js';
import type { RollupSpool } from './spool.js';

/** Most bytes of roll-up JSON in one POST (before gzip): about ten roll-ups of a large province, parsed by the hub in a few ms. */
export const MAX_BATCH_JSON_BYTES = 1024 * 1024;

/** What delivery has done since start. */
export interface DeliveryStats {
  /** Roll-ups the hub acknowledged (duplicates included). */
  acked: number;
  duplicates: number;
  /** Roll-ups refused as invalid, quarantined. */
  quarantined: number;
  /** Highest sequence acknowledged. */
  lastAckedSeq: number;
  /** Last failure, while failing. */
  lastError?: string;
  consecutiveFailures: number;
}

/** Why a round stopped: done, or wait this long. */
export type RoundResult = { done: true } | { done: false; waitMs: number };

export interface RollupDeliveryOptions {
  spool: RollupSpool;
  post: HubPostOptions;
  timeoutMs: number;
  backoff: { baseMs: number; maxMs: number; random?: () => number };
  log: Logger;
  /** Version in User-Agent. */
  version: string;
}

type Sent = { ok: true; accepted: number[]; duplicates: number } | { ok: false; invalid: boolean; message: string; retryAfterMs?: number };

function retryAfterMsOf(v: string | string[] | undefined): number | undefined {
  const s = Number(Array.isArray(v) ? v[0] : v);
  return Number.isFinite(s) ? Math.max(0, s * 1000) : undefined;
}

/** Sends spooled roll-ups with a credential; `round()` delivers until the spool is empty or a failure asks to wait. */
export class RollupDelivery {
  readonly stats: DeliveryStats = { acked: 0, duplicates: 0, quarantined: 0, lastAckedSeq: 0, consecutiveFailures: 0 };
  private readonly backoff: Backoff;

  constructor(private readonly opts: RollupDeliveryOptions) {
    this.backoff = new Backoff(opts.backoff);
  }

  private async send(cred: HubCredential, batch: readonly Rollup[]): Promise<Sent> {
    // Spooled before enrollment, or before a re-enrollment: the roll-ups go out under the collector id in force.
    const rollups = batch.map((r) => (r.collector === cred.collector ? r : { ...r, collector: cred.collector }));
    const body = gzipSync(Buffer.from(JSON.stringify({ rollups }), 'utf8'), { level: 6 });
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length, authorization: `Bearer ${cred.token}`, 'user-agent': `campuslink-collector/${this.opts.version}` };
    let a;
    try {
      a = await postToHub(this.opts.post, ROLLUPS_PATH, headers, body, this.opts.timeoutMs);
    } catch (e) {
      return { ok: false, invalid: false, message: `hub ${this.opts.post.url} unreachable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    if (a.status >= 200 && a.status < 300) {
      let ack;
      try {
        ack = rollupAckSchema.parse(JSON.parse(a.text));
      } catch {
        return { ok: false, invalid: false, message: `hub answered ${a.status} without a valid ack` };
      }
      return { ok: true, accepted: ack.accepted, duplicates: ack.duplicates?.length ?? 0 };
    }
    const action = agentActionFor(a.status);
    return { ok: false, invalid: action === 'drop-and-count', message: `hub ${this.opts.post.url} answered ${a.status}: ${answerDetail(a)}`, ...(action === 'keep-and-back-off' && { retryAfterMs: retryAfterMsOf(a.headers['retry-after']) }) };
  }

  /** The next batch: oldest first, at most MAX_ROLLUPS_PER_BATCH roll-ups and MAX_BATCH_JSON_BYTES. */
  private async nextBatch(): Promise<Rollup[]> {
    const out: Rollup[] = [];
    let bytes = 0;
    for (const r of await this.opts.spool.pending(MAX_ROLLUPS_PER_BATCH)) {
      const n = JSON.stringify(r).length;
      if (out.length && bytes + n > MAX_BATCH_JSON_BYTES) break;
      out.push(r);
      bytes += n;
    }
    return out;
  }

  private acked(r: { accepted: number[]; duplicates: number }): Promise<void> {
    this.stats.acked += r.accepted.length;
    this.stats.duplicates += r.duplicates;
    this.stats.lastAckedSeq = Math.max(this.stats.lastAckedSeq, ...r.accepted);
    return this.opts.spool.remove(r.accepted);
  }

  private failed(message: string, retryAfterMs?: number): RoundResult {
    this.stats.lastError = message;
    this.stats.consecutiveFailures++;
    return { done: false, waitMs: this.backoff.next(retryAfterMs) };
  }

  /** Delivers until the spool is empty (done) or a failure asks to wait. */
  async round(cred: HubCredential): Promise<RoundResult> {
    for (;;) {
      const batch = await this.nextBatch();
      if (!batch.length) return { done: true };
      const sent = await this.send(cred, batch);
      if (sent.ok) {
        await this.acked(sent);
        this.backoff.reset();
        this.stats.consecutiveFailures = 0;
        delete this.stats.lastError;
        if (!sent.accepted.length) return this.failed('hub acknowledged none of the batch');
        continue;
      }
      if (!sent.invalid) return this.failed(sent.message, sent.retryAfterMs);
      // Refused as invalid: find the roll-ups refused alone; the rest go through.
      for (const r of batch) {
        const one = batch.length === 1 ? sent : await this.send(cred, [r]);
        if (one.ok) {
          await this.acked(one);
          continue;
        }
        if (!one.invalid) return this.failed(one.message, one.retryAfterMs);
        this.opts.log.error({ code: 'COL_ERR_ROLLUP_REFUSED', seq: r.seq, epoch: r.epoch, err: one.message }, 'the hub refused a roll-up as invalid; it is quarantined (a bug to report), the next roll-up is whole again');
        await this.opts.spool.quarantine([r.seq], one.message);
        this.stats.quarantined++;
      }
    }
  }
}
