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

/** Fields of a school's row in the store's columns; NaN stands for null. */
const F = { last: 0, internetAt: 1, loss: 2, wanSpeed: 3, wanAt: 4, tpMbps: 5, tpAt: 6 } as const;
const NF = 7;

const col = (v: number | null | undefined): number => (v === null || v === undefined ? NaN : v);
const val = (v: number): number | null => (Number.isNaN(v) ? null : v);
/** Whether a fact stamped `at` replaces the stored one stamped `held`: NaN (null) compares false, so a fact with a time is newer than none, and none is never newer. */
const newer = (at: number | null | undefined, held: number): boolean => at !== null && at !== undefined && !(held > at);

/**
 * The liveness of every school that ever reported, by school id. Held in flat columns (a Float64Array
 * row per school, NaN for null), not an object per school: a report updates its school's row in place,
 * where a new object replacing the stored one made every report leave an old-to-young pointer for the
 * scavenger and, a minute later, a promoted object for mark-compact to free (issue 11). `get()` and
 * `entries()` hand out fresh objects; changing one does not change the store.
 */
export class LivenessStore {
  private readonly slots = new Map<string, number>();
  /** School id of each slot (the first string seen for it: the dirty set holds no per-report strings). */
  private readonly ids: string[] = [];
  private cols = new Float64Array(NF * 1024);
  /** The county proxy of each slot's internet facts, when they were a proxy's (sparse). */
  private readonly via: (string | undefined)[] = [];
  private dirtyFlag = new Uint8Array(1024);
  /** The changed slots, in order, `dirtyCount` of them (a typed array: no list grown and dropped every flush). */
  private dirtyList = new Int32Array(1024);
  private dirtyCount = 0;

  get size(): number {
    return this.ids.length;
  }

  get(school: string): Liveness | undefined {
    const i = this.slots.get(school);
    return i === undefined ? undefined : this.row(i);
  }

  *entries(): IterableIterator<[string, Liveness]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i] as string, this.row(i)];
  }

  private row(i: number): Liveness {
    const c = this.cols;
    const o = i * NF;
    const via = this.via[i];
    return {
      lastReportMs: c[o + F.last] as number,
      internetAtMs: val(c[o + F.internetAt] as number),
      internetLossPct: val(c[o + F.loss] as number),
      wanSpeedBps: val(c[o + F.wanSpeed] as number),
      wanAtMs: val(c[o + F.wanAt] as number),
      throughputMbps: val(c[o + F.tpMbps] as number),
      throughputAtMs: val(c[o + F.tpAt] as number),
      ...(via && { via }),
    };
  }

  /** The school's slot, made (and the columns grown) when it is new. */
  private slot(school: string): number {
    let i = this.slots.get(school);
    if (i !== undefined) return i;
    i = this.ids.length;
    if ((i + 1) * NF > this.cols.length) {
      const cols = new Float64Array(this.cols.length * 2);
      cols.set(this.cols);
      this.cols = cols;
      const flags = new Uint8Array(this.dirtyFlag.length * 2);
      flags.set(this.dirtyFlag);
      this.dirtyFlag = flags;
      const list = new Int32Array(this.dirtyList.length * 2);
      list.set(this.dirtyList);
      this.dirtyList = list;
    }
    this.slots.set(school, i);
    this.ids.push(school);
    this.via.push(undefined);
    return i;
  }

  private write(i: number, l: Liveness): void {
    const c = this.cols;
    const o = i * NF;
    c[o + F.last] = l.lastReportMs;
    c[o + F.internetAt] = col(l.internetAtMs);
    c[o + F.loss] = col(l.internetLossPct);
    c[o + F.wanSpeed] = col(l.wanSpeedBps);
    c[o + F.wanAt] = col(l.wanAtMs);
    c[o + F.tpMbps] = col(l.throughputMbps);
    c[o + F.tpAt] = col(l.throughputAtMs);
    this.via[i] = l.via ?? undefined;
  }

  /** Folds new facts into a school's liveness (each fact keeps its newest value, as mergeLiveness() does). */
  apply(school: string, facts: Liveness): void {
    const known = this.slots.has(school);
    const i = this.slot(school);
    this.markSlot(i);
    if (!known) return this.write(i, facts);
    const c = this.cols;
    const o = i * NF;
    c[o + F.last] = Math.max(c[o + F.last] as number, facts.lastReportMs);
    if (newer(facts.internetAtMs, c[o + F.internetAt] as number)) {
      c[o + F.internetAt] = facts.internetAtMs as number;
      c[o + F.loss] = col(facts.internetLossPct);
      this.via[i] = facts.via ?? undefined;
    }
    if (newer(facts.wanAtMs, c[o + F.wanAt] as number)) {
      c[o + F.wanAt] = facts.wanAtMs as number;
      c[o + F.wanSpeed] = col(facts.wanSpeedBps);
    }
    if (newer(facts.throughputAtMs, c[o + F.tpAt] as number)) {
      c[o + F.tpAt] = facts.throughputAtMs as number;
      c[o + F.tpMbps] = col(facts.throughputMbps);
    }
  }

  /** Puts a saved liveness back as it was (load at start; not marked changed). */
  restore(school: string, l: Liveness): void {
    this.write(this.slot(school), l);
  }

  private markSlot(i: number): void {
    if (this.dirtyFlag[i]) return;
    this.dirtyFlag[i] = 1;
    this.dirtyList[this.dirtyCount++] = i;
  }

  /** Whether anything changed since the last `takeDirty()`. */
  get isDirty(): boolean {
    return this.dirtyCount > 0;
  }

  /** The schools changed since the last call, and forgets them. */
  takeDirty(): Set<string> {
    const d = new Set<string>();
    for (let k = 0; k < this.dirtyCount; k++) {
      const i = this.dirtyList[k] as number;
      this.dirtyFlag[i] = 0;
      d.add(this.ids[i] as string);
    }
    this.dirtyCount = 0;
    return d;
  }

  /** Marks schools changed again (their save failed). */
  markDirty(schools: Iterable<string>): void {
    for (const s of schools) {
      const i = this.slots.get(s);
      if (i !== undefined) this.markSlot(i);
    }
  }
}
