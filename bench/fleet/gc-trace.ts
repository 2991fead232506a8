/**
 * GC pauses from a `node --trace-gc` log: the lines of one process's main isolate, within a window, as
 * the soak reports them (the pause a line gives is the time the main thread stopped for it; incremental
 * marking steps before a Mark-Compact are counted apart, they run between tasks).
 *
 *   [8421:0x21aff180]    97859 ms: Mark-Compact 569.9 (649.1) -> 217.9 (493.9) MB, 562.85 / 92.05 ms  (+ 454.2 ms in 759 steps …
 */

/** One GC line. */
export interface GcEvent {
  /** ms since the isolate started (≈ since the process started). */
  atMs: number;
  kind: 'Scavenge' | 'Mark-Compact' | 'Minor Mark-Sweep' | 'other';
  pauseMs: number;
  beforeMb: number;
  afterMb: number;
}

/** Pause figures of one kind. */
export interface GcKindFigures {
  count: number;
  maxPauseMs: number;
  totalPauseMs: number;
  /** Pauses of at least 50 ms. */
  over50: number;
}

const LINE = /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+) ms: (Scavenge|Mark-Compact|Minor Mark-Sweep|Mark-sweep)\S*(?: \([^)]*\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

/** The GC lines of process `pid`'s main isolate (the one with the most lines: workers have their own). */
export function parseGcTrace(log: string, pid: number): GcEvent[] {
  const byIsolate = new Map<string, GcEvent[]>();
  for (const line of log.split('\n')) {
    const m = LINE.exec(line);
    if (!m || Number(m[1]) !== pid) continue;
    const kind = m[4] === 'Mark-sweep' ? 'Mark-Compact' : (m[4] as GcEvent['kind']);
    const list = byIsolate.get(m[2] as string) ?? [];
    list.push({ atMs: Number(m[3]), kind, beforeMb: Number(m[5]), afterMb: Number(m[6]), pauseMs: Number(m[7]) });
    byIsolate.set(m[2] as string, list);
  }
  return [...byIsolate.values()].sort((a, b) => b.length - a.length)[0] ?? [];
}

/** Pause figures by kind of the events within [fromMs, toMs) of the isolate's start. */
export function gcFigures(events: readonly GcEvent[], fromMs: number, toMs: number): Record<string, GcKindFigures> {
  const out: Record<string, GcKindFigures> = {};
  for (const e of events) {
    if (e.atMs < fromMs || e.atMs >= toMs) continue;
    const f = (out[e.kind] ??= { count: 0, maxPauseMs: 0, totalPauseMs: 0, over50: 0 });
    f.count++;
    f.maxPauseMs = Math.max(f.maxPauseMs, e.pauseMs);
    f.totalPauseMs += e.pauseMs;
    if (e.pauseMs >= 50) f.over50++;
  }
  for (const f of Object.values(out)) f.totalPauseMs = Math.round(f.totalPauseMs);
  return out;
}
