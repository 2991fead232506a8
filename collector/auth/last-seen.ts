/**
 * When each token was last used, for `token list`; and the pruning of old revoked
 * and expired tokens and of the change feed (once a minute). Kept in memory per request and written in small
 * batches on a timer, and only when the stored value is older than `resolutionMs`: 60,000 agents at
 * one batch a minute cost about 100 row updates a second, not one write per request.
 */
import type { Logger } from 'pino';
import { preparedOnce, type StateDb } from '../state/db.js';
import { pruneTokens } from './tokens.js';

export interface LastSeenOptions {
  state: StateDb;
  /** A token's stored last-seen time is moved when it is older than this, ms. Default 600,000. */
  resolutionMs?: number;
  /** How often pending times are written, ms. Default 5,000. */
  flushEveryMs?: number;
  /** Most rows written per flush (one short transaction). Default 2,000. */
  maxRowsPerFlush?: number;
  /** Change-feed rows older than this are pruned, ms. Default one day. */
  changesKeepMs?: number;
  /** Revoked and expired tokens are deleted this long after, ms (`token list` shows them until then). Default 30 days. */
  tokensKeepMs?: number;
  /** Told the hashes of pruned tokens (the token store forgets them). */
  onPruned?: (sha256s: readonly string[]) => void;
  now: () => number;
  log: Logger;
}

/** Rows of one group-commit item. */
const ITEM_ROWS = 250;

export class LastSeen {
  /** Last time written (or read) per token hash; at most one entry per token in force. */
  private readonly written = new Map<string, number>();
  private readonly pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushes = 0;
  private readonly resolutionMs: number;

  constructor(private readonly opts: LastSeenOptions) {
    this.resolutionMs = opts.resolutionMs ?? 600_000;
  }

  /** Notes a use of the token with this hash. */
  touch(sha256: string): void {
    const now = this.opts.now();
    const w = this.written.get(sha256);
    if (w !== undefined && now - w < this.resolutionMs) return;
    this.pending.set(sha256, now);
  }

  /** Writes up to maxRowsPerFlush pending times. */
  async flush(): Promise<void> {
    // Housekeeping every 12th flush (once a minute at the default interval), busy or not.
    if (++this.flushes % 12 === 1) await this.prune();
    if (!this.pending.size) return;
    const batch: [string, number][] = [];
    for (const e of this.pending) {
      batch.push(e);
      if (batch.length >= (this.opts.maxRowsPerFlush ?? 2000)) break;
    }
    for (const [sha] of batch) this.pending.delete(sha);
    try {
      // Items of ITEM_ROWS: the group commit can cut its work only between items.
      const items: Promise<void>[] = [];
      for (let i = 0; i < batch.length; i += ITEM_ROWS) {
        const rows = batch.slice(i, i + ITEM_ROWS);
        items.push(
          this.opts.state.commit((db) => {
            const upd = preparedOnce(db, 'UPDATE tokens SET last_seen_ms = ? WHERE sha256 = ?');
            for (const [sha, at] of rows) upd.run(at, sha);
          }),
        );
      }
      await Promise.all(items);
    } catch (e) {
      for (const [sha, at] of batch) if (!this.pending.has(sha)) this.pending.set(sha, at);
      throw e;
    }
    for (const [sha, at] of batch) this.written.set(sha, at);
  }

  /** Old revoked and expired tokens (2,000 at most per run) and change-feed rows. */
  private async prune(): Promise<void> {
    const nowMs = this.opts.now();
    const gone = await this.opts.state.commit((db) => {
      db.prepare('DELETE FROM token_changes WHERE at_ms < ?').run(nowMs - (this.opts.changesKeepMs ?? 86_400_000));
      return pruneTokens(db, nowMs - (this.opts.tokensKeepMs ?? 30 * 86_400_000));
    });
    for (const sha of gone) this.written.delete(sha);
    if (gone.length) this.opts.onPruned?.(gone);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((e: unknown) => this.opts.log.error({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String((e as Error)?.message ?? e) }, 'token last-seen times not written; kept for the next try'));
    }, this.opts.flushEveryMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.pending.size) {
      try {
        await this.flush();
      } catch {
        return;
      }
    }
  }
}
