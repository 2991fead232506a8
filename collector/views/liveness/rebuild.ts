/**
 * Rebuilds liveness from InfluxDB when no saved state exists (first start, or a lost state directory).
 *
 * Five `last()` queries grouped by school (and by target or interface) over a bounded window; for a
 * school watched by a county proxy the gateway's answer to the proxy counts as its internet answer. Cost:
 * InfluxDB reads the window's shards of every matching series, so time and memory grow with
 * schools × series per school × points in the window; with a 24 h window and one report a minute that
 * is ≈1,440 points per series. It runs once, before the collector listens.
 */
import type { InfluxDB } from 'influx';
import { ms, runStatements } from '../influxql.js';
import type { Liveness, LivenessStore } from './store.js';

export interface RebuildOptions {
  influx: InfluxDB;
  store: LivenessStore;
  nowMs: number;
  /** How far back to look, ms. */
  windowMs: number;
  /** How far back to look for throughput tests (a few a day), ms; default `windowMs`. */
  throughputWindowMs?: number;
  timeoutMs: number;
}

/** Fills `store` from InfluxDB; returns how many schools were found. */
export async function rebuildLiveness({ influx, store, nowMs, windowMs, throughputWindowMs, timeoutMs }: RebuildOptions): Promise<number> {
  const since = `time > ${ms(nowMs - windowMs)}`;
  const [reports = [], pings = [], ifaces = [], tests = [], proxied = []] = await runStatements(
    influx,
    [
      `SELECT last("seq") FROM "report" WHERE ${since} GROUP BY "school"`,
      `SELECT last("loss_pct") FROM "ping" WHERE "role" = 'internet' AND "agent" !~ /^proxy-/ AND ${since} GROUP BY "school", "target"`,
      `SELECT last("speed_bps") FROM "iface" WHERE "role" = 'wan' AND ${since} GROUP BY "school", "device", "ifname"`,
      `SELECT last("down_mbps") FROM "throughput" WHERE "result_code" = 0 AND time > ${ms(nowMs - (throughputWindowMs ?? windowMs))} GROUP BY "school", "server"`,
      // County proxies (agent ids `proxy-<name>`, assigned at enrollment): the school's gateway answering the proxy.
      `SELECT last("loss_pct") FROM "ping" WHERE "role" = 'gateway' AND "agent" =~ /^proxy-/ AND ${since} GROUP BY "school", "agent", "target"`,
    ],
    timeoutMs,
  );
  const facts = new Map<string, Liveness>();
  const entry = (school: string): Liveness => {
    let l = facts.get(school);
    if (!l) facts.set(school, (l = { lastReportMs: 0, internetAtMs: null, internetLossPct: null, wanSpeedBps: null, wanAtMs: null, throughputMbps: null, throughputAtMs: null }));
    return l;
  };
  for (const s of reports) {
    const school = s.tags.school;
    const t = s.values[0]?.[0];
    if (school && typeof t === 'number') entry(school).lastReportMs = Math.max(entry(school).lastReportMs, t);
  }
  for (const s of pings) {
    const school = s.tags.school;
    const [t, loss] = (s.values[0] ?? []) as [unknown, unknown];
    if (!school || typeof t !== 'number' || typeof loss !== 'number') continue;
    const l = entry(school);
    // Several internet targets: the newest report's targets count; of those, the one that answered best.
    if (l.internetAtMs === null || t > l.internetAtMs) [l.internetAtMs, l.internetLossPct] = [t, loss];
    else if (t === l.internetAtMs) l.internetLossPct = Math.min(l.internetLossPct ?? 100, loss);
  }
  for (const s of proxied) {
    const school = s.tags.school;
    const [t, loss] = (s.values[0] ?? []) as [unknown, unknown];
    if (!school || typeof t !== 'number' || typeof loss !== 'number') continue;
    const l = entry(school);
    if (l.internetAtMs === null || t > l.internetAtMs) [l.internetAtMs, l.internetLossPct, l.via] = [t, loss, s.tags.agent ?? null];
    else if (t === l.internetAtMs) l.internetLossPct = Math.min(l.internetLossPct ?? 100, loss);
  }
  for (const s of ifaces) {
    const school = s.tags.school;
    const [t, speed] = (s.values[0] ?? []) as [unknown, unknown];
    if (!school || typeof t !== 'number' || typeof speed !== 'number') continue;
    const l = entry(school);
    l.wanSpeedBps = Math.max(l.wanSpeedBps ?? 0, speed);
    l.wanAtMs = Math.max(l.wanAtMs ?? 0, t);
  }
  for (const s of tests) {
    const school = s.tags.school;
    const [t, down] = (s.values[0] ?? []) as [unknown, unknown];
    if (!school || typeof t !== 'number' || typeof down !== 'number') continue;
    const l = entry(school);
    // The newest test decides (as livenessOf does); tests of one report against two servers: the faster.
    if (l.throughputAtMs == null || t > l.throughputAtMs) [l.throughputAtMs, l.throughputMbps] = [t, down];
    else if (t === l.throughputAtMs) l.throughputMbps = Math.max(l.throughputMbps ?? 0, down);
  }
  for (const [school, l] of facts) {
    if (l.lastReportMs === 0) l.lastReportMs = Math.max(l.internetAtMs ?? 0, l.wanAtMs ?? 0);
    store.apply(school, l);
  }
  return facts.size;
}
