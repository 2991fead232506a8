/**
 * Rebuilds the compliance evidence from InfluxDB when the state database has none (first start after
 * an upgrade, a lost state, a changed profile layout): counties in groups of about 1,000 schools, one
 * request per group, yielding to the event loop between groups. Whole-day channels read `GROUP BY time(1d, 16h)` (China
 * midnight), school-hours channels one statement per school day the ring holds (each county's province calendar). Only points before the rebuild's start time
 * are read; live reports from then on go into the evidence directly, so nothing is counted twice.
 */
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { Registry } from '../../registry/index.js';
import { lit, ms, runStatements } from '../influxql.js';
import { chinaDayNumber } from './engine.js';
import { Evidence, dayNumberStartMs, type Channel } from './evidence.js';

export interface EvidenceRebuildOptions {
  influx: InfluxDB;
  evidence: Evidence;
  registry: () => Registry;
  /** Points before this time come from InfluxDB; live reports add the ones from it on. */
  fromLiveMs: number;
  timeoutMs: number;
  log: Logger;
  /** Called after each county, with its code. */
  onCounty?: (county: string) => void;
  /** Wait before retrying a county InfluxDB did not answer for, ms. Default 10000. */
  retryMs?: number;
  /** Stop when this returns true (module stop). */
  stopped?: () => boolean;
}

/** The China day numbers of the ring a channel fills, each with the counties (codes as written) to read it for. */
type DayCounties = { dayNo: number; counties: string[] }[];

function statementsFor(c: Channel, counties: readonly string[], ringDays: number[], schoolDays: DayCounties, beforeMs: number): { sql: string; dayNo: number | null }[] {
  const sel = Object.entries(c.q.select).map(([alias, [expr]]) => `${expr} AS "${alias}"`).join(', ');
  const group = `"school"${c.q.groupBy ? `, "${c.q.groupBy}"` : ''}`;
  const region = (list: readonly string[]): string => `(${list.map((k) => `"county" = ${lit(k)}`).join(' OR ')})`;
  const where = (list: readonly string[], from: number, to: number): string => [c.q.where ? `(${c.q.where})` : '', region(list), `time >= ${ms(from)}`, `time < ${ms(to)}`].filter(Boolean).join(' AND ');
  const first = ringDays[0] as number;
  if (!c.hours) {
    return [{ sql: `SELECT ${sel} FROM "${c.q.measurement}" WHERE ${where(counties, dayNumberStartMs(first), beforeMs)} GROUP BY time(1d, 16h), ${group} fill(none)`, dayNo: null }];
  }
  const out: { sql: string; dayNo: number }[] = [];
  for (const { dayNo: d, counties: list } of schoolDays) {
    const from = dayNumberStartMs(d) + c.hours.fromMs;
    const to = Math.min(dayNumberStartMs(d) + c.hours.toMs, beforeMs);
    if (to > from && list.length) out.push({ sql: `SELECT ${sel} FROM "${c.q.measurement}" WHERE ${where(list, from, to)} GROUP BY ${group}`, dayNo: d });
  }
  return out;
}

/**
 * The school days the school-day ring holds for each county's province (the school calendar), as
 * days with the counties to read them for: counties with other term breaks read other days.
 */
function schoolDaysOf(opts: EvidenceRebuildOptions, counties: readonly string[]): DayCounties {
  const byDay = new Map<number, string[]>();
  const byGroup = new Map<string, number[]>();
  for (const county of counties) {
    const province = `${county.slice(0, 2)}0000`;
    const g = opts.evidence.windows.group(province);
    let days = byGroup.get(g);
    if (!days) byGroup.set(g, (days = opts.evidence.schoolRingDays(opts.fromLiveMs, province)));
    // A recoded county's older points were written under its old codes.
    for (const d of days) byDay.set(d, [...(byDay.get(d) ?? []), ...opts.registry().historyCodes(county)]);
  }
  return [...byDay].sort(([a], [b]) => a - b).map(([dayNo, list]) => ({ dayNo, counties: list }));
}

/** Reads some counties' evidence into `evidence` in one request. Rejects when InfluxDB fails. */
export async function rebuildCounties(opts: EvidenceRebuildOptions, counties: readonly string[]): Promise<void> {
  const { evidence } = opts;
  const ring = Evidence.ringDays(opts.fromLiveMs, evidence.layout.days);
  const schoolDays = schoolDaysOf(opts, counties);
  const plan: { c: Channel; dayNo: number | null }[] = [];
  const statements: string[] = [];
  for (const c of evidence.layout.channels) {
    // A recoded county's older points were written under its old codes.
    for (const s of statementsFor(c, counties.flatMap((k) => opts.registry().historyCodes(k)), ring, schoolDays, opts.fromLiveMs)) {
      plan.push({ c, dayNo: s.dayNo });
      statements.push(s.sql);
    }
  }
  const results = await runStatements(opts.influx, statements, opts.timeoutMs);
  results.forEach((series, k) => {
    const { c, dayNo } = plan[k] as { c: Channel; dayNo: number | null };
    for (const s of series) {
      const school = s.tags.school;
      if (!school) continue;
      const group = c.q.groupBy ? (s.tags[c.q.groupBy] ?? '') : '';
      for (const row of s.values) {
        const values: Record<string, unknown> = {};
        s.columns.forEach((col, i) => (values[col] = row[i]));
        const d = dayNo ?? (typeof values.time === 'number' ? chinaDayNumber(values.time) : null);
        if (d !== null) evidence.mergeAggregates(school, c.id, group, d, values);
      }
    }
  });
}

/** Schools per rebuild request: counties are grouped up to this many (a county is never split). */
const SCHOOLS_PER_REQUEST = 1000;

/**
 * Rebuilds every county of the registry, several counties (up to ~1,000 schools) per request; a
 * group InfluxDB fails for is retried after `retryMs` until it succeeds (or `stopped()`). Resolves
 * with the counties done.
 */
export async function rebuildEvidence(opts: EvidenceRebuildOptions, done: Set<string>): Promise<number> {
  const reg = opts.registry();
  const groups: string[][] = [];
  let group: string[] = [];
  let schools = 0;
  for (const [code, county] of reg.counties) {
    if (done.has(code)) continue;
    if (group.length && schools + county.children.length > SCHOOLS_PER_REQUEST) {
      groups.push(group);
      group = [];
      schools = 0;
    }
    group.push(code);
    schools += county.children.length;
  }
  if (group.length) groups.push(group);
  const started = Date.now();
  for (const counties of groups) {
    for (;;) {
      if (opts.stopped?.()) return done.size;
      try {
        await rebuildCounties(opts, counties);
        break;
      } catch (e) {
        opts.log.warn({ counties: counties.length, first: counties[0], err: String(e) }, 'compliance evidence: counties not rebuilt from InfluxDB; retrying');
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 10_000).unref());
      }
    }
    for (const county of counties) {
      done.add(county);
      opts.onCounty?.(county);
    }
    await new Promise((r) => setImmediate(r));
  }
  opts.log.info({ counties: done.size, requests: groups.length, ms: Date.now() - started }, 'compliance evidence rebuilt from InfluxDB');
  return done.size;
}
