/**
 * Classifies holes in one agent's data from the evidence the reports carry (see docs/schema.md, `gap`):
 * - `agent`: consecutive sequences whose collection times jump (the agent collected nothing), judged
 *   against the usual interval, the median of the last `MAX_DELTAS` intervals (so it follows a schedule
 *   change both ways, and a few quick `once` runs do not make every later minute look like a hole). A jump
 *   is confirmed by the interval after it: back to the usual one, it was a hole; about as long again, the
 *   schedule changed and no gap is written;
 * - `agent_reset`: a new epoch of an agent (its state was lost: reflashed, reinstalled, a damaged `seq`):
 *   the hole between the last report of its previous epoch and the first of the new one (module.ts);
 * - `agent_clone`: two epochs of one agent reporting over the same time (one credential on two boxes, a
 *   cloned SD card): both streams are kept and this marks it (module.ts);
 * - `link`: reports that arrive late (collected on time, delivered afterwards), when the collector was up;
 * - `collector`: late reports whose hole lies mostly in the collector's own downtime;
 * - `unknown`: sequences missing although the agent's spool was empty (never coming: dropped, lost);
 * - `proxy_down`: an `agent` or `link` hole in a county proxy's stream of a school (module.ts): the proxy
 *   collected nothing, or could not deliver until later, so every school it watches has the hole; the
 *   school's own link is not to blame.
 */
import type { Report } from '../../protocol/index.js';

export const GAP_CAUSES = ['link', 'agent', 'collector', 'unknown', 'agent_reset', 'agent_clone', 'proxy_down'] as const;

/** Intervals the usual-interval median is taken over. */
export const MAX_DELTAS = 9;
/** A jump longer than this many usual intervals is a suspected hole. */
const HOLE_FACTOR = 2.5;
/** The interval after a jump within this share of it says the schedule changed. */
const SAME_SHARE = 0.25;
export type GapCause = (typeof GAP_CAUSES)[number];

/** One classified hole. `startMs` identifies it: re-emitting the same hole overwrites its point. */
export interface Gap {
  cause: GapCause;
  startMs: number;
  durationS: number;
  /** Reports expected in the hole that the collector does not hold (0 for a hole that later filled). */
  missingReports: number;
}

/**
 * Persistable per-agent state, small and of fixed size: the usual interval, the open delivery hole,
 * how far missing sequences were classified, and a few recent (seq, collectedAt) pairs — the highest
 * sequences and the latest arrivals — which give the neighbours of a batch's first and last report.
 */
export interface AgentGapState {
  /** Recent pairs, flat: [seq, collectedAt, seq, collectedAt, …]; at most `maxRemembered` pairs. */
  recent: number[];
  /** The usual interval: the median of `deltas`. */
  intervalMs?: number;
  /** The last intervals between consecutive sequences, ms, at most MAX_DELTAS. */
  deltas?: number[];
  /** A jump waiting for the next interval to say whether it was a hole or a new schedule. */
  pending?: { startMs: number; deltaMs: number; intervalMs: number };
  hole?: { startMs: number; endMs: number };
  /** Highest sequence below which missing sequences were already classified. */
  checkedSeq: number;
}

export interface ObserveOptions {
  state: AgentGapState;
  /** Reports newly written for this agent. */
  reports: readonly Report[];
  receivedAtMs: number;
  /** Whether the collector holds a sequence of this agent. */
  held: (seq: number) => boolean;
  /** A report later than this (receive time minus collection time, ms) was delayed on its way. */
  lateAfterMs: number;
  /** Milliseconds of [from, to) the collector was down. */
  downWithin: (fromMs: number, toMs: number) => number;
  /** (seq, collectedAt) pairs remembered per agent: half the highest sequences, half the latest arrivals. Default 16. */
  maxRemembered?: number;
}

export function emptyAgentGapState(): AgentGapState {
  return { recent: [], checkedSeq: 0 };
}

/** The collection times of the remembered pairs plus a batch, by sequence. */
function timesOf(state: AgentGapState, sorted: readonly Report[]): Map<number, number> {
  const times = new Map<number, number>();
  for (let i = 0; i + 1 < state.recent.length; i += 2) times.set(state.recent[i] as number, state.recent[i + 1] as number);
  for (const r of sorted) times.set(r.seq, r.collectedAt);
  return times;
}

/** What to remember after a batch: the latest arrivals (a backlog's edge) and the highest sequences seen. */
function remember(state: AgentGapState, times: Map<number, number>, sorted: readonly Report[], max: number): number[] {
  const half = Math.ceil(max / 2);
  const arrivals: number[] = [];
  const kept = new Set<number>();
  const keep = (q: number, into: number[]) => {
    if (kept.has(q)) return;
    kept.add(q);
    into.push(q);
  };
  for (let i = sorted.length - 1; i >= 0 && arrivals.length < half; i--) keep((sorted[i] as Report).seq, arrivals);
  for (let i = state.recent.length - 2; i >= 0 && arrivals.length < half; i -= 2) keep(state.recent[i] as number, arrivals);
  const highest: number[] = [];
  for (const q of [...times.keys()].sort((x, y) => y - x)) {
    if (kept.size >= max) break;
    keep(q, highest);
  }
  // The latest arrival is stored last, so the next batch reads arrivals from the end.
  return [...highest.reverse(), ...arrivals.reverse()].flatMap((q) => [q, times.get(q) as number]);
}

/** Updates `state` with a batch and returns the gaps it reveals (or extends). */
export function observeBatch(opts: ObserveOptions): Gap[] {
  const { state } = opts;
  const sorted = [...opts.reports].sort((a, b) => a.seq - b.seq);
  const times = timesOf(state, sorted);
  const gaps: Gap[] = [];

  // agent: consecutive sequences, collection times jump.
  const pairs = new Set<number>();
  for (const r of sorted) pairs.add(r.seq - 1).add(r.seq);
  for (const a of [...pairs].sort((x, y) => x - y)) {
    const ta = times.get(a);
    const tb = times.get(a + 1);
    if (ta === undefined || tb === undefined) continue;
    const gap = judgeInterval(state, ta, tb - ta);
    if (gap) gaps.push(gap);
  }
  const interval = state.intervalMs ?? 60_000;

  // link / collector: reports collected on time but delivered late; one hole grows while its backlog drains.
  const late = sorted.filter((r) => opts.receivedAtMs - r.collectedAt > opts.lateAfterMs).sort((a, b) => a.collectedAt - b.collectedAt);
  let touched = false;
  for (const r of late) {
    const h = state.hole;
    if (h && r.collectedAt >= h.startMs && r.collectedAt <= h.endMs + 2 * interval) {
      h.endMs = Math.max(h.endMs, r.collectedAt + interval);
    } else if (h && r.collectedAt < h.startMs && r.collectedAt >= h.startMs - 2 * interval) {
      h.startMs = r.collectedAt;
    } else {
      if (h && touched) gaps.push(holeGap(h, opts.downWithin));
      state.hole = { startMs: r.collectedAt, endMs: r.collectedAt + interval };
    }
    touched = true;
  }
  if (touched && state.hole) gaps.push(holeGap(state.hole, opts.downWithin));

  // unknown: the agent's spool was empty when it collected this report, so every earlier sequence was
  // sent or dropped; those the collector does not hold are never coming.
  for (const r of sorted) {
    const agentM = r.measurements.find((m) => m.name === 'agent');
    if (!agentM || (agentM.fields as { spool_reports?: number }).spool_reports !== 0) continue;
    const from = Math.max(state.checkedSeq + 1, r.seq - 100_000, 1);
    let run: number[] = [];
    const flush = () => {
      if (!run.length) return;
      const first = run[0] as number;
      const last = run.at(-1) as number;
      const before = times.get(first - 1);
      const after = times.get(last + 1);
      const startMs = before !== undefined ? before + interval : (after ?? r.collectedAt) - run.length * interval;
      const endMs = after ?? startMs + run.length * interval;
      gaps.push({ cause: 'unknown', startMs, durationS: Math.max(0, endMs - startMs) / 1000, missingReports: run.length });
      run = [];
    };
    for (let s = from; s < r.seq; s++) {
      if (opts.held(s)) flush();
      else run.push(s);
    }
    flush();
    state.checkedSeq = Math.max(state.checkedSeq, r.seq);
  }

  state.recent = remember(state, times, sorted, opts.maxRemembered ?? 16);
  return gaps;
}

/** The lower median: robust to a few outliers either way. */
function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function addDelta(state: AgentGapState, deltaMs: number): void {
  const d = state.deltas ?? (state.intervalMs !== undefined ? [state.intervalMs] : []);
  d.push(deltaMs);
  if (d.length > MAX_DELTAS) d.splice(0, d.length - MAX_DELTAS);
  state.deltas = d;
  state.intervalMs = median(d);
}

const agentGap = (p: NonNullable<AgentGapState['pending']>): Gap => ({
  cause: 'agent',
  startMs: p.startMs + p.intervalMs,
  durationS: (p.deltaMs - p.intervalMs) / 1000,
  missingReports: Math.max(0, Math.round(p.deltaMs / p.intervalMs) - 1),
});

/**
 * One interval between consecutive sequences (collected at `startMs`, then `deltaMs` later): settles a
 * pending jump (a hole when this interval is usual again, a new schedule when it is about as long), holds a
 * new jump, or adds to the usual interval. Returns the hole it confirms.
 */
function judgeInterval(state: AgentGapState, startMs: number, deltaMs: number): Gap | undefined {
  if (deltaMs <= 0) return undefined;
  if (state.deltas === undefined && state.intervalMs === undefined) {
    addDelta(state, deltaMs);
    return undefined;
  }
  const interval = state.intervalMs ?? (median(state.deltas ?? []) as number);
  let confirmed: Gap | undefined;
  const p = state.pending;
  if (p) {
    state.pending = undefined;
    if (Math.abs(deltaMs - p.deltaMs) <= SAME_SHARE * p.deltaMs) {
      // The schedule changed to the jump's length: the new interval is the usual one from now on.
      state.deltas = [p.deltaMs, deltaMs];
      state.intervalMs = median(state.deltas);
      return undefined;
    }
    if (deltaMs > 2 * p.intervalMs || deltaMs < p.intervalMs / 2) {
      // Neither the old interval nor the jump's: the schedule changed (e.g. from manual `once` runs to a
      // cron), so what the jump spanned cannot be told from a hole. Start over from the new interval.
      state.deltas = [deltaMs];
      state.intervalMs = deltaMs;
      return undefined;
    }
    confirmed = agentGap(p);
    if (confirmed.missingReports < 1) confirmed = undefined;
  }
  if (deltaMs > HOLE_FACTOR * interval) state.pending = { startMs, deltaMs, intervalMs: interval };
  else addDelta(state, deltaMs);
  return confirmed;
}

function holeGap(h: { startMs: number; endMs: number }, downWithin: ObserveOptions['downWithin']): Gap {
  const span = Math.max(1, h.endMs - h.startMs);
  const cause: GapCause = downWithin(h.startMs, h.endMs) / span >= 0.5 ? 'collector' : 'link';
  return { cause, startMs: h.startMs, durationS: span / 1000, missingReports: 0 };
}
