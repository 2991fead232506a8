/**
 * The national hub at full size: 32 simulated provinces, ~3,000 counties in all (94 counties and 10 cities
 * each, 105 regions per roll-up), every province rolling up once a minute, with time compressed: roll-ups
 * are sent at `--rate` per second (16/s = 30 × the real 32 per minute) to a hub started as in production
 * (`campuslink-collector serve` with role national, its own influxd).
 *
 *   npx tsx bench/hub.bench.ts [--rate 16] [--seconds 15] [--pairs 3]
 *
 * Each pair runs, interleaved (order alternating): (a) the hub phase, POST /api/v1/rollups (gzip, one
 * roll-up per request, every province its next sequence) with the ack latency of each; (b) the peer phase,
 * the same roll-ups' points as raw line protocol (`rollup_peer` measurement) POSTed to the same influxd's
 * /write at the same rate. Figures: ack latency p50/p99 and the peer's write latency p50/p99 (median of the
 * pairs, with min–max), the ratio hub p50 / peer p50, the hub's CPU (share of one core) and the influxd's
 * in both phases, the hub's RSS, its event-loop max delay, and the headroom factor: (rate / real rate) /
 * hub CPU share, how many times the real load one core would take.
 * Goal: headroom ≥ 10 and hub ack p99 ≤ 1 s.
 *
 * Then the province side, in this process: building the roll-up of one province of `--schools` schools
 * (60,000: 10 cities × 12 counties, 80 % reported) from the coverage model, interleaved with its peer, the
 * coverage model's own per-region counters (`model.rollup()` after a change, what the coverage API does);
 * the build's wall time, CPU and its longest stretch without yielding (a 1 ms timer's largest gap).
 * Goal: longest stretch ≤ 50 ms.
 */
import { gzipSync } from 'node:zlib';
import { AliasTable } from '../collector/registry/aliases.js';
import { parseRegistry, type Registry } from '../collector/registry/index.js';
import { buildRegionAggregates, type RollupSources } from '../collector/rollup/build.js';
import { CoverageModel } from '../collector/views/coverage/model.js';
import { LivenessStore, livenessOf } from '../collector/views/liveness/store.js';
import { makeReport, typicalMeasurements } from '../test/helpers/reports.js';
import { issueCodes } from '../collector/enroll/codes.js';
import { rollupLines } from '../collector/hub/points.js';
import type { RegionAggregate, Rollup } from '../protocol/rollup.js';
import { startCli } from '../test/helpers/cli.js';
import { startTestInfluxd } from '../test/helpers/influxd.js';
import { tempDir, freePort } from '../test/fault/harness.js';
import { cpuMs, rssBytes } from './fleet/procstat.js';
import type { BenchResult } from './snmp-poll.bench.js';

/** One province of `n` schools: 10 cities × 12 counties, structure-only codes. */
function provinceRegistry(n: number): Registry {
  const lines = ['school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon'];
  const links = ['fiber', 'fiber', 'fiber', 'dsl', 'cellular', 'microwave', 'sat-geo', 'sat-leo'];
  for (let i = 0; i < n; i++) {
    const c = String(1 + (i % 10)).padStart(2, '0');
    const k = String(1 + (Math.floor(i / 10) % 12)).padStart(2, '0');
    lines.push(`32${c}${k}${String(Math.floor(i / 120)).padStart(4, '0')},学校${i},primary,320000,江苏省,32${c}00,市${c},32${c}${k},县${c}${k},${links[i % links.length]},${[1000, 300, 100, 50, 20, 8, 2, 1][i % 8]},500,12,32,119`);
  }
  return parseRegistry(lines.join('\n'), { source: 'bench-province.csv', aliases: new AliasTable([]) });
}

/** (b) The province side: the roll-up build at `n` schools against the coverage model's own rollup, interleaved. */
async function provinceBuild(n: number, pairs: number): Promise<Record<string, string | number>> {
  const reg = provinceRegistry(n);
  if (reg.schools.size !== n) throw new Error(`registry holds ${reg.schools.size} of ${n} schools`);
  const now = Date.now();
  const store = new LivenessStore();
  let k = 0;
  for (const s of reg.schools.values()) if (k++ % 5 !== 0) store.apply(s.id, livenessOf(makeReport({ school: s.id, seq: 1, collectedAt: now - 60_000, sentAt: now, measurements: typicalMeasurements(k) })));
  const model = new CoverageModel({ registry: reg, store, onlineWindowMs: 15 * 60_000, nowMs: now });
  const src: RollupSources = { registry: () => reg, model: () => model, schoolHours: () => undefined, compliance: () => undefined, alerts: () => [] };
  const ids = [...reg.schools.keys()];
  const builds: number[] = [];
  const buildCpu: number[] = [];
  const peers: number[] = [];
  let longest = 0;
  let regions = 0;
  for (let p = 0; p < pairs; p++) {
    const build = async () => {
      let last = performance.now();
      const timer = setInterval(() => {
        const t = performance.now();
        longest = Math.max(longest, t - last);
        last = t;
      }, 1);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      regions = (await buildRegionAggregates(src, '32', now)).length;
      builds.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      buildCpu.push((c.user + c.system) / 1000);
      clearInterval(timer);
      longest = Math.max(longest, performance.now() - last);
    };
    const peer = () => {
      model.update(ids[p % ids.length] as string, now);
      const t0 = performance.now();
      model.rollup(now);
      peers.push(performance.now() - t0);
    };
    if (p % 2 === 0) {
      await build();
      peer();
    } else {
      peer();
      await build();
    }
  }
  return {
    [`province build at ${n} schools (${regions} regions), wall ms (median, min–max)`]: spread(builds),
    'province build CPU ms': spread(buildCpu),
    'peer: coverage model rollup() after a change, ms': spread(peers, 2),
    'province build / peer (CPU)': (median(buildCpu) / median(peers)).toFixed(1),
    'province build longest stretch without yielding, ms': longest.toFixed(1),
  };
}

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const spread = (xs: number[], digits = 1) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

/** The 31 mainland provinces and one more code, as 32 provincial collectors. */
const PROVINCES = ['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '66'];
/** Real-time load: every province once a minute. */
const REAL_PER_S = PROVINCES.length / 60;

function region(code: string, level: RegionAggregate['level'], registered: number, online: number): RegionAggregate {
  const offline = Math.floor((registered - online) / 2);
  return {
    region: code,
    level,
    registered,
    online,
    offline,
    neverSeen: registered - online - offline,
    schoolHoursOnlinePct: 80 + (registered % 20),
    schoolHours: { days: 7, onlineHours: registered * 30, schoolHours: registered * 40 },
    tiers: { '1000': { measured: online >> 2, contracted: online >> 3 }, '100': { measured: online >> 2, contracted: registered >> 3 }, '20': { measured: 1, contracted: 2 }, '2': { measured: 0, contracted: 1 }, lt2: { measured: 0, contracted: 0 } },
    tierUnknown: 3,
    links: { fiber: registered - 20, dsl: 5, cellular: 5, microwave: 2, 'sat-geo': 6, 'sat-leo': 2 },
    compliance: Object.fromEntries(['CN-BB-01', 'CN-BB-02', 'CN-BB-03', 'CN-BB-05', 'CN-DC-01', 'CN-DC-02', 'CN-DC-03', 'CN-DC-04', 'CN-DC-05'].map((r) => [r, { pass: online, fail: registered - online - 1, unknown: 1 }])),
    alertsFiring: { 'school-offline': offline, 'link-loss': 2, 'link-rtt': 1 },
  };
}

/** A province's roll-up: 10 cities, 94 counties, ~170 schools per county. */
function rollupOf(p: string, collector: string, seq: number, asOf: number): Rollup {
  const counties: RegionAggregate[] = [];
  const cities: RegionAggregate[] = [];
  for (let c = 1; c <= 10; c++) {
    const under: RegionAggregate[] = [];
    for (let k = 1; k <= (c <= 4 ? 10 : 9); k++) under.push(region(`${p}${String(c).padStart(2, '0')}${String(k).padStart(2, '0')}`, 'county', 170, 120 + ((seq + k + c) % 40)));
    counties.push(...under);
    cities.push(region(`${p}${String(c).padStart(2, '0')}00`, 'city', under.reduce((n, g) => n + g.registered, 0), under.reduce((n, g) => n + g.online, 0)));
  }
  const province = region(`${p}0000`, 'province', cities.reduce((n, g) => n + g.registered, 0), cities.reduce((n, g) => n + g.online, 0));
  return { v: 1, province: p, collector, epoch: 'benchepoch0001', seq, asOf, sentAt: asOf, consoleUrl: `https://collector-${p}.example.cn/console`, regions: [province, ...cities, ...counties] };
}

interface Phase {
  latMs: number[];
  hubCpuShare: number;
  influxCpuShare: number;
  errors: number;
}

/** Fires `send` at `rate` per second for `seconds` (open loop: a slow answer does not slow the offered rate). */
async function drive(rate: number, seconds: number, send: (i: number) => Promise<boolean>, pids: { hub: number; influx: number }): Promise<Phase> {
  const latMs: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const cpu0 = { hub: cpuMs(pids.hub), influx: cpuMs(pids.influx) };
  const t0 = performance.now();
  const n = Math.round(rate * seconds);
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    inflight.push(
      send(i).then(
        (ok) => {
          if (ok) latMs.push(performance.now() - s);
          else errors++;
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  const wall = performance.now() - t0;
  return { latMs, errors, hubCpuShare: (cpuMs(pids.hub) - cpu0.hub) / wall, influxCpuShare: (cpuMs(pids.influx) - cpu0.influx) / wall };
}

export async function run(): Promise<BenchResult> {
  const rate = arg('rate', 16);
  const seconds = arg('seconds', 15);
  const pairs = arg('pairs', 3);
  const province = await provinceBuild(arg('schools', 60_000), Math.max(3, pairs));
  const longestMs = Number(province['province build longest stretch without yielding, ms']);
  const influx = await startTestInfluxd();
  const stateDir = tempDir('hub-bench');
  const port = await freePort();
  const hub = await startCli('collector', ['serve'], {
    env: { CAMPUSLINK_ROLE: 'national', CAMPUSLINK_STATE_DIR: stateDir, CAMPUSLINK_INFLUX_URL: influx.url, CAMPUSLINK_LISTEN: `127.0.0.1:${port}`, CAMPUSLINK_LOG_LEVEL: 'warn' },
    ready: /listening on (http\S+)/,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const pids = { hub: hub.child.pid as number, influx: influx.influxd.pid };
    // Every province enrolls as a real one does: a code from the hub, exchanged for its credential.
    const creds = new Map<string, { token: string; collector: string }>();
    for (const p of PROVINCES) {
      let code = '';
      issueCodes({ stateDir, schools: [p], uses: 1, expiresAtMs: Date.now() + 3_600_000, onIssued: (c) => (code = c) });
      const res = await fetch(`${url}/api/v1/hub/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1, code, nonce: `bench-nonce-${p}-0123456789`, province: p }) });
      const body = (await res.json()) as { token: string; collector: string };
      if (res.status !== 200) throw new Error(`enrollment of ${p}: ${res.status} ${JSON.stringify(body)}`);
      creds.set(p, body);
    }
    const seqs = new Map<string, number>(PROVINCES.map((p) => [p, 0]));
    const base = Date.now() - 30 * 86_400_000;
    const next = (i: number): Rollup => {
      const p = PROVINCES[i % PROVINCES.length] as string;
      const seq = (seqs.get(p) as number) + 1;
      seqs.set(p, seq);
      // Compressed time: each roll-up one minute after the province's previous one.
      return rollupOf(p, creds.get(p)?.collector as string, seq, base + seq * 60_000);
    };
    const toHub = async (r: Rollup): Promise<boolean> => {
      const body = gzipSync(JSON.stringify({ rollups: [r] }));
      const res = await fetch(`${url}/api/v1/rollups`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${creds.get(r.province)?.token}` }, body });
      await res.arrayBuffer();
      return res.status === 200;
    };
    let peerSeq = 0;
    const toInflux = async (r: Rollup): Promise<boolean> => {
      const lines = rollupLines({ ...r, asOf: base + ++peerSeq * 1000 }).map((l) => `rollup_peer${l.slice('rollup'.length)}`);
      const res = await fetch(`${influx.url}/write?db=campuslink&precision=ms`, { method: 'POST', body: lines.join('\n') });
      await res.arrayBuffer();
      return res.status === 204;
    };
    // Warm-up: every province's first roll-up, and the peer's measurement created.
    for (let i = 0; i < PROVINCES.length; i++) await toHub(next(i));
    await toInflux(next(0));
    const rss0 = rssBytes(pids.hub);
    const loop0 = ((await (await fetch(`${url}/healthz`)).json()) as { eventLoop: { sinceStart: { maxMs: number } } }).eventLoop.sinceStart.maxMs;
    const hubPhases: Phase[] = [];
    const peerPhases: Phase[] = [];
    let rssMax = rss0;
    let i = PROVINCES.length;
    for (let k = 0; k < pairs; k++) {
      const a = async () => {
        hubPhases.push(await drive(rate, seconds, () => toHub(next(i++)), pids));
        rssMax = Math.max(rssMax, rssBytes(pids.hub));
      };
      const b = async () => void peerPhases.push(await drive(rate, seconds, () => toInflux(next(i++)), pids));
      if (k % 2 === 0) {
        await a();
        await b();
      } else {
        await b();
        await a();
      }
    }
    const health = (await (await fetch(`${url}/healthz`)).json()) as { eventLoop: { sinceStart: { maxMs: number; p99Ms: number } } };
    const feeds = (await (await fetch(`${url}/api/v1/hub/feeds`)).json()) as { national: { provinces: number; registered: number } };
    const p50 = hubPhases.map((p) => pct(p.latMs, 50));
    const p99 = hubPhases.map((p) => pct(p.latMs, 99));
    const peer50 = peerPhases.map((p) => pct(p.latMs, 50));
    const peer99 = peerPhases.map((p) => pct(p.latMs, 99));
    const cpu = hubPhases.map((p) => p.hubCpuShare);
    const rateFactor = rate / REAL_PER_S;
    const headroom = rateFactor / median(cpu);
    const ratio = median(p50) / median(peer50);
    const errors = [...hubPhases, ...peerPhases].reduce((n, p) => n + p.errors, 0);
    const loopEnd = health.eventLoop.sinceStart.maxMs;
    const figures = {
      'provinces, regions per roll-up, counties in all': `${PROVINCES.length}, ${rollupOf('11', 'x', 1, base).regions.length}, ${PROVINCES.length * 94}`,
      'offered rate, roll-ups/s (× real time)': `${rate} (${rateFactor.toFixed(0)}×)`,
      'hub ack p50, ms (median of pairs, min–max)': spread(p50),
      'hub ack p99, ms': spread(p99),
      'peer raw /write p50, ms': spread(peer50),
      'peer raw /write p99, ms': spread(peer99),
      'hub CPU, share of one core': spread(cpu, 3),
      'influxd CPU in hub phases / peer phases': `${median(hubPhases.map((p) => p.influxCpuShare)).toFixed(3)} / ${median(peerPhases.map((p) => p.influxCpuShare)).toFixed(3)}`,
      'headroom factor (rate factor / hub CPU share)': headroom.toFixed(0),
      'hub RSS after warm-up / max, MiB': `${(rss0 / 2 ** 20).toFixed(0)} / ${(rssMax / 2 ** 20).toFixed(0)}`,
      'hub event-loop max delay, ms (since start; at warm-up end)': `${loopEnd} (${loop0})`,
      'failed requests': errors,
      'provinces and schools on the hub': `${feeds.national.provinces}, ${feeds.national.registered}`,
      ...province,
    };
    return { name: 'hub', figures, ratio, goal: 'headroom ≥ 10 at 32 provinces × 1/min, hub ack p99 ≤ 1 s, no failed request, province build never holds the loop > 50 ms (ratio: hub ack p50 / raw write p50, reported)', pass: headroom >= 10 && median(p99) <= 1000 && errors === 0 && longestMs <= 50 };
  } finally {
    await hub.stop();
    await influx.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
  for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`);
}
