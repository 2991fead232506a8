/**
 * What the alert rules need to know about each school, folded in from accepted reports in O(1) per
 * report: when an internet target last answered, and per streak rule since when its condition has
 * held. Column arrays indexed by a slot per school that ever reported (bounded by the registry:
 * ingest refuses unregistered schools), grown by doubling.
 */
import type { Report } from '../../protocol/index.js';

/** A copy of `a` with room for `capacity` slots, the new ones NaN. */
function grown(a: Float64Array, capacity: number): Float64Array {
  const b = new Float64Array(capacity).fill(NaN);
  b.set(a);
  return b;
}

/** Since when a condition holds without interruption, per slot (NaN: it does not), and the newest sample's time. */
export class Streaks {
  since: Float64Array;
  last: Float64Array;
  /** The newest sample's value (for the summaries). */
  value: Float64Array;

  constructor(capacity: number) {
    this.since = new Float64Array(capacity).fill(NaN);
    this.last = new Float64Array(capacity).fill(NaN);
    this.value = new Float64Array(capacity).fill(NaN);
  }

  grow(capacity: number): void {
    this.since = grown(this.since, capacity);
    this.last = grown(this.last, capacity);
    this.value = grown(this.value, capacity);
  }

  /** One sample at `atMs`; an older sample than the newest (a spool replay) does not change the streak. */
  update(slot: number, over: boolean, value: number, atMs: number): void {
    const last = this.last[slot] as number;
    if (atMs < last) return;
    this.last[slot] = atMs;
    this.value[slot] = value;
    if (!over) this.since[slot] = NaN;
    else if (Number.isNaN(this.since[slot])) this.since[slot] = atMs;
  }
}

/** The figures one report gives the rules; NaN where it has none. */
export interface ReportFigures {
  /** Lowest loss over the internet targets (< 100: the school is reachable). */
  lossPct: number;
  /** Lowest average RTT over internet targets that answered. */
  rttMs: number;
  jitterMs: number;
  /** Largest spool backlog over the report's agent measurements. */
  spoolReports: number;
  /** The agent version (undefined without an agent measurement). */
  version: string | undefined;
  /** Lowest value of each modem field over the report's modems. */
  modem: Map<string, number>;
}

/** The lower of a running minimum (NaN: none yet) and a value that may be absent. */
function min(a: number, b: number | undefined): number {
  return b === undefined ? a : Number.isNaN(a) ? b : Math.min(a, b);
}

/** Extracts the figures of one report. */
export function figuresOf(report: Report): ReportFigures {
  let loss = NaN;
  let rtt = NaN;
  let jitter = NaN;
  let spool = NaN;
  let version: string | undefined;
  const modem = new Map<string, number>();
  for (const m of report.measurements) {
    if (m.name === 'ping') {
      if (m.tags.role !== 'internet') continue;
      loss = min(loss, m.fields.loss_pct);
      // A reply came back (loss < 100, as the stored data says it: `received` is not stored).
      if (m.fields.loss_pct < 100) {
        rtt = min(rtt, m.fields.rtt_avg_ms);
        jitter = min(jitter, m.fields.jitter_ms);
      }
    } else if (m.name === 'agent') {
      spool = Number.isNaN(spool) ? m.fields.spool_reports : Math.max(spool, m.fields.spool_reports);
      version = m.tags.version;
    } else if (m.name === 'modem') {
      for (const [k, v] of Object.entries(m.fields)) modem.set(k, min(modem.get(k) ?? NaN, v));
    }
  }
  return { lossPct: loss, rttMs: rtt, jitterMs: jitter, spoolReports: spool, version, modem };
}

/** Per-school facts shared by the rules. */
export class SchoolFacts {
  private readonly slots = new Map<string, number>();
  private capacity: number;
  /** Newest time an internet target answered (loss < 100); NaN if never. */
  lastGoodMs: Float64Array;
  /** Oldest report time seen (offline "since" for a school that never answered). */
  firstSeenMs: Float64Array;
  /** Newest report time. */
  lastReportMs: Float64Array;
  /** Newest spool backlog, for the "not shrinking" test. */
  spool: Float64Array;
  readonly versions: (string | undefined)[] = [];
  private readonly streaks: Streaks[] = [];

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    this.lastGoodMs = new Float64Array(initialCapacity).fill(NaN);
    this.firstSeenMs = new Float64Array(initialCapacity).fill(NaN);
    this.lastReportMs = new Float64Array(initialCapacity).fill(NaN);
    this.spool = new Float64Array(initialCapacity).fill(NaN);
  }

  get size(): number {
    return this.slots.size;
  }

  /** A new streak column (one per streak rule). */
  addStreaks(): Streaks {
    const s = new Streaks(this.capacity);
    this.streaks.push(s);
    return s;
  }

  /** The school's slot, if it ever reported (or was seeded). */
  slotOf(school: string): number | undefined {
    return this.slots.get(school);
  }

  /** The school's slot, created on first use. */
  slot(school: string): number {
    let s = this.slots.get(school);
    if (s !== undefined) return s;
    s = this.slots.size;
    if (s >= this.capacity) this.grow(this.capacity * 2);
    this.slots.set(school, s);
    return s;
  }

  private grow(capacity: number): void {
    this.lastGoodMs = grown(this.lastGoodMs, capacity);
    this.firstSeenMs = grown(this.firstSeenMs, capacity);
    this.lastReportMs = grown(this.lastReportMs, capacity);
    this.spool = grown(this.spool, capacity);
    for (const s of this.streaks) s.grow(capacity);
    this.capacity = capacity;
  }

  /** Seeds a school from saved liveness (start-up): its newest answering report and newest report. */
  seed(school: string, lastGoodMs: number | null, lastReportMs: number): void {
    const s = this.slot(school);
    if (lastGoodMs !== null) this.lastGoodMs[s] = Math.max(this.lastGoodMs[s] || -Infinity, lastGoodMs);
    this.lastReportMs[s] = Math.max(this.lastReportMs[s] || -Infinity, lastReportMs);
    if (Number.isNaN(this.firstSeenMs[s])) this.firstSeenMs[s] = lastReportMs;
  }

  /** Folds the liveness part of a report in; returns the slot. */
  apply(school: string, f: ReportFigures, atMs: number): number {
    const s = this.slot(school);
    if (f.lossPct < 100 && !(atMs <= (this.lastGoodMs[s] as number))) this.lastGoodMs[s] = atMs;
    if (!(atMs <= (this.lastReportMs[s] as number))) {
      this.lastReportMs[s] = atMs;
      if (f.version !== undefined) this.versions[s] = f.version;
    }
    if (!(atMs >= (this.firstSeenMs[s] as number))) this.firstSeenMs[s] = atMs;
    return s;
  }
}
