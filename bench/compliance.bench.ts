/**
 * GET /api/v1/compliance (cn-moe) at national and province level with 250,000 registered schools,
 * while ingest runs.
 *
 *   npx tsx bench/compliance.bench.ts [--schools 250000] [--share 0.24] [--rounds 3] [--requests 30]
 *
 * Set-up: the registry of bench/coverage.bench.ts (31 provinces × 10 cities × 10 counties); a real
 * influxd holding 7 days of reports (one every 7 h, every kind of measurement the rules read) of the
 * reporting schools of one province; the views module rebuilds its evidence from it (timed), then the
 * reports of the other reporting schools (`share` of all) are fed through `onAccepted`.
 *
 * Ingest load: accepted batches (one report each) handed to the module at 1,000 a second (60,000
 * schools on a 1-minute cycle), in 10 ms ticks; a batch's latency is from its tick's due time to
 * the end of its handling, so it includes every event-loop stall compliance work causes.
 *
 * Cases, interleaved, `rounds` times: ingest alone; national with 1 and 8 concurrent clients;
 * province with 1 and 8; the peer — today's path, InfluxQL over raw data (`at` two minutes ago) —
 * for the province with 1 client (national raw is not repeated: 27–88 s in issue 11).
 * Reported: p50/p95 per case (median over rounds, with the spread), ingest p99 per case, max
 * event-loop delay per case, and the ratios. Goals: national p95 ≤ 500 ms, province ≤ 200 ms,
 * ingest p99 under load ≤ 2× its p99 alone (and < 50 ms), event loop < 50 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createApp } from '../collector/http/app.js';
import { reportToPoints } from '../collector/ingest/points.js';
import { LiveRegistry, parseRegistry, type Registry } from '../collector/registry/index.js';
import { createInflux1Client, createInflux1Sink } from '../collector/sink/influx1.js';
import { startInfluxd } from '../collector/sink/influxd.js';
import { openStateDb } from '../collector/state/db.js';
import { createViewsModule } from '../collector/views/index.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../protocol/index.js';
import { registryCsv } from './coverage.bench.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

/** Monday 10:00 China time: inside school hours, so every window has today's piece. */
const START = Date.parse('2026-11-23T10:00:00+08:00');
const DAY = 86_400_000;
const PROVINCE = '110000';

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const median = (xs: number[]): number => pct([...xs].sort((a, b) => a - b), 50);
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

function measurements(i: number, k: number): Measurement[] {
  const lossy = (i + k) % 13 === 0;
  return [
    { name: 'ping', tags: { target: '223.5.5.5', role: 'internet' }, fields: { loss_pct: lossy ? 100 : 0, sent: 5, received: lossy ? 0 : 5, result_code: lossy ? 2 : 0, ...(lossy ? {} : { rtt_avg_ms: 20 + (i % 30), jitter_ms: 1 + (k % 4) }) } },
    ...(i % 4 === 0 ? [{ name: 'ping', tags: { target: '2400:3200::1', role: 'internet' }, fields: { loss_pct: 0, sent: 5, received: 5, result_code: 0, rtt_avg_ms: 30 } } as Measurement] : []),
    { name: 'ping', tags: { target: 'hub.example', role: 'peer' }, fields: { loss_pct: k % 9 === 0 ? 20 : 0, sent: 5, received: 5, result_code: 0, rtt_avg_ms: 40 + (i % 600), jitter_ms: 3 } },
    { name: 'iface', tags: { device: 'gw', ifname: 'wan0', role: 'wan' }, fields: { speed_bps: [1e9, 1e8, 5e7, 1e7, 2e6][i % 5] as number, in_bps: 1e6 * (1 + ((i * 7 + k) % 90)), oper_up: 1 } },
    { name: 'inventory', tags: { class: 'ap' }, fields: { count: i % 6 } },
    { name: 'inventory', tags: { class: 'pc' }, fields: { count: 10 + (i % 50) } },
    { name: 'inventory', tags: { class: 'display' }, fields: { count: i % 20 } },
  ];
}

function report(school: string, i: number, k: number, atMs: number): Report {
  return { v: PROTOCOL_VERSION, school, agent: 'gw', seq: k + 1, collectedAt: atMs, sentAt: atMs, measurements: measurements(i, k) };
}

/** Reports every 7 h over the last 7 days, the newest at most 2 h old. */
function history(school: string, i: number): Report[] {
  const out: Report[] = [];
  for (let k = 0, t = START - 7 * DAY + ((i * 977) % (7 * 3_600_000)); t < START - 60_000; k++, t += 7 * 3_600_000) out.push(report(school, i, k, t));
  return out;
}

export async function run(options: { schools?: number; share?: number; rounds?: number; requests?: number } = {}): Promise<BenchResult> {
  const SCHOOLS = options.schools ?? arg('schools', 250_000);
  const SHARE = options.share ?? arg('share', 0.24);
  const ROUNDS = options.rounds ?? arg('rounds', 3);
  const REQUESTS = options.requests ?? arg('requests', 30);
  const dir = mkdtempSync(join(tmpdir(), 'cl-bench-compliance-'));
  const log = pino({ level: 'silent' });
  const influxd = await startInfluxd({ dataDir: join(dir, 'influxdb'), log, readyTimeoutMs: 30_000 });
  const t0 = performance.now();
  const now = (): number => START + (performance.now() - t0);
  try {
    const registry: Registry = parseRegistry(registryCsv(SCHOOLS), { source: 'bench.csv' });
    const ids = [...registry.schools.keys()];
    const step = Math.max(1, Math.round(1 / SHARE));
    const reporting = ids.map((id, i) => ({ id, i })).filter((x) => x.i % step === 0);
    const inProvince = reporting.filter((x) => registry.get(x.id)?.provinceCode === PROVINCE);

    // The province's week of reports into influxd, as ingest writes them.
    const sink = createInflux1Sink({ url: influxd.url, database: 'campuslink', maxBatchPoints: 5000 });
    let points = 0;
    for (let j = 0; j < inProvince.length; j += 200) {
      const batch = inProvince.slice(j, j + 200).flatMap(({ id, i }) => history(id, i).flatMap((r) => reportToPoints({ report: r, tags: registry.tagsFor(id) as never, receivedAtMs: r.sentAt })));
      points += batch.length;
      await sink.write(batch);
    }

    const state = openStateDb({ stateDir: dir });
    const views = createViewsModule(
      { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(bench)', initial: registry }), stateDir: dir, state, sink, influx: createInflux1Client({ url: influxd.url, database: 'campuslink' }), log, now },
      { settings: { coverageIntervalS: 0, livenessSaveIntervalS: Number(process.env.SAVE_S ?? 10), complianceProfilesDir: 'config/compliance' } },
    );
    let t = performance.now();
    await views.start!();
    await views.live()!.rebuilt();
    const rebuildMs = performance.now() - t;
    t = performance.now();
    let fed = 0;
    for (const { id, i } of reporting) {
      if (registry.get(id)?.provinceCode === PROVINCE) continue;
      for (const r of history(id, i)) views.onAccepted!({ school: id, reports: [r], receivedAtMs: r.sentAt });
      fed++;
    }
    const feedMs = performance.now() - t;
    await views.live()!.refreshAll();
    await views.saveState();

    const app = createApp({ sink, tokens: { verify: () => undefined }, schools: registry, log, now, maxBodyBytes: 1 << 20, retryAfterS: 1, modules: [views] } as never);
    const server: Server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // Steady ingest: 10 batches per 10 ms tick, latency from the tick's due time.
    let ingestLat: number[] = [];
    let k = 0;
    const due = { at: performance.now() };
    // Ticks missed during a stall are handled when the loop is free again, as queued uploads would be.
    const tick = setInterval(() => {
      while (due.at <= performance.now()) {
        for (let b = 0; b < 10; b++, k++) {
          const x = reporting[(k * 7919) % reporting.length] as { id: string; i: number };
          const at = now();
          views.onAccepted!({ school: x.id, reports: [report(x.id, x.i, 1000 + k, at)], receivedAtMs: at });
        }
        ingestLat.push(performance.now() - due.at);
        due.at += 10;
      }
    }, 10);

    const get = async (path: string, expectSchools: number): Promise<number> => {
      const q0 = performance.now();
      const res = await fetch(`${base}${path}`);
      const body = (await res.json()) as { schools?: number };
      if (res.status !== 200 || body.schools !== expectSchools) throw new Error(`${path}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      return performance.now() - q0;
    };
    const provinceSchools = registry.provinces.get(PROVINCE)?.schoolCount ?? 0;
    const cases: { name: string; clients: number; requests: number; path: () => string; schools: number }[] = [
      { name: 'national, 1 client', clients: 1, requests: REQUESTS, path: () => '/api/v1/compliance?level=national', schools: registry.schools.size },
      { name: 'national, 8 clients', clients: 8, requests: REQUESTS, path: () => '/api/v1/compliance?level=national', schools: registry.schools.size },
      { name: 'province, 1 client', clients: 1, requests: REQUESTS, path: () => `/api/v1/compliance?level=province&code=${PROVINCE}`, schools: provinceSchools },
      { name: 'province, 8 clients', clients: 8, requests: REQUESTS, path: () => `/api/v1/compliance?level=province&code=${PROVINCE}`, schools: provinceSchools },
      {
        name: 'peer: province from raw InfluxQL, 1 client',
        clients: 1,
        requests: Math.max(3, Math.round(REQUESTS / 6)),
        path: () => `/api/v1/compliance?level=province&code=${PROVINCE}&at=${encodeURIComponent(new Date(now() - 120_000).toISOString())}`,
        schools: provinceSchools,
      },
    ];
    const results = new Map<string, { p50: number[]; p95: number[]; ingestP99: number[]; loopMax: number[] }>();
    const record = (name: string, lat: number[], ingest: number[], loopMaxMs: number): void => {
      let r = results.get(name);
      if (!r) results.set(name, (r = { p50: [], p95: [], ingestP99: [], loopMax: [] }));
      const s = [...lat].sort((a, b) => a - b);
      r.p50.push(pct(s, 50));
      r.p95.push(pct(s, 95));
      r.ingestP99.push(pct([...ingest].sort((a, b) => a - b), 99));
      r.loopMax.push(loopMaxMs);
    };
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    // Warm-up: one of each.
    for (const c of cases) await get(c.path(), c.schools);
    for (let round = 0; round < ROUNDS; round++) {
      ingestLat = [];
      loop.reset();
      await new Promise((r) => setTimeout(r, 3000));
      record('ingest alone', [0], ingestLat, loop.max / 1e6);
      for (const c of cases) {
        ingestLat = [];
        loop.reset();
        const lat: number[] = [];
        let left = c.requests;
        await Promise.all(
          Array.from({ length: c.clients }, async () => {
            while (left-- > 0) lat.push(await get(c.path(), c.schools));
          }),
        );
        record(c.name, lat, ingestLat, loop.max / 1e6);
      }
    }
    clearInterval(tick);
    loop.disable();
    server.close();
    await views.stop!();
    await state.close();
    await sink.close();

    const rss = process.memoryUsage().rss;
    const m = (name: string, f: 'p50' | 'p95' | 'ingestP99' | 'loopMax'): number => median(results.get(name)?.[f] ?? [NaN]);
    console.log(`compliance bench: ${SCHOOLS} registered, ${reporting.length} with evidence (${inProvince.length} of province ${PROVINCE}'s ${provinceSchools} also in influxd: ${points} points), ${ROUNDS} rounds, node ${process.version}`);
    console.log(`evidence rebuild from influxd (${registry.counties.size} counties): ${(rebuildMs / 1000).toFixed(1)} s; ${fed} schools' week fed through onAccepted: ${(feedMs / 1000).toFixed(1)} s; RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
    for (const [name, r] of results) {
      console.log(
        `${name.padEnd(44)} p50 ${median(r.p50).toFixed(1).padStart(8)} ms (${spread(r.p50)})  p95 ${median(r.p95).toFixed(1).padStart(8)} ms (${spread(r.p95)})  ingest p99 ${median(r.ingestP99).toFixed(1).padStart(6)} ms (${spread(r.ingestP99)})  loop max ${median(r.loopMax).toFixed(1)} ms`,
      );
    }
    const peer = 'peer: province from raw InfluxQL, 1 client';
    const ratioProvince = m('province, 1 client', 'p95') / m(peer, 'p95');
    const ingestAlone = m('ingest alone', 'ingestP99');
    const ingestWorst = Math.max(...cases.filter((c) => !c.name.startsWith('peer')).map((c) => m(c.name, 'ingestP99')));
    const loopWorst = Math.max(...cases.filter((c) => !c.name.startsWith('peer')).map((c) => m(c.name, 'loopMax')));
    const natP95 = Math.max(m('national, 1 client', 'p95'), m('national, 8 clients', 'p95'));
    const provP95 = Math.max(m('province, 1 client', 'p95'), m('province, 8 clients', 'p95'));
    console.log(`ratios: province p95 live / raw InfluxQL peer ${ratioProvince.toFixed(4)} (${(1 / ratioProvince).toFixed(0)}× faster); national p95 8 / 1 clients ${(m('national, 8 clients', 'p95') / m('national, 1 client', 'p95')).toFixed(2)}; ingest p99 worst under load / alone ${(ingestWorst / ingestAlone).toFixed(2)}`);
    const pass = natP95 <= 500 && provP95 <= 200 && loopWorst < 50 && ingestWorst <= Math.max(2 * ingestAlone, ingestAlone + 5);
    return {
      name: `compliance API (cn-moe) with ${SCHOOLS} registered schools during ingest`,
      figures: {
        national_p95_ms_1: Number(m('national, 1 client', 'p95').toFixed(1)),
        national_p95_ms_8: Number(m('national, 8 clients', 'p95').toFixed(1)),
        province_p95_ms_1: Number(m('province, 1 client', 'p95').toFixed(1)),
        province_p95_ms_8: Number(m('province, 8 clients', 'p95').toFixed(1)),
        peer_raw_province_p95_ms: Number(m(peer, 'p95').toFixed(1)),
        ingest_p99_ms_alone: Number(ingestAlone.toFixed(1)),
        ingest_p99_ms_worst_under_load: Number(ingestWorst.toFixed(1)),
        event_loop_max_ms_worst: Number(loopWorst.toFixed(1)),
        rebuild_s: Number((rebuildMs / 1000).toFixed(1)),
        rss_mb: Number((rss / 2 ** 20).toFixed(0)),
      },
      ratio: Math.max(natP95 / 500, provP95 / 200),
      goal: 'max(national p95 ÷ 500 ms, province p95 ÷ 200 ms) ≤ 1, event loop < 50 ms, ingest p99 under load ≤ 2× alone',
      pass,
    };
  } finally {
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
