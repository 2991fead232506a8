/**
 * The alert engine: folds accepted reports into per-school facts (O(1) per report), and sweeps the
 * rules over every registered school and region on a timer, in slices of at most `sliceMs` with a
 * yield to the event loop between them, so ingest is never held up. A sweep costs O(schools × rules)
 * arithmetic on column arrays plus O(firing alerts); an alert the sweep no longer finds true resolves.
 */
import type { MaintenanceCheck } from './maintenance.js';
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import type { Registry } from '../registry/index.js';
import type { School } from '../registry/schema.js';
import { AlertFactory, durationText, type Alert, type AlertFacts } from './alert.js';
import { ALWAYS_SCHOOL_TIME, type SchoolTime } from './calendar.js';
import { SchoolFacts, Streaks, figuresOf, type ReportFigures } from './facts.js';
import { compareVersions, placementKey, resolveParams, type AlertRule, type Placement } from './rules.js';

/** A compliance rollup table as the engine reads it (collector/views/compliance/rollup.ts). */
export interface ComplianceStatuses {
  readonly ruleIds: readonly string[];
  statusOf(school: string, k: number): 'pass' | 'fail' | 'unknown' | 'not_applicable' | undefined;
}

export interface AlertEngineOptions {
  rules: readonly AlertRule[];
  registry: () => Registry;
  now: () => number;
  log: Logger;
  /** School hours; default: always. */
  schoolTime?: SchoolTime;
  /** A school is online while its newest internet answer is younger than this (views.onlineWindowMin), ms. */
  onlineWindowMs: number;
  /** A streak rule's alert resolves when the school sent no sample for this long, ms. */
  staleAfterMs: number;
  /** Most alerts firing at once; beyond it new ones are counted in `dropped` and logged, not raised. */
  maxActive: number;
  /** Base URL of the console for the alerts' links. */
  consoleUrl: string;
  /** The compliance table of a profile, when the views module has one. */
  compliance?: (profile: string) => ComplianceStatuses | undefined;
  /** Longest stretch of work between two yields, ms. Default 10. */
  sliceMs?: number;
  /** Maintenance windows (maintenance.ts): no new alert is raised for a school or region inside one. */
  maintenance?: MaintenanceCheck;
}

/** What one sweep changed. */
export interface SweepResult {
  fired: Alert[];
  resolved: Alert[];
  /** Alerts not raised because `maxActive` was reached. */
  dropped: number;
  /** Sweep duration (wall, including yields) and busy time, ms. */
  wallMs: number;
  busyMs: number;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

type StreakKind = 'link_loss' | 'link_rtt' | 'link_jitter' | 'spool_backlog' | 'modem_snr' | 'modem_lock';
const STREAK_KINDS = new Set<string>(['link_loss', 'link_rtt', 'link_jitter', 'spool_backlog', 'modem_snr', 'modem_lock']);

/** A rule with its per-placement parameter cache and, for streak rules, its streak column. */
interface Compiled {
  rule: AlertRule;
  cache: Map<string, Record<string, unknown> & { enabled: boolean }>;
  streaks?: Streaks;
  /** region_online: since when each region is below target. */
  regionSince?: Map<string, number>;
  /** compliance_failing: per registry index × watched rule, 0 none, 1 pass, 2 failing before it was watched, 3 failing (alerted). */
  compliance?: { registry: Registry; states: Uint8Array; watched: number[]; table: ComplianceStatuses };
  /**
   * This rule's firing alerts by subject (the key without `<rule id>|`: a school id, a region code, or
   * `<school>|<compliance rule>`): a sweep confirms a firing alert with a lookup of a string the
   * registry already holds, instead of building and hashing a new key per school.
   */
  firing: Map<string, Alert>;
}

/** Per registry, what a sweep needs of each school by its index: cached so a sweep does no per-school lookups. */
interface SchoolIndex {
  registry: Registry;
  /** Each rule's parameters (see paramsOf), filled on first use. */
  params: (Params[] | undefined)[];
  /** The facts slot: -2 not looked up yet, -1 none (looked up again once new schools have slots). */
  slots: Int32Array;
  /** `facts.size` when the slots were last completed. */
  factsSize: number;
}

type Params = Record<string, unknown> & { enabled: boolean };

/** A streak sample, or undefined when the report has no such figure. */
function sampleOf(value: number, over: boolean): { over: boolean; value: number } | undefined {
  return Number.isNaN(value) ? undefined : { value, over };
}

function placementOf(s: School): Placement {
  return { link: s.linkType, province: s.provinceCode, city: s.cityCode, county: s.countyCode };
}

const fmt = (n: number, unit: string, digits = 0) => `${n.toFixed(digits)} ${unit}`;

/** The engine. Feed it with `onReport`, call `sweep()` on a timer. */
export class AlertEngine {
  readonly facts = new SchoolFacts();
  /** Firing alerts by key. */
  readonly active = new Map<string, Alert>();
  private readonly compiled: Compiled[];
  private readonly factory: AlertFactory;
  private sweepNo = 0;
  private running: Promise<SweepResult> | undefined;
  private readonly startedAtMs: number;
  /** Keys restored from the state database: kept while the data to judge them is not back yet. */
  private readonly restored = new Set<string>();

  constructor(private readonly opts: AlertEngineOptions) {
    this.factory = new AlertFactory(opts.consoleUrl.replace(/\/+$/, ''));
    this.compiled = opts.rules
      .filter((r) => r.enabled)
      .map((rule) => ({
        rule,
        cache: new Map(),
        firing: new Map<string, Alert>(),
        ...(STREAK_KINDS.has(rule.kind) ? { streaks: this.facts.addStreaks() } : {}),
        ...(rule.kind === 'region_online' ? { regionSince: new Map<string, number>() } : {}),
      }));
    this.startedAtMs = opts.now();
    for (const c of this.compiled) this.byRule.set(c.rule.id, c);
  }

  private readonly byRule = new Map<string, Compiled>();
  private index: SchoolIndex | undefined;

  private indexFor(reg: Registry): SchoolIndex {
    if (this.index?.registry !== reg) this.index = { registry: reg, params: new Array(reg.schools.size), slots: new Int32Array(reg.schools.size).fill(-2), factsSize: -1 };
    return this.index;
  }

  /** The rules evaluated (enabled ones). */
  get rules(): readonly AlertRule[] {
    return this.compiled.map((c) => c.rule);
  }

  /** Every compiled rule's parameters for a school (cached per School object: a new registry, new objects). */
  private readonly bySchool = new WeakMap<School, Params[]>();

  private paramsOf(s: School): Params[] {
    let ps = this.bySchool.get(s);
    if (!ps) {
      const at = placementOf(s);
      ps = this.compiled.map((c) => this.params(c, at));
      this.bySchool.set(s, ps);
    }
    return ps;
  }

  private params(c: Compiled, at: Placement): Params {
    const key = placementKey(c.rule, at);
    let p = c.cache.get(key);
    if (!p) c.cache.set(key, (p = resolveParams(c.rule, at)));
    return p;
  }

  /** Puts alerts saved before a restart back (they keep their start time). */
  restore(alerts: Iterable<Alert>): void {
    for (const a of alerts) {
      if (this.active.size >= this.opts.maxActive) break;
      this.active.set(a.key, a);
      this.restored.add(a.key);
      this.byRule.get(a.rule)?.firing.set(a.key.slice(a.rule.length + 1), a);
    }
  }

  /** Seeds a school's liveness from the views' saved state (start-up). */
  seed(school: string, lastGoodMs: number | null, lastReportMs: number): void {
    this.facts.seed(school, lastGoodMs, lastReportMs);
  }

  /** Folds one accepted report (its points stamped `atMs`) into the facts. */
  onReport(school: string, report: Report, atMs: number): void {
    const f = figuresOf(report);
    const slot = this.facts.apply(school, f, atMs);
    const s = this.opts.registry().get(school);
    if (!s) return;
    const prevSpool = this.facts.spool[slot] as number;
    if (!Number.isNaN(f.spoolReports) && !(atMs < (this.facts.lastReportMs[slot] as number) && !Number.isNaN(prevSpool))) this.facts.spool[slot] = f.spoolReports;
    const ps = this.paramsOf(s);
    for (let k = 0; k < this.compiled.length; k++) {
      const c = this.compiled[k] as Compiled;
      if (!c.streaks) continue;
      const p = ps[k] as Params;
      const sample = this.sample(c.rule.kind as StreakKind, p, f, prevSpool);
      if (sample) c.streaks.update(slot, sample.over, sample.value, atMs);
    }
  }

  /** A streak rule's sample from one report, or undefined when the report has no such figure. */
  private sample(kind: StreakKind, p: Record<string, unknown>, f: ReportFigures, prevSpool: number): { over: boolean; value: number } | undefined {
    const v = sampleOf;
    switch (kind) {
      case 'link_loss':
        // 100 % is no link at all: the offline rule's, not a lossy link.
        return v(f.lossPct, f.lossPct > (p.abovePct as number) && f.lossPct < 100);
      case 'link_rtt':
        return v(f.rttMs, f.rttMs > (p.aboveMs as number));
      case 'link_jitter':
        return v(f.jitterMs, f.jitterMs > (p.aboveMs as number));
      case 'spool_backlog':
        return v(f.spoolReports, f.spoolReports >= (p.minReports as number) && !(f.spoolReports < prevSpool));
      case 'modem_snr': {
        const x = f.modem.get(p.field as string);
        return x === undefined ? undefined : v(x, x < (p.belowDb as number));
      }
      case 'modem_lock': {
        const x = f.modem.get('locked');
        return x === undefined ? undefined : v(x, x === 0);
      }
    }
  }

  /** One sweep over every school and region; concurrent calls share it. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<SweepResult> {
    const nowMs = this.opts.now();
    const reg = this.opts.registry();
    const sweep = ++this.sweepNo;
    const result: SweepResult = { fired: [], resolved: [], dropped: 0, wallMs: 0, busyMs: 0 };
    const t0 = performance.now();
    let sliceStart = t0;
    const sliceMs = this.opts.sliceMs ?? 10;
    const schoolTime = this.opts.schoolTime ?? ALWAYS_SCHOOL_TIME;
    const regionCounts = this.compiled.map((c) => (c.regionSince ? new Map<string, [number, number]>() : undefined));
    for (const c of this.compiled) {
      if (c.rule.kind !== 'compliance_failing') continue;
      this.prepareCompliance(c, reg);
      // No table (views still starting): keep what fires, decide nothing.
      if (!c.compliance) for (const a of this.active.values()) if (a.rule === c.rule.id) a.sweep = sweep;
    }

    const ix = this.indexFor(reg);
    // Schools that got a slot since the slots were completed are looked up again.
    const recheck = ix.factsSize !== this.facts.size;
    ix.factsSize = this.facts.size;
    let i = 0;
    for (const s of reg.schools.values()) {
      let slot = ix.slots[i] as number;
      if (slot === -2 || (slot === -1 && recheck)) ix.slots[i] = slot = this.facts.slotOf(s.id) ?? -1;
      const ps = (ix.params[i] ??= this.paramsOf(s));
      this.judgeSchool(s, i++, slot, ps, reg, nowMs, sweep, schoolTime, regionCounts, result);
      if ((i & 63) === 0 && performance.now() - sliceStart > sliceMs) {
        result.busyMs += performance.now() - sliceStart;
        await yieldNow();
        sliceStart = performance.now();
      }
    }
    this.compiled.forEach((c, k) => {
      const counts = regionCounts[k];
      if (counts) this.judgeRegions(c, counts, reg, nowMs, sweep, result);
    });
    let n = 0;
    for (const [key, a] of this.active) {
      if ((++n & 1023) === 0 && performance.now() - sliceStart > sliceMs) {
        result.busyMs += performance.now() - sliceStart;
        await yieldNow();
        sliceStart = performance.now();
      }
      if (a.sweep === sweep) continue;
      if (this.restored.has(key) && this.keepRestored(a, nowMs)) continue;
      this.active.delete(key);
      this.restored.delete(key);
      this.byRule.get(a.rule)?.firing.delete(key.slice(a.rule.length + 1));
      a.endsAtMs = nowMs;
      result.resolved.push(a);
    }
    result.busyMs += performance.now() - sliceStart;
    result.wallMs = performance.now() - t0;
    if (result.dropped > 0) this.opts.log.error({ code: 'COL_ERR_ALERTS_TRUNCATED', dropped: result.dropped, maxActive: this.opts.maxActive }, 'alerts not raised: the most alerts firing at once (alerts.maxActive) is reached');
    return result;
  }

  /** A restored streak alert whose school sent nothing since the restart stays until the data is stale. */
  private keepRestored(a: Alert, nowMs: number): boolean {
    const c = this.compiled.find((x) => x.rule.id === a.rule);
    if (!c?.streaks) return false;
    const slot = this.facts.slotOf(a.labels.school ?? '');
    const noSample = slot === undefined || Number.isNaN(c.streaks.last[slot]);
    return noSample && nowMs - this.startedAtMs < this.opts.staleAfterMs;
  }

  /** Confirms or raises the alert of rule `c` about `subject` (key `<rule id>|<subject>`); `make` builds it when new. */
  private confirm(c: Compiled, subject: string, sweep: number, result: SweepResult, make: (key: string) => Alert): void {
    const a = c.firing.get(subject);
    if (a) {
      a.sweep = sweep;
      if (this.restored.size > 0) this.restored.delete(a.key);
      return;
    }
    if (this.active.size >= this.opts.maxActive) {
      result.dropped++;
      return;
    }
    const n = make(`${c.rule.id}|${subject}`);
    if (this.opts.maintenance?.isInMaintenance(n.labels, n.startsAtMs)) return;
    n.sweep = sweep;
    this.active.set(n.key, n);
    c.firing.set(subject, n);
    result.fired.push(n);
  }

  private judgeSchool(
    s: School,
    index: number,
    /** The school's facts slot, -1 when it never reported. */
    slotOrNone: number,
    ps: Params[],
    reg: Registry,
    nowMs: number,
    sweep: number,
    schoolTime: SchoolTime,
    regionCounts: (Map<string, [number, number]> | undefined)[],
    result: SweepResult,
  ): void {
    const facts = this.facts;
    const slot = slotOrNone < 0 ? undefined : slotOrNone;
    let inHours: boolean | undefined;
    const lastGood = slot === undefined ? NaN : (facts.lastGoodMs[slot] as number);
    const online = nowMs - lastGood < this.opts.onlineWindowMs;
    for (let k = 0; k < this.compiled.length; k++) {
      const c = this.compiled[k] as Compiled;
      const p = ps[k] as Params;
      if (!p.enabled) continue;
      const forMs = ((p.forMin as number | undefined) ?? 0) * 60_000;
      if (p.schoolHoursOnly) inHours ??= schoolTime.isSchoolTime(s, nowMs);
      // No closures or strings here: this runs schools × rules times a sweep; what holds is rare.
      let holds = false;
      switch (c.rule.kind) {
        case 'school_offline':
          if (p.schoolHoursOnly && !inHours) break;
          if (slot === undefined) holds = p.includeNeverSeen === true;
          else holds = nowMs - (Number.isNaN(lastGood) ? (facts.firstSeenMs[slot] as number) : lastGood) >= forMs;
          break;
        case 'agent_version': {
          const v = slot === undefined ? undefined : facts.versions[slot];
          holds = v !== undefined && compareVersions(v, p.minVersion as string) < 0;
          break;
        }
        case 'region_online': {
          if (p.schoolHoursOnly && !inHours) break;
          const code = p.level === 'province' ? s.provinceCode : p.level === 'city' ? s.cityCode : s.countyCode;
          const counts = regionCounts[k] as Map<string, [number, number]>;
          let e = counts.get(code);
          if (!e) counts.set(code, (e = [0, 0]));
          e[0]++;
          if (online) e[1]++;
          break;
        }
        case 'compliance_failing':
          this.judgeCompliance(c, s, index, reg, nowMs, sweep, result);
          break;
        default: {
          const st = c.streaks as Streaks;
          if (slot === undefined) break;
          const since = st.since[slot] as number;
          const last = st.last[slot] as number;
          holds = !Number.isNaN(since) && last - since >= forMs && nowMs - last <= this.opts.staleAfterMs;
        }
      }
      if (holds) this.confirm(c, s.id, sweep, result, (key) => this.factory.school(c.rule, reg, s, this.schoolFacts(c, p, slot, lastGood, nowMs), nowMs, key));
    }
  }

  /** The figures a new school alert's summaries show. */
  private schoolFacts(c: Compiled, p: Params, slot: number | undefined, lastGood: number, nowMs: number): AlertFacts {
    const forMin = (p.forMin as number | undefined) ?? 0;
    if (slot === undefined) return { value: 'never reported', threshold: '', forMin };
    switch (c.rule.kind) {
      case 'school_offline':
        return { value: durationText(nowMs - (Number.isNaN(lastGood) ? (this.facts.firstSeenMs[slot] as number) : lastGood)), threshold: '', forMin };
      case 'agent_version':
        return { value: this.facts.versions[slot] ?? '?', threshold: p.minVersion as string, forMin };
      default:
        return this.streakFacts(c.rule.kind, p, (c.streaks as Streaks).value[slot] as number);
    }
  }

  private streakFacts(kind: string, p: Record<string, unknown>, v: number): AlertFacts {
    const forMin = p.forMin as number;
    switch (kind) {
      case 'link_loss':
        return { value: fmt(v, '%', 1), threshold: fmt(p.abovePct as number, '%', 1), forMin };
      case 'link_rtt':
      case 'link_jitter':
        return { value: fmt(v, 'ms'), threshold: fmt(p.aboveMs as number, 'ms'), forMin };
      case 'spool_backlog':
        return { value: String(v), threshold: String(p.minReports), forMin };
      case 'modem_snr':
        return { value: fmt(v, 'dB', 1), threshold: fmt(p.belowDb as number, 'dB', 1), forMin };
      default:
        return { value: String(v), threshold: '1', forMin };
    }
  }

  private judgeRegions(c: Compiled, counts: Map<string, [number, number]>, reg: Registry, nowMs: number, sweep: number, result: SweepResult): void {
    const since = c.regionSince as Map<string, number>;
    const level = (c.rule.level as 'province' | 'city' | 'county' | undefined) ?? 'county';
    for (const [code, [n, online]] of counts) {
      const p = this.params(c, { link: 'other', province: `${code.slice(0, 2)}0000`, city: level === 'province' ? '' : `${code.slice(0, 4)}00`, county: level === 'county' ? code : '' });
      const share = n > 0 ? (100 * online) / n : 100;
      const below = p.enabled && n >= (p.minSchools as number) && share < (p.belowPct as number);
      if (!below) {
        since.delete(code);
        continue;
      }
      const from = since.get(code) ?? nowMs;
      since.set(code, from);
      if (nowMs - from < (p.forMin as number) * 60_000) continue;
      this.confirm(c, code, sweep, result, () =>
        this.factory.region(c.rule, reg, code, level, { value: `${share.toFixed(1)} % (${online}/${n})`, threshold: `${p.belowPct as number} %`, forMin: p.forMin as number }, nowMs),
      );
    }
    // Regions without any school in hours this sweep are not below target.
    for (const code of since.keys()) if (!counts.has(code)) since.delete(code);
  }

  private prepareCompliance(c: Compiled, reg: Registry): void {
    const table = this.opts.compliance?.(c.rule.profile as string);
    if (!table) {
      c.compliance = undefined;
      return;
    }
    const wanted = c.rule.rules as string[];
    const watched = table.ruleIds.map((_, k) => k).filter((k) => wanted.length === 0 || wanted.includes(table.ruleIds[k] as string));
    if (c.compliance?.registry !== reg || c.compliance.watched.length !== watched.length) {
      // A new registry (or first sweep): statuses start over; failures seen first are a baseline, not news.
      c.compliance = { registry: reg, states: new Uint8Array(reg.schools.size * watched.length), watched, table };
    } else c.compliance.table = table;
  }

  private judgeCompliance(c: Compiled, s: School, index: number, reg: Registry, nowMs: number, sweep: number, result: SweepResult): void {
    const cs = c.compliance;
    if (!cs) return;
    for (let j = 0; j < cs.watched.length; j++) {
      const k = cs.watched[j] as number;
      const ruleId = cs.table.ruleIds[k] as string;
      const at = index * cs.watched.length + j;
      const st = cs.table.statusOf(s.id, k);
      let state = cs.states[at] as number;
      if (state === 0 && this.restored.size > 0 && this.active.has(`${c.rule.id}|${s.id}|${ruleId}`)) state = 3;
      if (st === 'pass') state = 1;
      else if (st === 'fail') state = state === 1 || state === 3 ? 3 : 2;
      cs.states[at] = state;
      if (state === 3) this.confirm(c, `${s.id}|${ruleId}`, sweep, result, (key) => this.factory.school(c.rule, reg, s, { value: 'fail', threshold: '', forMin: 0, complianceRule: ruleId }, nowMs, key));
    }
  }
}
