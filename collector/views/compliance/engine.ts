/**
 * Judges schools against a profile: expands each rule's window at the judgement time, runs the
 * metrics' aggregate queries (one statement per query and window piece, grouped by school, all in
 * one request), and gives each school pass, fail, unknown or not_applicable per rule with evidence.
 */
import type { InfluxDB } from 'influx';
import type { School } from '../../registry/schema.js';
import { lit, ms, runStatements } from '../influxql.js';
import { METRICS, type MetricValue, type QueryData, type QuerySpec } from './metrics.js';
import { versionAt, type Profile, type Rule, type RuleVersion, type RuleWindow } from './profile.js';
import { isoDateOf } from '../../calendar/index.js';
import { SchoolWindows, defaultWindows, type Interval, type WindowSpan } from './windows.js';

export type { Interval, WindowSpan } from './windows.js';

export type Status = 'pass' | 'fail' | 'unknown' | 'not_applicable';

/** The evidence of one judgement. */
export interface Judgement {
  rule: string;
  status: Status;
  /** The measured value (a number, named values for peer_path, or null when there is none). */
  value: number | Record<string, number | null> | null;
  unit: string;
  comparison: string;
  /** The threshold applied to this school (after allowances and student scaling). */
  threshold: number | Record<string, number> | null;
  /** The rule version used: the one in force at the judgement time. */
  validFrom: string | null;
  /** `days`: the ISO dates of the school days a `schoolDays` window covers (school calendar). */
  window: { spec: RuleWindow; description: string; fromMs: number; toMs: number; pieces: number; days?: string[] };
  source: string;
  /** Why unknown or not applicable, or a note on the value. */
  reason?: string;
  /**
   * For a bandwidth: whether the value was measured or is the contracted bandwidth from the registry
   * (never shown as measured).
   */
  basis?: 'measured' | 'contracted';
}

const CHINA_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** China-time midnight at or before `t`, ms. */
export function chinaDayStartMs(t: number): number {
  return Math.floor((t + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS - CHINA_OFFSET_MS;
}

/** The China-time day number of `t` (days since 1970-01-01 China time). */
export function chinaDayNumber(t: number): number {
  return Math.floor((t + CHINA_OFFSET_MS) / DAY_MS);
}

/**
 * The pieces of a window ending at `atMs` for schools of `provinceCode`, on the school calendar of
 * `windows` (collector/views/compliance/windows.ts).
 */
export function windowPieces(w: RuleWindow, atMs: number, windows: SchoolWindows = defaultWindows(), provinceCode = ''): Interval[] {
  return windows.span(w, atMs, provinceCode).pieces;
}

/** Which schools a judgement covers: a region by its tag, or one school. */
export interface Scope {
  tag: 'province' | 'city' | 'county' | 'school' | null;
  value?: string;
  /** A recoded region: its code and the older codes its points were written under (Registry.historyCodes). */
  values?: readonly string[];
}

/** The scope's condition: `"county" = '410307'`, or for a recoded region `"county" =~ /^(410307|410381)$/`. */
function scopeCondition(scope: Scope): string {
  if (!scope.tag) return '';
  const codes = scope.values?.filter((v) => /^\d{6}$/.test(v)) ?? [];
  return codes.length > 1 ? `"${scope.tag}" =~ /^(${codes.join('|')})$/` : `"${scope.tag}" = ${lit(scope.value ?? '')}`;
}

function statement(q: QuerySpec, scope: Scope, piece: Interval): string {
  const sel = Object.entries(q.select).map(([alias, [expr]]) => `${expr} AS "${alias}"`).join(', ');
  const cond = [q.where, scopeCondition(scope), `time >= ${ms(piece.fromMs)}`, `time < ${ms(piece.toMs)}`].filter(Boolean).join(' AND ');
  return `SELECT ${sel} FROM "${q.measurement}" WHERE ${cond} GROUP BY "school"${q.groupBy ? `, "${q.groupBy}"` : ''}`;
}

export interface JudgeOptions {
  influx: InfluxDB;
  profile: Profile;
  schools: readonly School[];
  scope: Scope;
  atMs: number;
  timeoutMs: number;
  /** The school calendar the windows are on (default: chinese-days without term breaks). */
  windows?: SchoolWindows;
}

/** A school's judgements, in profile rule order. */
export interface SchoolJudgements {
  school: School;
  judgements: Judgement[];
}

function applies(rule: Rule, s: School): boolean {
  const a = rule.appliesTo;
  if (!a) return true;
  if (a.hasHub && s.hubSchoolId === null) return false;
  const checks: boolean[] = [];
  if (a.schoolTypes) checks.push(a.schoolTypes.includes(s.type));
  if (a.linkTypes) checks.push(a.linkTypes.includes(s.linkType));
  if (checks.length === 0) return true;
  return a.match === 'any' ? checks.some(Boolean) : checks.every(Boolean);
}

function thresholdFor(v: RuleVersion, s: School): number | Record<string, number> {
  if (typeof v.threshold === 'number') {
    const sc = v.studentScaling;
    return sc && s.students > sc.aboveStudents ? Math.max(v.threshold, s.students * sc.mbpsPerStudent) : v.threshold;
  }
  return { ...v.threshold, ...(v.allowances?.[s.linkType] ?? {}) };
}

function compare(value: number, comparison: string, threshold: number): boolean {
  if (comparison === '>=') return value >= threshold;
  if (comparison === '>') return value > threshold;
  return value <= threshold;
}

function thresholdNumber(v: RuleVersion, s: School): number {
  const sc = v.studentScaling;
  const t = v.threshold as number;
  return sc && s.students > sc.aboveStudents ? Math.max(t, s.students * sc.mbpsPerStudent) : t;
}

/** The status of one judgement: the one decision judge() and the rollups share (no evidence built). */
function statusFrom(rule: Rule, version: RuleVersion | undefined, mv: MetricValue | undefined, s: School): Status {
  if (!version || !applies(rule, s)) return 'not_applicable';
  if (!mv || mv.kind === 'unknown') return 'unknown';
  if (mv.kind === 'number') {
    if (mv.value === null) return 'fail';
    return compare(mv.value, rule.comparison, thresholdNumber(version, s)) ? 'pass' : 'fail';
  }
  let missing = false;
  for (const [k, limit] of Object.entries(thresholdFor(version, s) as Record<string, number>)) {
    const v = mv.values[k];
    if (v === null || v === undefined) missing = true;
    else if (!compare(v, rule.comparison, limit)) return 'fail';
  }
  return missing ? 'unknown' : 'pass';
}

function judge(rule: Rule, version: RuleVersion | undefined, mv: MetricValue | undefined, s: School, base: Omit<Judgement, 'status' | 'value' | 'threshold'>): Judgement {
  const status = statusFrom(rule, version, mv, s);
  if (!version) return { ...base, status, value: null, threshold: null, reason: `the rule is not in force yet at this time (first version ${rule.versions[0]?.validFrom})` };
  const threshold = thresholdFor(version, s);
  if (!applies(rule, s)) return { ...base, status, value: null, threshold, reason: 'the rule does not apply to this school (appliesTo)' };
  if (!mv || mv.kind === 'unknown') return { ...base, status, value: null, threshold, reason: mv?.reason ?? 'no data' };
  if (mv.kind === 'number') {
    if (mv.value === null) return { ...base, status, value: null, threshold, ...(mv.note ? { reason: mv.note } : {}) };
    return { ...base, status, value: mv.value, threshold, ...(mv.note ? { reason: mv.note } : {}), ...(mv.basis ? { basis: mv.basis } : {}) };
  }
  return { ...base, status, value: mv.values, threshold, ...(status === 'unknown' ? { reason: 'some of the values were not measured in the window' } : {}) };
}

/**
 * Where a judgement's aggregates come from: for one school, the combined aggregates of one query
 * (by its key) over one rule window as expanded for the school (`span`): group value ('' without
 * groupBy) → alias → number.
 */
export type DataSource = (school: string, queryKey: string, window: RuleWindow, span: WindowSpan) => Map<string, Record<string, number>> | undefined;

/** One rule prepared for judging at one time: its window pieces, version and the evidence frame. */
export interface RulePlan {
  rule: Rule;
  version: RuleVersion | undefined;
  pieces: Interval[];
  span: WindowSpan;
  base: Omit<Judgement, 'status' | 'value' | 'threshold'>;
}

/**
 * A judgement's window whose description (and dates) are only written when a judgement is built:
 * rollups plan every calendar group on each refresh and never read them.
 */
function lazyWindow(spec: RuleWindow, span: WindowSpan, atMs: number, describe: () => string): Judgement['window'] {
  let description: string | undefined;
  const w = { spec, fromMs: span.pieces[0]?.fromMs ?? atMs, toMs: span.pieces[span.pieces.length - 1]?.toMs ?? atMs, pieces: span.pieces.length } as Judgement['window'];
  Object.defineProperty(w, 'description', { enumerable: true, get: () => (description ??= describe()) });
  if ('schoolDays' in spec) {
    let days: string[] | undefined;
    Object.defineProperty(w, 'days', { enumerable: true, get: () => (days ??= span.days.map(isoDateOf)) });
  }
  return w;
}

/**
 * Prepares every rule of `profile` for judging at `atMs`, for schools of `provinceCode` (windows on
 * its school calendar); shared by all schools of one calendar group.
 */
export function planRules(profile: Profile, atMs: number, windows: SchoolWindows = defaultWindows(), provinceCode = ''): RulePlan[] {
  return profile.rules.map((rule) => {
    const span = windows.span(rule.window, atMs, provinceCode);
    const pieces = span.pieces;
    const version = versionAt(rule, atMs);
    const sources = [rule.source, ...rule.overriddenBy.map((o) => `${o.as ? `${o.as}: ` : ''}${o.source} (from ${o.from})`)].join('; ');
    return {
      rule,
      version,
      pieces,
      span,
      base: {
        rule: rule.id,
        unit: METRICS[rule.metric].unit,
        comparison: rule.comparison,
        validFrom: version?.validFrom ?? null,
        window: lazyWindow(rule.window, span, atMs, () => windows.describe(rule.window, span, provinceCode)),
        source: sources,
      },
    };
  });
}

/** Which day buckets, rule versions and short windows a plan uses: equal signatures, equal statuses. */
export function planSignature(plans: readonly RulePlan[]): string {
  return plans.map((p) => `${p.version?.validFrom ?? '-'}:${p.span.short ? 's' : ''}${p.pieces.map((x) => `${chinaDayNumber(x.fromMs)}-${chinaDayNumber(x.toMs - 1)}`).join(',')}`).join('|');
}

/** A profile's rules planned at one time for every calendar group (provinces with their own term breaks). */
export class RulePlans {
  private readonly byGroup = new Map<string, RulePlan[]>();

  constructor(
    readonly profile: Profile,
    readonly atMs: number,
    readonly windows: SchoolWindows = defaultWindows(),
  ) {}

  /** The plans for schools of a province. */
  for(provinceCode: string): RulePlan[] {
    const group = this.windows.group(provinceCode);
    let plans = this.byGroup.get(group);
    if (!plans) this.byGroup.set(group, (plans = planRules(this.profile, this.atMs, this.windows, group)));
    return plans;
  }

  /** The signature over every calendar group. */
  signature(): string {
    return this.windows.calendar.groups().map((g) => `${g}=${planSignature(this.for(g))}`).join(';');
  }
}

/** What a judgement says while the evidence of a school is still being rebuilt from InfluxDB. */
export const REBUILDING: MetricValue = { kind: 'unknown', reason: 'evidence being rebuilt from InfluxDB; judged once this school is done' };

const plansOf = (plans: readonly RulePlan[] | RulePlans, school: School): readonly RulePlan[] => (plans instanceof RulePlans ? plans.for(school.provinceCode) : plans);

/** The metric value of one planned rule for a school: unknown while rebuilding or when the window is short. */
function valueOf(plan: RulePlan, school: School, data: DataSource, pending: boolean): MetricValue {
  if (pending) return REBUILDING;
  if (plan.span.short) return { kind: 'unknown', reason: SchoolWindows.shortReason(plan.span) };
  const { rule, span } = plan;
  return METRICS[rule.metric].value({ school, class: rule.class, data: (key) => data(school.id, key, rule.window, span) });
}

/**
 * Judges one school against prepared rules (a list for its calendar group, or every group's).
 * `pending`: its evidence is not there yet (being rebuilt), so every applicable rule is unknown with
 * that reason (never a pass or fail made up from nothing).
 */
export function judgeSchool(plans: readonly RulePlan[] | RulePlans, school: School, data: DataSource, pending = false): Judgement[] {
  return plansOf(plans, school).map((plan) => judge(plan.rule, plan.version, valueOf(plan, school, data, pending), school, { ...plan.base, window: { ...plan.base.window } }));
}

/** The status of one school for each rule, without building the evidence (for rollups). */
export function statusesOf(plans: readonly RulePlan[] | RulePlans, school: School, data: DataSource, pending = false): Status[] {
  return plansOf(plans, school).map((plan) => statusFrom(plan.rule, plan.version, valueOf(plan, school, data, pending), school));
}

/** Combines two aggregates of one query: counts and sums add, maxima take the max. */
function combineInto(acc: Record<string, number>, q: QuerySpec, values: Record<string, number>): void {
  for (const [alias, v] of Object.entries(values)) {
    const prev = acc[alias];
    acc[alias] = prev === undefined ? v : q.select[alias]?.[1] === 'max' ? Math.max(prev, v) : prev + v;
  }
}

/**
 * Judges every school of `schools` against every rule of the profile at `atMs` from raw data in
 * InfluxDB: the reference path (a judgement at a past time, and the check of the incremental evidence).
 */
export async function judgeSchools(opts: JudgeOptions): Promise<SchoolJudgements[]> {
  const { profile, atMs } = opts;
  const plans = new RulePlans(profile, atMs, opts.windows);
  // One statement per distinct (query, window piece) over the schools' calendar groups; rules and
  // provinces sharing both share the result.
  const statements: string[] = [];
  const plan: { pieceKey: string; q: QuerySpec }[] = [];
  const planned = new Set<string>();
  const specs = new Map<string, QuerySpec>();
  const groups = new Map<string, string>();
  for (const s of opts.schools) groups.set(plans.windows.group(s.provinceCode), s.provinceCode);
  for (const province of groups.values()) {
    for (const { rule, pieces } of plans.for(province)) {
      for (const q of METRICS[rule.metric].queries({ class: rule.class })) {
        specs.set(q.key, q);
        for (const piece of pieces) {
          const pieceKey = `${q.key}@${piece.fromMs}-${piece.toMs}`;
          if (planned.has(pieceKey)) continue;
          planned.add(pieceKey);
          statements.push(statement(q, opts.scope, piece));
          plan.push({ pieceKey, q });
        }
      }
    }
  }
  const results = await runStatements(opts.influx, statements, opts.timeoutMs);
  const data = new Map<string, QueryData>();
  results.forEach((series, k) => {
    const { pieceKey, q } = plan[k] as { pieceKey: string; q: QuerySpec };
    const d = new Map() as QueryData;
    data.set(pieceKey, d);
    for (const s of series) {
      const school = s.tags.school ?? '';
      const group = q.groupBy ? (s.tags[q.groupBy] ?? '') : '';
      let bySchool = d.get(school);
      if (!bySchool) d.set(school, (bySchool = new Map()));
      const values: Record<string, number> = {};
      s.columns.forEach((c, i) => {
        const v = s.values[0]?.[i];
        if (q.select[c] && typeof v === 'number') values[c] = v;
      });
      combineInto((bySchool.get(group) ?? bySchool.set(group, {}).get(group)) as Record<string, number>, q, values);
    }
  });
  const source: DataSource = (school, key, _window, span) => {
    const q = specs.get(key);
    let out: Map<string, Record<string, number>> | undefined;
    for (const piece of span.pieces) {
      const bySchool = data.get(`${key}@${piece.fromMs}-${piece.toMs}`)?.get(school);
      if (!q || !bySchool) continue;
      for (const [group, values] of bySchool) {
        out ??= new Map();
        combineInto((out.get(group) ?? out.set(group, {}).get(group)) as Record<string, number>, q, values);
      }
    }
    return out;
  };
  return opts.schools.map((school) => ({ school, judgements: judgeSchool(plans, school, source) }));
}

/** Per-rule counts over a set of schools. Unknown is never counted as pass. */
export interface RuleRollup {
  rule: string;
  description: string;
  pass: number;
  fail: number;
  unknown: number;
  notApplicable: number;
  /** pass / (pass + fail + unknown): unknown counts against the share. */
  passShare: number;
  /** (pass + fail) / (pass + fail + unknown): how much of it is measured. */
  knownShare: number;
}

export function rollupRules(profile: Profile, judged: readonly SchoolJudgements[]): RuleRollup[] {
  return profile.rules.map((rule, k) => {
    const r = { rule: rule.id, description: rule.description, pass: 0, fail: 0, unknown: 0, notApplicable: 0, passShare: 0, knownShare: 0 };
    for (const s of judged) {
      const st = s.judgements[k]?.status;
      if (st === 'pass') r.pass++;
      else if (st === 'fail') r.fail++;
      else if (st === 'unknown') r.unknown++;
      else r.notApplicable++;
    }
    const applicable = r.pass + r.fail + r.unknown;
    r.passShare = applicable ? r.pass / applicable : 0;
    r.knownShare = applicable ? (r.pass + r.fail) / applicable : 0;
    return r;
  });
}
