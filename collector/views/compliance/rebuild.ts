/**
 * Rebuilds the compliance evidence from InfluxDB when the state database has none (first start after
 * an upgrade, a lost state, a changed profile layout): one county at a time, one request per county,
 * yielding to the event loop between counties. Whole-day channels read `GROUP BY time(1d, 16h)` (China
 * midnight), school-hours channels one statement per day. Only points before the rebuild's start time
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

function statementsFor(c: Channel, county: string, ringDays: number[], beforeMs: number): { sql: string; dayNo: number | null }[] {
  const sel = Object.entries(c.q.select).map(([alias, [expr]]) => `${expr} AS "${alias}"`).join(', ');
  const group = `"school"${c.q.groupBy ? `, "${c.q.groupBy}"` : ''}`;
  const where = (from: number, to: number): string => [c.q.where, `"county" = ${lit(county)}`, `time >= ${ms(from)}`, `time < ${ms(to)}`].filter(Boolean).join(' AND ');
  const first = ringDays[0] as number;
  if (!c.hours) {
    return [{ sql: `SELECT ${sel} FROM "${c.q.measurement}" WHERE ${where(dayNumberStartMs(first), beforeMs)} GROUP BY time(1d, 16h), ${group} fill(none)`, dayNo: null }];
  }
  const out: { sql: string; dayNo: number }[] = [];
  for (const d of ringDays) {
    const from = dayNumberStartMs(d) + c.hours.fromMs;
    const to = Math.min(dayNumberStartMs(d) + c.hours.toMs, beforeMs);
    if (to > from) out.push({ sql: `SELECT ${sel} FROM "${c.q.measurement}" WHERE ${where(from, to)} GROUP BY ${group}`, dayNo: d });
  }
  return out;
}

/** Reads one county's evidence into `evidence`. Rejects when InfluxDB fails. */
export async function rebuildCounty(opts: EvidenceRebuildOptions, county: string): Promise<void> {
  const { evidence } = opts;
  const ring = Evidence.ringDays(opts.fromLiveMs, evidence.layout.days);
  const plan: { c: Channel; dayNo: number | null }[] = [];
  const statements: string[] = [];
  for (const c of evidence.layout.channels) {
    for (const s of statementsFor(c, county, ring, opts.fromLiveMs)) {
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

/**
 * Rebuilds every county of the registry in turn; a county InfluxDB fails for is retried after
 * `retryMs` until it succeeds (or `stopped()`). Resolves with the counties done.
 */
export async function rebuildEvidence(opts: EvidenceRebuildOptions, done: Set<string>): Promise<number> {
  const counties = [...opts.registry().counties.keys()].filter((c) => !done.has(c));
  const started = Date.now();
  for (const county of counties) {
    for (;;) {
      if (opts.stopped?.()) return done.size;
      try {
        await rebuildCounty(opts, county);
        break;
      } catch (e) {
        opts.log.warn({ county, err: String(e) }, 'compliance evidence: county not rebuilt from InfluxDB; retrying');
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 10_000).unref());
      }
    }
    done.add(county);
    opts.onCounty?.(county);
    await new Promise((r) => setImmediate(r));
  }
  opts.log.info({ counties: done.size, ms: Date.now() - started }, 'compliance evidence rebuilt from InfluxDB');
  return done.size;
}
