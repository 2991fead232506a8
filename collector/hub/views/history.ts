/**
 * History on the hub from the `rollup` measurement, in the shape of a province's coverage history
 * (`/api/v1/console/history`): buckets aligned to China time, columns time, online_pct, online,
 * offline, never_seen, registered. National history sums the provinces per bucket; a province without
 * a roll-up in a bucket is carried with its last figure in the range (as the live view sums a stale
 * province), and each bucket says how many provinces reported in it and how many were carried.
 */
import type { InfluxDB } from 'influx';
import { HISTORY_RANGES, type HistoryRange } from '../../console/api/school.js';
import { lit, ms, runStatements, type Series } from '../../views/influxql.js';
import { NATIONAL, type HubLevel } from './rows.js';

const CHINA_OFFSET_MS = 8 * 3_600_000;

export interface HubHistoryOptions {
  influx: InfluxDB;
  level: HubLevel;
  code: string;
  range: HistoryRange;
  nowMs: number;
  timeoutMs: number;
}

export interface HubHistory {
  level: HubLevel;
  code: string;
  range: HistoryRange;
  from: string;
  to: string;
  bucketS: number;
  /** `time, online_pct, online, offline, never_seen, registered`; national adds `provinces_reporting, provinces_carried`. */
  columns: string[];
  values: (number | null)[][];
}

const FIELDS = ['online', 'offline', 'never_seen', 'registered'] as const;

function bounds(range: HistoryRange, nowMs: number): { fromMs: number; toMs: number; bucketMs: number } {
  const { spanMs, bucketMs } = HISTORY_RANGES[range];
  // The bucket holding now is the last one.
  const toMs = (Math.floor((nowMs + CHINA_OFFSET_MS) / bucketMs) + 1) * bucketMs - CHINA_OFFSET_MS;
  return { fromMs: toMs - spanMs, toMs, bucketMs };
}

const select = FIELDS.map((f) => `mean("${f}") AS "${f}"`).join(', ');
const pct = (online: number, registered: number): number | null => (registered > 0 ? Math.round((10000 * online) / registered) / 100 : null);

function rowsOf(s: Series): Map<number, number[]> {
  const idx = FIELDS.map((f) => s.columns.indexOf(f));
  const out = new Map<number, number[]>();
  for (const v of s.values) out.set(v[0] as number, idx.map((i) => Number(v[i] ?? 0)));
  return out;
}

/** A region's or the nation's history. */
export async function hubHistory(opts: HubHistoryOptions): Promise<HubHistory> {
  const { fromMs, toMs, bucketMs } = bounds(opts.range, opts.nowMs);
  const head = { level: opts.level, code: opts.code, range: opts.range, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), bucketS: bucketMs / 1000 };
  const when = `time >= ${ms(fromMs)} AND time < ${ms(toMs)}`;
  const group = (by = '') => `time(${bucketMs}ms)${by} fill(none) tz('Asia/Shanghai')`;
  if (opts.code !== NATIONAL) {
    const [series = []] = await runStatements(opts.influx, [`SELECT ${select} FROM "rollup" WHERE "level" = ${lit(opts.level)} AND "region" = ${lit(opts.code)} AND ${when} GROUP BY ${group()}`], opts.timeoutMs);
    const rows = series[0] ? rowsOf(series[0]) : new Map<number, number[]>();
    const values = [...rows].sort((a, b) => a[0] - b[0]).map(([t, [on, off, never, reg]]) => [t, pct(on as number, reg as number), on as number, off as number, never as number, reg as number]);
    return { ...head, columns: ['time', 'online_pct', ...FIELDS], values };
  }
  const [series = []] = await runStatements(opts.influx, [`SELECT ${select} FROM "rollup" WHERE "level" = 'province' AND ${when} GROUP BY ${group(', "region"')}`], opts.timeoutMs);
  const perProvince = series.map(rowsOf);
  const times = [...new Set(perProvince.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const last: (number[] | undefined)[] = perProvince.map(() => undefined);
  const values = times.map((t) => {
    const sum = [0, 0, 0, 0];
    let reporting = 0, carried = 0;
    perProvince.forEach((m, i) => {
      const v = m.get(t);
      if (v) (last[i] = v), reporting++;
      else if (last[i]) carried++;
      const use = v ?? last[i];
      if (use) use.forEach((x, k) => (sum[k] = (sum[k] as number) + x));
    });
    const [on, off, never, reg] = sum as [number, number, number, number];
    return [t, pct(on, reg), on, off, never, reg, reporting, carried];
  });
  return { ...head, columns: ['time', 'online_pct', ...FIELDS, 'provinces_reporting', 'provinces_carried'], values };
}
