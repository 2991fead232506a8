/**
 * GET /api/v1/coverage at national level with 250,000 registered schools, every one with live state.
 *
 *   npx tsx --expose-gc bench/coverage.bench.ts [--schools 250000] [--requests 300]
 *
 * Measures: registry load time (parseRegistry of the generated CSV), collector heap/RSS with the registry
 * and the liveness + coverage model loaded, and p50/p95 latency of the HTTP request through the real
 * express app, (a) with nothing changed between requests (cached rollup) and (b) with 500 accepted
 * reports between requests (every request rolls up again). Peer, measured in the same run: a naive
 * rollup that walks every school per request; the ratio is naive p95 / incremental p95.
 * Goal (issue 5): p95 ≤ 200 ms. No InfluxDB is needed: the live part never queries it.
 */
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createApp } from '../collector/http/app.js';
import { AliasTable, BUILT_IN_ALIASES } from '../collector/registry/aliases.js';
import { LiveRegistry, parseRegistry, type Registry } from '../collector/registry/index.js';
import { createInflux1Client } from '../collector/sink/influx1.js';
import { openStateDb } from '../collector/state/db.js';
import { NF, F } from '../collector/views/coverage/model.js';
import { bandwidthOf, isSatellite, linkIndex, tierOf } from '../collector/views/coverage/tiers.js';
import { createViewsModule } from '../collector/views/index.js';
import { onlineUntilMs } from '../collector/views/liveness/store.js';
import { PROTOCOL_VERSION, type Report } from '../protocol/index.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SCHOOLS = arg('schools', 250_000);
const REQUESTS = arg('requests', 300);
const NOW = Date.parse('2026-11-23T16:00:00+08:00');
const gc = (globalThis as { gc?: () => void }).gc;
const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const mem = () => {
  gc?.();
  return process.memoryUsage();
};

const IN_FORCE = new AliasTable(BUILT_IN_ALIASES);

/**
 * 31 provinces × 10 cities × 10 counties, schools spread evenly (also used by bench/compliance.bench.ts). A
 * generated county code that was abolished (410306 吉利区) is replaced by its successor, which the registry
 * would otherwise refuse with the row: every one of the `n` schools is registered.
 */
export function registryCsv(n: number): string {
  const lines = ['school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon'];
  const links = ['fiber', 'fiber', 'fiber', 'dsl', 'cellular', 'microwave', 'sat-geo', 'sat-leo'];
  for (let i = 0; i < n; i++) {
    const p = 11 + (i % 31);
    const c = 1 + (Math.floor(i / 31) % 10);
    const k = 1 + (Math.floor(i / 310) % 10);
    const pc = `${p}0000`;
    const cc = `${p}${String(c).padStart(2, '0')}00`;
    const kc = IN_FORCE.current(`${p}${String(c).padStart(2, '0')}${String(k).padStart(2, '0')}`);
    const id = `${kc}${String(i).padStart(6, '0')}`.slice(-10).replace(/^0/, '1');
    lines.push(`${id},学校${i},primary,${pc},省${p},${cc},市${cc},${kc},县${kc},${links[i % links.length]},${[1000, 300, 100, 50, 20, 8, 2, 1][i % 8]},500,12,30,110`);
  }
  return lines.join('\n');
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The peer: what a non-incremental view does per request — walk every school, then roll up. */
function naiveRollup(reg: Registry, live: (id: string) => Parameters<typeof onlineUntilMs>[0], now: number): Int32Array {
  const national = new Int32Array(NF);
  const byCounty = new Map<string, Int32Array>();
  for (const s of reg.schools.values()) {
    let c = byCounty.get(s.countyCode);
    if (!c) byCounty.set(s.countyCode, (c = new Int32Array(NF)));
    const l = live(s.id);
    c[F.registered]!++;
    if (!l) c[F.neverSeen]!++;
    else if (onlineUntilMs(l, 15 * 60_000) > now) c[F.online]!++;
    const bw = bandwidthOf({ throughputMbps: l?.throughputMbps, throughputAtMs: l?.throughputAtMs, contractedMbps: s.contractedMbps }, now, 7 * 86_400_000);
    if (bw.mbps === null) c[F.tierUnknown]!++;
    else c[F.tier + tierOf(bw.mbps)]!++;
    if (bw.source === 'measured') c[F.measured]!++;
    if (isSatellite(s.linkType)) c[F.satellite]!++;
    c[F.link + linkIndex(s.linkType)]!++;
  }
  for (const c of byCounty.values()) c.forEach((v, f) => (national[f] = (national[f] as number) + v));
  return national;
}

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const base0 = mem();
  const text = registryCsv(SCHOOLS);
  let t = performance.now();
  const registry = parseRegistry(text, { source: 'bench.csv' });
  const loadMs = performance.now() - t;
  const afterRegistry = mem();

  const log = pino({ level: 'silent' });
  let now = NOW;
  const views = createViewsModule(
    // The live view never queries InfluxDB; the client points at a loopback port nothing listens on.
    { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(bench)', initial: registry }), stateDir: '/nonexistent', state: openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-bench-coverage-')) }), sink: { write: async () => undefined, ready: async () => true, close: async () => undefined }, influx: createInflux1Client({ url: 'http://127.0.0.1:9' }), log, now: () => now },
    { settings: { coverageIntervalS: 0 } },
  );
  const ids = [...registry.schools.keys()];
  const report = (school: string, i: number, at: number): Report => ({
    v: PROTOCOL_VERSION, school, agent: 'gw', seq: i + 1, collectedAt: at, sentAt: at,
    measurements: [
      { name: 'ping', tags: { target: '1.1.1.1', role: 'internet' }, fields: { loss_pct: i % 10 === 0 ? 100 : 0, sent: 5, received: i % 10 === 0 ? 0 : 5, result_code: 0 } },
      { name: 'iface', tags: { device: 'gw', ifname: 'wan0', role: 'wan' }, fields: { speed_bps: [1e9, 1e8, 1e7][i % 3] as number, oper_up: 1 } },
      ...(i % 4 === 0 ? [{ name: 'throughput' as const, tags: { server: 'iperf' }, fields: { down_mbps: [950, 95, 9.5][i % 3] as number, bytes_used: 1e7, duration_ms: 22_000, capped: 0 as const, result_code: 0 } }] : []),
    ],
  });
  t = performance.now();
  ids.forEach((id, i) => views.onAccepted!({ school: id, reports: [report(id, i, NOW - (i % 30) * 60_000)], receivedAtMs: NOW }));
  const liveMs = performance.now() - t;
  const afterLive = mem();

  const app = createApp({ sink: { write: async () => undefined, ready: async () => true, close: async () => undefined }, tokens: { verify: () => undefined }, schools: registry, log, now: () => now, maxBodyBytes: 1 << 20, retryAfterS: 1, modules: [views] });
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/coverage?level=national`;
  const timeRequests = async (between: () => void): Promise<number[]> => {
    const out: number[] = [];
    for (let r = 0; r < REQUESTS; r++) {
      between();
      const t0 = performance.now();
      const res = await fetch(url);
      const body = (await res.json()) as { registered: number };
      out.push(performance.now() - t0);
      if (body.registered !== SCHOOLS) throw new Error(`wrong answer: ${JSON.stringify(body).slice(0, 200)}`);
    }
    return out.sort((a, b) => a - b);
  };
  for (let w = 0; w < 20; w++) await (await fetch(url)).json();
  const cached = await timeRequests(() => undefined);
  let k = 0;
  const churn = await timeRequests(() => {
    now += 1000;
    for (let j = 0; j < 500; j++, k++) {
      const id = ids[(k * 7919) % ids.length] as string;
      views.onAccepted!({ school: id, reports: [report(id, k, now)], receivedAtMs: now });
    }
  });
  const naive: number[] = [];
  for (let r = 0; r < Math.min(REQUESTS, 50); r++) {
    const t0 = performance.now();
    naiveRollup(registry, (id) => views.store.get(id), now);
    naive.push(performance.now() - t0);
  }
  naive.sort((a, b) => a - b);
  server.close();

  const line = (name: string, s: number[]) => `${name.padEnd(44)} p50 ${pct(s, 50).toFixed(2).padStart(7)} ms   p95 ${pct(s, 95).toFixed(2).padStart(7)} ms`;
  console.log(`coverage bench: ${SCHOOLS} schools, ${registry.counties.size} counties, ${REQUESTS} requests per case, node ${process.version}${gc ? '' : ' (run with --expose-gc for exact memory)'}`);
  console.log(`registry load (parseRegistry)               ${loadMs.toFixed(0)} ms`);
  console.log(`liveness for every school (onAccepted)      ${liveMs.toFixed(0)} ms`);
  console.log(`heap: base ${mb(base0.heapUsed)}, +registry ${mb(afterRegistry.heapUsed - base0.heapUsed)}, +liveness and model ${mb(afterLive.heapUsed - afterRegistry.heapUsed)}; RSS ${mb(afterLive.rss)}`);
  console.log(line('GET national, nothing changed (cached)', cached));
  console.log(line('GET national, 500 reports between requests', churn));
  console.log(line('peer: naive walk over every school (no HTTP)', naive));
  console.log(`ratio naive p95 / incremental p95 (with churn): ${(pct(naive, 95) / pct(churn, 95)).toFixed(1)}x; goal p95 <= 200 ms: ${pct(churn, 95) <= 200 ? 'met' : 'MISSED'}`);
  return {
    name: `coverage API, national level, ${SCHOOLS} schools with live state`,
    figures: {
      registry_load_ms: Number(loadMs.toFixed(0)),
      p50_ms_with_churn: Number(pct(churn, 50).toFixed(2)),
      p95_ms_with_churn: Number(pct(churn, 95).toFixed(2)),
      p95_ms_cached: Number(pct(cached, 95).toFixed(2)),
      naive_peer_p95_ms: Number(pct(naive, 95).toFixed(2)),
      rss_mb: Number((afterLive.rss / 2 ** 20).toFixed(0)),
    },
    ratio: pct(churn, 95) / 200,
    goal: 'p95 with churn ÷ 200 ms ≤ 1',
    pass: pct(churn, 95) <= 200,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
