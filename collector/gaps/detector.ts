/**
 * Classifies holes in one agent's data from the evidence the reports carry (see docs/schema.md, `gap`):
 * - `agent`: consecutive sequences whose collection times jump (the agent collected nothing);
 * - `link`: reports that arrive late (collected on time, delivered afterwards), when the collector was up;
 * - `collector`: late reports whose hole lies mostly in the collector's own downtime;
 * - `unknown`: sequences missing although the agent's spool was empty (never coming: dropped, lost).
 */
import type { Report } from '../../protocol/index.js';

export const GAP_CAUSES = ['link', 'agent', 'collector', 'unknown'] as const;
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
  intervalMs?: number;
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
    const delta = tb - ta;
    if (delta <= 0) continue;
    const interval = state.intervalMs;
    if (interval === undefined || delta < interval / 2.5) {
      // The first pair seeds the usual interval; a much shorter one means that seed spanned a hole
      // (an agent that stopped between its first two reports), so it starts over from the shorter one.
      state.intervalMs = delta;
    } else if (delta > 2.5 * interval) {
      gaps.push({ cause: 'agent', startMs: ta + interval, durationS: (delta - interval) / 1000, missingReports: Math.max(0, Math.round(delta / interval) - 1) });
    } else {
      state.intervalMs = Math.round(0.8 * interval + 0.2 * delta);
    }
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

function holeGap(h: { startMs: number; endMs: number }, downWithin: ObserveOptions['downWithin']): Gap {
  const span = Math.max(1, h.endMs - h.startMs);
  const cause: GapCause = downWithin(h.startMs, h.endMs) / span >= 0.5 ? 'collector' : 'link';
  return { cause, startMs: h.startMs, durationS: span / 1000, missingReports: 0 };
}
