/**
 * Which sequences of each agent the collector already holds, per (agent, epoch), surviving restarts.
 * An epoch is the agent state's random id (reports without one are the legacy epoch, `''`): a
 * reinstalled agent, one whose state was damaged, or a second box with the same agent id counts in its
 * own sequence space, so its reports are never taken for repeats. Per (agent, epoch): a
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
  /** Most ranges kept above the high-water mark per agent and epoch; the lowest are forgotten first. Default 64. */
  maxRangesPerAgent?: number;
  /**
   * Most epochs remembered per agent; beyond it the one seen least recently is forgotten (a late repeat of
   * its reports is then written again, which InfluxDB overwrites). Default 8.
   */
  maxEpochsPerAgent?: number;
}

/** One epoch of one agent: its held sequences and when its reports were collected and last seen. */
export interface EpochStream extends HeldSequences {
  epoch: string;
  /** Earliest and latest collection time of its reports, ms (undefined before the first). */
  firstMs?: number;
  lastMs?: number;
  /** Receive time of its last batch, ms. */
  seenMs: number;
}

/** What a batch of one epoch adds: sequences, and the span of their collection times. */
export interface RecordOptions {
  /** The epoch ('' or undefined: legacy). */
  epoch?: string;
  /** Collection times of the batch's reports: earliest and latest, ms. */
  fromMs?: number;
  toMs?: number;
  /** Receive time, ms. */
  atMs?: number;
}

/** Schema of the `ingest.dedupe` module. */
export const DEDUPE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'held sequences per agent',
    up: "CREATE TABLE dedupe_agents (school TEXT NOT NULL, agent TEXT NOT NULL, hwm INTEGER NOT NULL, ranges TEXT NOT NULL DEFAULT '', PRIMARY KEY (school, agent)) WITHOUT ROWID",
  },
  {
    version: 2,
    description: 'held sequences per agent and epoch, with the collection-time span of each epoch',
    up: [
      "CREATE TABLE dedupe_epochs (school TEXT NOT NULL, agent TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', hwm INTEGER NOT NULL, ranges TEXT NOT NULL DEFAULT '', first_ms INTEGER, last_ms INTEGER, seen_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (school, agent, epoch)) WITHOUT ROWID;",
      "INSERT INTO dedupe_epochs (school, agent, epoch, hwm, ranges) SELECT school, agent, '', hwm, ranges FROM dedupe_agents;",
      'DROP TABLE dedupe_agents;',
      'ALTER TABLE dedupe_epochs RENAME TO dedupe_agents;',
    ].join(' '),
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

const PUT =
  'INSERT INTO dedupe_agents (school, agent, epoch, hwm, ranges, first_ms, last_ms, seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (school, agent, epoch) DO UPDATE SET hwm = excluded.hwm, ranges = excluded.ranges, first_ms = excluded.first_ms, last_ms = excluded.last_ms, seen_ms = excluded.seen_ms';

/** Upserts agents' held sets (legacy epoch unless `epoch` is given) in the caller's transaction. */
export function putHeld(db: Sqlite, rows: Iterable<{ school: string; agent: string; epoch?: string; held: HeldSequences }>): number {
  const put = db.prepare(PUT);
  let n = 0;
  for (const r of rows) n += put.run(r.school, r.agent, r.epoch ?? '', r.held.hwm, formatRanges(r.held.ranges), null, null, 0).changes;
  return n;
}

export class DedupeStore {
  /** Per agent, its remembered epochs (at most `maxEpochs`). */
  private readonly agents = new Map<string, EpochStream[]>();
  // The newest not-yet-committed epochs of an agent, so two batches in one group build on each other.
  private readonly pending = new Map<string, EpochStream[]>();
  private readonly maxRanges: number;
  private readonly maxEpochs: number;
  private readonly put;
  private readonly rows;
  private readonly forget;

  constructor(private readonly opts: DedupeStoreOptions) {
    this.maxRanges = opts.maxRangesPerAgent ?? 64;
    this.maxEpochs = Math.max(1, opts.maxEpochsPerAgent ?? 8);
    migrateDedupe(opts.state);
    const db = opts.state.db;
    this.put = db.prepare(PUT);
    this.rows = db.prepare('SELECT epoch, hwm, ranges, first_ms AS firstMs, last_ms AS lastMs, seen_ms AS seenMs FROM dedupe_agents WHERE school = ? AND agent = ?');
    this.forget = db.prepare('DELETE FROM dedupe_agents WHERE school = ? AND agent = ? AND epoch = ?');
  }

  /** Agents in memory (asked about since start). */
  get size(): number {
    return this.agents.size;
  }

  /** An agent's epochs, read from its rows the first time (one indexed range read). */
  private streamsOf(school: string, agent: string): EpochStream[] {
    const k = key(school, agent);
    let s = this.agents.get(k);
    if (!s) {
      const rows = this.rows.all(school, agent) as { epoch: string; hwm: number; ranges: string; firstMs: number | null; lastMs: number | null; seenMs: number }[];
      s = rows.map((r) => ({ epoch: r.epoch, hwm: r.hwm, ranges: parseRanges(r.ranges), firstMs: r.firstMs ?? undefined, lastMs: r.lastMs ?? undefined, seenMs: r.seenMs }));
      this.agents.set(k, s);
    }
    return s;
  }

  /** The held set of one epoch (empty when unknown). */
  private held(school: string, agent: string, epoch: string): HeldSequences {
    return this.streamsOf(school, agent).find((e) => e.epoch === epoch) ?? { hwm: 0, ranges: [] };
  }

  /** Whether the collector already holds this sequence of this epoch (default: legacy). */
  has(school: string, agent: string, seq: number, epoch = ''): boolean {
    return holds(this.held(school, agent, epoch), seq);
  }

  /** Every sequence of the epoch up to this one is held. */
  heldThrough(school: string, agent: string, epoch = ''): number {
    return this.held(school, agent, epoch).hwm;
  }

  /** The epochs remembered for an agent, as committed. */
  epochs(school: string, agent: string): readonly EpochStream[] {
    return this.streamsOf(school, agent);
  }

  /**
   * Records sequences of one epoch as held (call after the sink confirmed them, before acknowledging).
   * Resolves once durable; rejects with the state database's StateDbError (retryable when the disk
   * failed), and then nothing of it is held. A new epoch beyond `maxEpochsPerAgent` forgets the epoch seen
   * least recently, in the same transaction.
   */
  async record(school: string, agent: string, seqs: readonly number[], opts: RecordOptions = {}): Promise<void> {
    if (!seqs.length) return;
    const k = key(school, agent);
    const epoch = opts.epoch ?? '';
    let next: EpochStream[] | undefined;
    try {
      await this.opts.state.commit(() => {
        const base = this.pending.get(k) ?? this.streamsOf(school, agent);
        const old = base.find((e) => e.epoch === epoch);
        const s: EpochStream = old ? { ...old, ranges: [...old.ranges] } : { epoch, hwm: 0, ranges: [], seenMs: 0 };
        addHeld(s, seqs, { maxRanges: this.maxRanges });
        if (opts.fromMs !== undefined) s.firstMs = Math.min(s.firstMs ?? opts.fromMs, opts.fromMs);
        if (opts.toMs !== undefined) s.lastMs = Math.max(s.lastMs ?? opts.toMs, opts.toMs);
        s.seenMs = Math.max(s.seenMs, opts.atMs ?? 0);
        const list = base.filter((e) => e.epoch !== epoch);
        while (list.length >= this.maxEpochs) {
          const oldest = list.reduce((a, b) => (b.seenMs < a.seenMs ? b : a));
          list.splice(list.indexOf(oldest), 1);
          this.forget.run(school, agent, oldest.epoch);
        }
        list.push(s);
        this.put.run(school, agent, epoch, s.hwm, formatRanges(s.ranges), s.firstMs ?? null, s.lastMs ?? null, s.seenMs);
        this.pending.set(k, list);
        next = list;
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

/** What ingest needs of a ledger to work per epoch (DedupeStore is one). */
export interface EpochLedger {
  has(school: string, agent: string, seq: number, epoch?: string): boolean;
  record(school: string, agent: string, seqs: readonly number[], opts?: RecordOptions): void | Promise<void>;
}

/** A report's place in its agent's sequence spaces: `<epoch>/<seq>`. */
export const streamSeq = (r: { seq: number; epoch?: string }): string => `${r.epoch ?? ''}/${r.seq}`;

/** Up to this many reports, freshReports compares them pairwise. */
const SMALL_BATCH = 8;

/** The reports of a batch the ledger does not hold yet, in order; a batch that repeats a report counts it once. */
export function freshReports<R extends { seq: number; epoch?: string }>(ledger: EpochLedger | undefined, school: string, agent: string, reports: readonly R[]): R[] {
  // Most batches hold a few reports: repeats are found by comparing, without a key string per report.
  if (reports.length <= SMALL_BATCH) {
    const out: R[] = [];
    for (const r of reports) {
      const epoch = r.epoch ?? '';
      if (out.some((o) => o.seq === r.seq && (o.epoch ?? '') === epoch) || ledger?.has(school, agent, r.seq, epoch)) continue;
      out.push(r);
    }
    return out;
  }
  const seen = new Set<string>();
  return reports.filter((r) => {
    const k = streamSeq(r);
    if (seen.has(k) || ledger?.has(school, agent, r.seq, r.epoch ?? '')) return false;
    seen.add(k);
    return true;
  });
}

/** Records a batch's written reports, one group per epoch with its collection-time span. */
export async function recordByEpoch(ledger: EpochLedger, school: string, agent: string, reports: readonly { seq: number; epoch?: string; collectedAt: number }[], atMs: number): Promise<void> {
  const groups = new Map<string, { seqs: number[]; fromMs: number; toMs: number }>();
  for (const r of reports) {
    const e = r.epoch ?? '';
    const g = groups.get(e) ?? { seqs: [], fromMs: r.collectedAt, toMs: r.collectedAt };
    g.seqs.push(r.seq);
    g.fromMs = Math.min(g.fromMs, r.collectedAt);
    g.toMs = Math.max(g.toMs, r.collectedAt);
    groups.set(e, g);
  }
  await Promise.all([...groups].map(([epoch, g]) => ledger.record(school, agent, g.seqs, { epoch, fromMs: g.fromMs, toMs: g.toMs, atMs })));
}
