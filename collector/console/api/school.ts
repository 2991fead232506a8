/**
 * One school for the console's school page: registry facts, the views' status, agent health, modem
 * signal, device counts by class and recent gaps (InfluxDB, bounded windows and LIMITs), and the time
 * series of the last 24 hours or 7 days at a fixed number of buckets.
 */
import type { InfluxDB } from 'influx';
import type { Registry } from '../../registry/index.js';
import type { CoverageModel } from '../../views/coverage/model.js';
import { TIERS } from '../../views/coverage/tiers.js';
import { lit, ms, runStatements, type Series } from '../../views/influxql.js';
import type { AgentsOf } from './deps.js';
import { evidenceFor, type SchoolEvidence } from './evidence.js';
import { kindsOf } from './schools.js';
import { placeOf, trail } from './scope.js';

const DAY_MS = 86_400_000;
const iso = (t: unknown): string | null => (typeof t === 'number' ? new Date(t).toISOString() : null);

export interface SchoolDetailOptions {
  registry: Registry;
  model: CoverageModel;
  influx: InfluxDB;
  id: string;
  nowMs: number;
  timeoutMs: number;
  /** The agents of a school and their kinds (absent: kinds unknown). */
  agentsOf?: AgentsOf;
}

/** Rows of a series as column → value objects. */
function rows(s: Series): Record<string, unknown>[] {
  return s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]])));
}

/** The school page's facts; undefined when the school is not registered. */
export async function schoolDetail(opts: SchoolDetailOptions) {
  const { registry: reg, id, nowMs } = opts;
  const s = reg.get(id);
  if (!s) return undefined;
  const c = opts.model.school(id, nowMs);
  const l = c?.liveness;
  const where = `"school" = ${lit(id)} AND time > ${ms(nowMs - 7 * DAY_MS)} AND time <= ${ms(nowMs)}`;
  const [agents = [], lag = [], modem = [], inventory = [], gaps = []] = await runStatements(
    opts.influx,
    [
      // Raw newest rows, not last(*): several selectors would stamp the row with the window's start.
      `SELECT "spool_reports", "spool_bytes", "dropped_reports", "uptime_s", "version" FROM "agent" WHERE ${where} GROUP BY "agent" ORDER BY time DESC LIMIT 1`,
      `SELECT last("lag_s") AS "last_lag_s", max("lag_s") AS "max_lag_s" FROM "report" WHERE "school" = ${lit(id)} AND time > ${ms(nowMs - DAY_MS)} AND time <= ${ms(nowMs)} GROUP BY "agent"`,
      `SELECT * FROM "modem" WHERE ${where} GROUP BY "device", "profile" ORDER BY time DESC LIMIT 1`,
      `SELECT last("count") AS "count" FROM "inventory" WHERE ${where} GROUP BY "class"`,
      `SELECT "duration_s", "missing_reports", "cause", "agent" FROM "gap" WHERE ${where} ORDER BY time DESC LIMIT 50`,
    ],
    opts.timeoutMs,
  );
  const byAgent = new Map<string, Record<string, unknown>>();
  for (const series of agents) {
    const r = rows(series)[0];
    if (r) byAgent.set(series.tags.agent ?? '', r);
  }
  const lagBy = new Map(lag.map((series) => [series.tags.agent ?? '', rows(series)[0] ?? {}]));
  const evidence: SchoolEvidence | undefined = (await evidenceFor({ influx: opts.influx, schools: [id], nowMs, windowMs: 7 * DAY_MS, timeoutMs: opts.timeoutMs })).get(id);
  const hub = s.hubSchoolId ? reg.get(s.hubSchoolId) : undefined;
  const place = placeOf(reg, s);
  const kinds = kindsOf(opts.agentsOf, id);
  const kindBy = new Map(kinds.map((k) => [k.agent, k.kind]));
  return {
    school: {
      id: s.id, name: s.name, type: s.type, linkType: s.linkType, contractedMbps: s.contractedMbps, students: s.students, classrooms: s.classrooms,
      lat: s.lat, lon: s.lon,
      province: { code: s.provinceCode, name: place.province }, city: { code: s.cityCode, name: place.city }, county: { code: s.countyCode, name: place.county },
      hub: s.hubSchoolId ? { id: s.hubSchoolId, name: hub?.name ?? s.hubSchoolId } : null,
    },
    trail: trail(reg, s.countyCode),
    asOf: new Date(nowMs).toISOString(),
    status: {
      status: c?.status ?? 'never_seen',
      onlineWindowMin: opts.model.onlineWindowMs / 60_000,
      lastReportAt: iso(l?.lastReportMs),
      internetAt: iso(l?.internetAtMs),
      internetLossPct: l?.internetLossPct ?? null,
      wanSpeedMbps: l?.wanSpeedBps != null ? l.wanSpeedBps / 1e6 : null,
      tier: c ? TIERS[c.tier]?.json ?? null : null,
      tierFrom: c?.tierSource ?? 'contracted',
      tierMbps: c?.speedMbps ?? null,
      measuredMbps: l?.throughputMbps ?? null,
      measuredAt: iso(l?.throughputAtMs ?? undefined),
      /** The county proxy whose report gave the reachability above (its gateway's answer), or null: the school's own agent. */
      seenBy: l?.via ?? null,
    },
    /** Which agents report the school and of which kind (full, tiny, proxy). */
    reportedBy: kinds,
    agents: [...byAgent].map(([agent, r]) => ({
      agent,
      kind: kindBy.get(agent) ?? null,
      version: String(r.version ?? ''),
      lastSampleAt: iso(r.time),
      spoolReports: r.spool_reports ?? null,
      spoolBytes: r.spool_bytes ?? null,
      droppedReports: r.dropped_reports ?? null,
      uptimeS: r.uptime_s ?? null,
      lastLagS: lagBy.get(agent)?.last_lag_s ?? null,
      maxLagS24h: lagBy.get(agent)?.max_lag_s ?? null,
    })),
    modems: modem.map((series) => {
      const r = rows(series)[0] ?? {};
      const fields: Record<string, number> = {};
      // Tags come back as string columns; the modem profile's fields are the numbers.
      for (const [k, v] of Object.entries(r)) if (k !== 'time' && typeof v === 'number') fields[k] = v;
      return { device: series.tags.device ?? '', profile: series.tags.profile ?? '', at: iso(r.time), fields };
    }),
    modemUnlockedSince: evidence?.modemUnlockedSince ?? null,
    inventory: Object.fromEntries(inventory.map((series) => [series.tags.class ?? 'unknown', (rows(series)[0]?.count as number) ?? 0])),
    gaps: gaps.flatMap(rows).map((r) => ({ at: iso(r.time), cause: String(r.cause ?? 'unknown'), agent: String(r.agent ?? ''), durationS: r.duration_s ?? null, missingReports: r.missing_reports ?? null })),
  };
}

/** The ranges the school page charts, with their bucket: a fixed ≤ 168 points per series. */
export const SERIES_RANGES = { '24h': { spanMs: DAY_MS, bucketMs: 10 * 60_000 }, '7d': { spanMs: 7 * DAY_MS, bucketMs: 3_600_000 } } as const;
export type SeriesRange = keyof typeof SERIES_RANGES;

/** Most series per chart (targets, WAN interfaces, modems): a school has a handful; this bounds a bad one. */
const MAX_SERIES = 12;

/** Time series of one school: ping per target, WAN in/out per interface, modem signal per device. */
export async function schoolSeries(opts: { influx: InfluxDB; id: string; range: SeriesRange; nowMs: number; timeoutMs: number }) {
  const { spanMs, bucketMs } = SERIES_RANGES[opts.range];
  // The bucket holding now is the last one (a point stamped exactly now is in it).
  const toMs = (Math.floor(opts.nowMs / bucketMs) + 1) * bucketMs;
  const fromMs = toMs - spanMs;
  const where = `"school" = ${lit(opts.id)} AND time >= ${ms(fromMs)} AND time < ${ms(toMs)}`;
  const by = `GROUP BY time(${bucketMs}ms)`;
  const [ping = [], wan = [], modem = []] = await runStatements(
    opts.influx,
    [
      `SELECT mean("rtt_avg_ms") AS "rtt_ms", mean("jitter_ms") AS "jitter_ms", mean("loss_pct") AS "loss_pct" FROM "ping" WHERE ${where} ${by}, "target", "role" fill(none) SLIMIT ${MAX_SERIES}`,
      `SELECT mean("in_bps") AS "in_bps", mean("out_bps") AS "out_bps" FROM "iface" WHERE "role" = 'wan' AND ${where} ${by}, "device", "ifname" fill(none) SLIMIT ${MAX_SERIES}`,
      `SELECT mean(*) FROM "modem" WHERE ${where} ${by}, "device" fill(none) SLIMIT ${MAX_SERIES}`,
    ],
    opts.timeoutMs,
  );
  return {
    range: opts.range,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucketS: bucketMs / 1000,
    ping: ping.map((s) => ({ target: s.tags.target ?? '', role: s.tags.role ?? '', columns: s.columns, values: s.values })),
    wan: wan.map((s) => ({ device: s.tags.device ?? '', ifname: s.tags.ifname ?? '', columns: s.columns, values: s.values })),
    modem: modem.map((s) => ({ device: s.tags.device ?? '', columns: s.columns.map((c) => c.replace(/^mean_/, '')), values: s.values })),
  };
}

/** History ranges of the coverage chart, with their bucket. */
export const HISTORY_RANGES = { '24h': { spanMs: DAY_MS, bucketMs: 15 * 60_000 }, '7d': { spanMs: 7 * DAY_MS, bucketMs: 3_600_000 }, '30d': { spanMs: 30 * DAY_MS, bucketMs: 6 * 3_600_000 }, '365d': { spanMs: 365 * DAY_MS, bucketMs: DAY_MS } } as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;

/** Beijing time is UTC+8 all year: buckets of a day (or 6 h) start at 00:00 China time, not 08:00. */
const CHINA_OFFSET_MS = 8 * 3_600_000;

/**
 * A region's coverage history from the `coverage` measurement (one series, ≤ 365 buckets), buckets
 * aligned to China time. `codes` (default `[code]`): the region's code and the older codes of a
 * recoded region (Registry.historyCodes), whose points count for it.
 */
export async function coverageHistory(opts: { influx: InfluxDB; level: string; code: string; codes?: readonly string[]; range: HistoryRange; nowMs: number; timeoutMs: number }) {
  const { spanMs, bucketMs } = HISTORY_RANGES[opts.range];
  // The bucket holding now is the last one (a point stamped exactly now is in it).
  const toMs = (Math.floor((opts.nowMs + CHINA_OFFSET_MS) / bucketMs) + 1) * bucketMs - CHINA_OFFSET_MS;
  const fromMs = toMs - spanMs;
  const codes = (opts.codes ?? [opts.code]).filter((c) => /^\d{6}$/.test(c));
  const region = codes.length > 1 ? `"region" =~ /^(${codes.join('|')})$/` : `"region" = ${lit(opts.code)}`;
  const [series = []] = await runStatements(
    opts.influx,
    [
      `SELECT mean("online_pct") AS "online_pct", mean("online") AS "online", mean("offline") AS "offline", mean("never_seen") AS "never_seen", mean("registered") AS "registered" FROM "coverage" WHERE "level" = ${lit(opts.level)} AND ${region} AND time >= ${ms(fromMs)} AND time < ${ms(toMs)} GROUP BY time(${bucketMs}ms) fill(none) tz('Asia/Shanghai')`,
    ],
    opts.timeoutMs,
  );
  const s = series[0];
  return { level: opts.level, code: opts.code, range: opts.range, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), bucketS: bucketMs / 1000, columns: s?.columns ?? ['time', 'online_pct', 'online', 'offline', 'never_seen', 'registered'], values: s?.values ?? [] };
}
