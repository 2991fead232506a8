/**
 * Per-school liveness from accepted reports: when the school last reported, what its internet targets
 * answered last, and its WAN port speed. Kept in memory, saved as one JSON file under
 * `<stateDir>/liveness/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../../../protocol/durable.js';
import type { Report } from '../../../protocol/index.js';

/** What the collector knows about one school's liveness. Times are the reports' `collectedAt`, ms. */
export interface Liveness {
  /** The newest report's collection time. */
  lastReportMs: number;
  /** Collection time of the newest report with a `ping` to an `internet` target; null if none yet. */
  internetAtMs: number | null;
  /** Lowest `loss_pct` over the internet targets of that report (< 100: a target answered). */
  internetLossPct: number | null;
  /** Largest `speed_bps` over the WAN interfaces of the newest report that had one; null if none yet. */
  wanSpeedBps: number | null;
  wanAtMs: number | null;
}

/** The file the state is saved in, under the collector's state directory. */
export function livenessFile(stateDir: string): string {
  return join(stateDir, 'liveness', 'liveness.json');
}

interface SavedState {
  v: 1;
  savedAtMs: number;
  /** school → [lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs]. */
  schools: Record<string, [number, number | null, number | null, number | null, number | null]>;
}

/** The facts one report carries about liveness. */
export function livenessOf(report: Report): Liveness {
  let loss: number | null = null;
  let speed: number | null = null;
  for (const m of report.measurements) {
    if (m.name === 'ping' && m.tags.role === 'internet') loss = loss === null ? m.fields.loss_pct : Math.min(loss, m.fields.loss_pct);
    else if (m.name === 'iface' && m.tags.role === 'wan' && m.fields.speed_bps !== undefined) {
      speed = speed === null ? m.fields.speed_bps : Math.max(speed, m.fields.speed_bps);
    }
  }
  return {
    lastReportMs: report.collectedAt,
    internetAtMs: loss === null ? null : report.collectedAt,
    internetLossPct: loss,
    wanSpeedBps: speed,
    wanAtMs: speed === null ? null : report.collectedAt,
  };
}

/** `b` folded into `a`: each fact keeps its newest value (reports from a spool may arrive out of order). */
export function mergeLiveness(a: Liveness | undefined, b: Liveness): Liveness {
  if (!a) return { ...b };
  const internetNewer = b.internetAtMs !== null && (a.internetAtMs === null || b.internetAtMs >= a.internetAtMs);
  const wanNewer = b.wanAtMs !== null && (a.wanAtMs === null || b.wanAtMs >= a.wanAtMs);
  return {
    lastReportMs: Math.max(a.lastReportMs, b.lastReportMs),
    internetAtMs: internetNewer ? b.internetAtMs : a.internetAtMs,
    internetLossPct: internetNewer ? b.internetLossPct : a.internetLossPct,
    wanSpeedBps: wanNewer ? b.wanSpeedBps : a.wanSpeedBps,
    wanAtMs: wanNewer ? b.wanAtMs : a.wanAtMs,
  };
}

/**
 * The time until which a school counts as online: its newest internet answer plus the window (the
 * report carrying it is then within the window too). Never online without an answering internet target.
 */
export function onlineUntilMs(l: Liveness | undefined, onlineWindowMs: number): number {
  if (!l || l.internetAtMs === null || l.internetLossPct === null || l.internetLossPct >= 100) return -Infinity;
  return Math.min(l.lastReportMs, l.internetAtMs) + onlineWindowMs;
}

/** The liveness of every school that ever reported, by school id. */
export class LivenessStore {
  private readonly bySchool = new Map<string, Liveness>();
  private dirty = false;

  get size(): number {
    return this.bySchool.size;
  }

  get(school: string): Liveness | undefined {
    return this.bySchool.get(school);
  }

  entries(): IterableIterator<[string, Liveness]> {
    return this.bySchool.entries();
  }

  /** Folds new facts into a school's liveness and returns the result. */
  apply(school: string, facts: Liveness): Liveness {
    const next = mergeLiveness(this.bySchool.get(school), facts);
    this.bySchool.set(school, next);
    this.dirty = true;
    return next;
  }

  /** Whether anything changed since the last save or load. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /** Saves to `<stateDir>/liveness/liveness.json` (temp file, fsync, rename). */
  save(stateDir: string, nowMs: number): void {
    const schools: SavedState['schools'] = {};
    for (const [id, l] of this.bySchool) schools[id] = [l.lastReportMs, l.internetAtMs, l.internetLossPct, l.wanSpeedBps, l.wanAtMs];
    const state: SavedState = { v: 1, savedAtMs: nowMs, schools };
    writeFileDurable(livenessFile(stateDir), JSON.stringify(state));
    this.dirty = false;
  }

  /**
   * Loads the saved state. Returns false when there is none (the caller then rebuilds from InfluxDB);
   * a file that cannot be read as state throws, so a corrupt file is never silently replaced.
   */
  load(stateDir: string): boolean {
    const file = livenessFile(stateDir);
    if (!existsSync(file)) return false;
    const state = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
    if (state?.v !== 1 || typeof state.schools !== 'object' || state.schools === null) {
      throw new Error(`${file}: not a liveness state file (expected {"v":1,"schools":{…}})`);
    }
    for (const [id, [lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs]] of Object.entries(state.schools)) {
      this.bySchool.set(id, { lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs });
    }
    this.dirty = false;
    return true;
  }
}
