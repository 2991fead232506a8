/**
 * Which sequences of each agent the collector already holds, surviving restarts: a per-agent
 * high-water mark (every sequence up to it is held) plus a bounded list of ranges of sequences above
 * it (a backlog delivered out of order, a sequence the agent dropped). Stored per agent in the
 * `dedupe_agents` table of the state database and kept in memory for `has()` and `heldThrough()` (the
 * hot path): an agent's row is read (one primary-key lookup) the first time the agent is asked
 * about, so start reads nothing, however many agents the table holds. `record()` goes through the
 * state database's group commit, so the batches of one tick share one fsync, and resolves once
 * durable.
 *
 * A repeated report is acknowledged without being written again; should the state ever lose a sequence
 * (crash between the sink write and this record, or a range forgotten past `maxRangesPerAgent`), the
 * replay rewrites identical points, which InfluxDB overwrites.
 *
 * Memory per agent: the key, the mark and at most `maxRangesPerAgent` pairs of numbers (a dropped
 * sequence leaves one range above the mark, however many reports follow it).
 */
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** The held sequences of one agent: everything ≤ hwm, plus `ranges` [from, to, from, to, …] above it, sorted, disjoint, not adjacent. */
export interface HeldSequences {
  hwm: number;
  ranges: number[];
}

export interface DedupeStoreOptions {
  state: StateDb;
  /** Most ranges kept above the high-water mark per agent; the lowest are forgotten first. Default 64. */
  maxRangesPerAgent?: number;
}

/** Schema of the `ingest.dedupe` module. */
export const DEDUPE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'held sequences per agent',
    up: "CREATE TABLE dedupe_agents (school TEXT NOT NULL, agent TEXT NOT NULL, hwm INTEGER NOT NULL, ranges TEXT NOT NULL DEFAULT '', PRIMARY KEY (school, agent)) WITHOUT ROWID",
  },
];

/** Creates or upgrades the dedupe table. */
export function migrateDedupe(state: StateDb): void {
  state.migrate('ingest.dedupe', DEDUPE_MIGRATIONS);
}

const key = (school: string, agent: string) => `${school}/${agent}`;

/** Adds sequences (and a mark) to a held set, in place; keeps at most `maxRanges` ranges. */
export function addHeld(s: HeldSequences, seqs: readonly number[], opts: { hwm?: number; maxRanges: number }): void {
  if (opts.hwm !== undefined && opts.hwm > s.hwm) s.hwm = opts.hwm;
  for (const q of seqs) if (q > s.hwm) insertSeq(s.ranges, q);
  // Drop ranges now under the mark, then let the mark swallow a range that touches it.
  while (s.ranges.length && (s.ranges[1] as number) <= s.hwm) s.ranges.splice(0, 2);
  while (s.ranges.length && (s.ranges[0] as number) <= s.hwm + 1) {
    s.hwm = Math.max(s.hwm, s.ranges[1] as number);
    s.ranges.splice(0, 2);
  }
  if (s.ranges.length > 2 * opts.maxRanges) s.ranges.splice(0, s.ranges.length - 2 * opts.maxRanges);
}

function insertSeq(r: number[], q: number): void {
  // Binary search the first range whose end ≥ q - 1.
  let lo = 0;
  let hi = r.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((r[2 * mid + 1] as number) < q - 1) lo = mid + 1;
    else hi = mid;
  }
  const i = 2 * lo;
  if (i < r.length && (r[i] as number) <= q + 1) {
    if (q >= (r[i] as number) && q <= (r[i + 1] as number)) return;
    if (q === (r[i] as number) - 1) r[i] = q;
    else r[i + 1] = q;
    // q may have joined this range to the next one.
    if (i + 2 < r.length && (r[i + 2] as number) <= (r[i + 1] as number) + 1) {
      r[i + 1] = Math.max(r[i + 1] as number, r[i + 3] as number);
      r.splice(i + 2, 2);
    }
    return;
  }
  r.splice(i, 0, q, q);
}

/** Whether a held set contains a sequence. */
export function holds(s: HeldSequences, q: number): boolean {
  if (q <= s.hwm) return true;
  const r = s.ranges;
  let lo = 0;
  let hi = r.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((r[2 * mid + 1] as number) < q) lo = mid + 1;
    else hi = mid;
  }
  return 2 * lo < r.length && (r[2 * lo] as number) <= q;
}

/** Text form of the ranges column: `from-to,from-to`. */
export const formatRanges = (r: readonly number[]): string => {
  const parts: string[] = [];
  for (let i = 0; i < r.length; i += 2) parts.push(r[i] === r[i + 1] ? String(r[i]) : `${r[i]}-${r[i + 1]}`);
  return parts.join(',');
};

/** Parses the ranges column; a damaged part is skipped (its sequences are replayed and overwritten). */
export function parseRanges(text: string): number[] {
  const out: number[] = [];
  if (!text) return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m) out.push(Number(m[1]), Number(m[2] ?? m[1]));
  }
  return out;
}

/** Upserts agents' held sets in the caller's transaction. */
export function putHeld(db: Sqlite, rows: Iterable<{ school: string; agent: string; held: HeldSequences }>): number {
  const put = db.prepare('INSERT INTO dedupe_agents (school, agent, hwm, ranges) VALUES (?, ?, ?, ?) ON CONFLICT (school, agent) DO UPDATE SET hwm = excluded.hwm, ranges = excluded.ranges');
  let n = 0;
  for (const r of rows) n += put.run(r.school, r.agent, r.held.hwm, formatRanges(r.held.ranges)).changes;
  return n;
}

export class DedupeStore {
  private readonly agents = new Map<string, HeldSequences>();
  // The newest not-yet-committed state of an agent, so two batches in one group build on each other.
  private readonly pending = new Map<string, HeldSequences>();
  private readonly maxRanges: number;
  private readonly put;
  private readonly row;

  constructor(private readonly opts: DedupeStoreOptions) {
    this.maxRanges = opts.maxRangesPerAgent ?? 64;
    migrateDedupe(opts.state);
    const db = opts.state.db;
    this.put = db.prepare('INSERT INTO dedupe_agents (school, agent, hwm, ranges) VALUES (?, ?, ?, ?) ON CONFLICT (school, agent) DO UPDATE SET hwm = excluded.hwm, ranges = excluded.ranges');
    this.row = db.prepare('SELECT hwm, ranges FROM dedupe_agents WHERE school = ? AND agent = ?');
  }

  /** Agents in memory (asked about since start). */
  get size(): number {
    return this.agents.size;
  }

  /** An agent's held set, read from its row the first time (an agent without a row holds nothing yet). */
  private held(school: string, agent: string): HeldSequences {
    const k = key(school, agent);
    let s = this.agents.get(k);
    if (!s) {
      const r = this.row.get(school, agent) as { hwm: number; ranges: string } | undefined;
      this.agents.set(k, (s = { hwm: r?.hwm ?? 0, ranges: r ? parseRanges(r.ranges) : [] }));
    }
    return s;
  }

  /** Whether the collector already holds this sequence. */
  has(school: string, agent: string, seq: number): boolean {
    return holds(this.held(school, agent), seq);
  }

  /** Every sequence up to this one is held. */
  heldThrough(school: string, agent: string): number {
    return this.held(school, agent).hwm;
  }

  /**
   * Records sequences as held (call after the sink confirmed them, before acknowledging). Resolves
   * once durable; rejects with the state database's StateDbError (retryable when the disk failed),
   * and then nothing of it is held.
   */
  async record(school: string, agent: string, seqs: readonly number[]): Promise<void> {
    if (!seqs.length) return;
    const k = key(school, agent);
    let next: HeldSequences | undefined;
    try {
      await this.opts.state.commit(() => {
        const base = this.pending.get(k) ?? this.held(school, agent);
        const s: HeldSequences = { hwm: base.hwm, ranges: [...base.ranges] };
        addHeld(s, seqs, { maxRanges: this.maxRanges });
        this.put.run(school, agent, s.hwm, formatRanges(s.ranges));
        this.pending.set(k, s);
        next = s;
      });
    } catch (e) {
      if (next && this.pending.get(k) === next) this.pending.delete(k);
      throw e;
    }
    if (!next) return;
    // Items of one group resolve in order, so the last state of this agent is set last.
    this.agents.set(k, next);
    if (this.pending.get(k) === next) this.pending.delete(k);
  }

  /** Nothing to release: the state database is closed by its owner. Kept for callers of the file store. */
  close(): void {}
}
