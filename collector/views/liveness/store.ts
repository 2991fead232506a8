/**
 * Per-school liveness from accepted reports: when the school last reported, what its internet targets
 * answered last, its WAN port speed and its last measured bandwidth (throughput probe). Kept in memory; the schools changed since the last flush are
 * upserted into the state database (collector/views/state.ts). The JSON file of earlier versions is
 * migrated once.
 */
import { join } from 'node:path';
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
  /**
   * Highest `down_mbps` of the `throughput` tests (result_code 0) of the newest report that had one: the
   * measured bandwidth, Mbit/s; null or absent if never measured.
   */
  throughputMbps?: number | null;
  /** Collection time of that report, ms. */
  throughputAtMs?: number | null;
  /**
   * The county proxy whose report gave the internet facts (its agent id), when it was a proxy's: from
   * the county data centre the school's reachability is its gateway's answer (ping role `gateway`), so
   * `internetLossPct` is that ping's loss. Absent or null: the school's own agent.
   */
  via?: string | null;
}

/** The file earlier versions saved the state in (migrated once into the state database). */
export function livenessFile(stateDir: string): string {
  return join(stateDir, 'liveness', 'liveness.json');
}

/** The format of that file. */
export interface SavedLivenessFile {
  v: 1;
  savedAtMs: number;
  /** school → [lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs]. */
  schools: Record<string, [number, number | null, number | null, number | null, number | null]>;
}

/**
 * The facts one report carries about liveness. A county proxy's report (`agentKind: "proxy"`) says the
 * school is reachable when its gateway answered the proxy: its `gateway` pings stand for the internet
 * targets a school's own agent probes (the proxy's own internet targets say nothing about the school).
 */
export function livenessOf(report: Report): Liveness {
  const proxy = report.agentKind === 'proxy';
  const reachRole = proxy ? 'gateway' : 'internet';
  let loss: number | null = null;
  let speed: number | null = null;
  let down: number | null = null;
  for (const m of report.measurements) {
    if (m.name === 'throughput' && m.fields.result_code === 0 && m.fields.down_mbps !== undefined) down = Math.max(down ?? 0, m.fields.down_mbps);
    if (m.name === 'ping' && m.tags.role === reachRole) loss = loss === null ? m.fields.loss_pct : Math.min(loss, m.fields.loss_pct);
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
    throughputMbps: down,
    throughputAtMs: down === null ? null : report.collectedAt,
    ...(proxy && loss !== null && { via: report.agent }),
  };
}

/** `b` folded into `a`: each fact keeps its newest value (reports from a spool may arrive out of order). */
export function mergeLiveness(a: Liveness | undefined, b: Liveness): Liveness {
  if (!a) return { ...b, throughputMbps: b.throughputMbps ?? null, throughputAtMs: b.throughputAtMs ?? null };
  const internetNewer = b.internetAtMs !== null && (a.internetAtMs === null || b.internetAtMs >= a.internetAtMs);
  const wanNewer = b.wanAtMs !== null && (a.wanAtMs === null || b.wanAtMs >= a.wanAtMs);
  const bAt = b.throughputAtMs ?? null;
  const aAt = a.throughputAtMs ?? null;
  const throughputNewer = bAt !== null && (aAt === null || bAt >= aAt);
  return {
    lastReportMs: Math.max(a.lastReportMs, b.lastReportMs),
    internetAtMs: internetNewer ? b.internetAtMs : a.internetAtMs,
    internetLossPct: internetNewer ? b.internetLossPct : a.internetLossPct,
    ...((internetNewer ? b.via : a.via) && { via: internetNewer ? b.via : a.via }),
    wanSpeedBps: wanNewer ? b.wanSpeedBps : a.wanSpeedBps,
    wanAtMs: wanNewer ? b.wanAtMs : a.wanAtMs,
    throughputMbps: throughputNewer ? (b.throughputMbps ?? null) : (a.throughputMbps ?? null),
    throughputAtMs: throughputNewer ? bAt : aAt,
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
  private dirty = new Set<string>();

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
    this.dirty.add(school);
    return next;
  }

  /** Puts a saved liveness back as it was (load at start; not marked changed). */
  restore(school: string, l: Liveness): void {
    this.bySchool.set(school, l);
  }

  /** Whether anything changed since the last `takeDirty()`. */
  get isDirty(): boolean {
    return this.dirty.size > 0;
  }

  /** The schools changed since the last call, and forgets them. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  /** Marks schools changed again (their save failed). */
  markDirty(schools: Iterable<string>): void {
    for (const s of schools) if (this.bySchool.has(s)) this.dirty.add(s);
  }
}
