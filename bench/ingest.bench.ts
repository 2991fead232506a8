/**
 * Ingest throughput: the whole collector path against raw line-protocol writes into the same influxd,
 * in the same run, interleaved.
 *
 *   npx tsx bench/ingest.bench.ts [--points 110000] [--pairs 5] [--schools 120] [--ledger sqlite|none]
 *                                 [--raw-order arrival|school] [--raw-points-per-request 1000] [--profile DIR] [--compiled]
 *                                 [--node-args "--max-semi-space-size=64"]
 *
 * (a) raw: the very line protocol the collector writes for the same reports, pre-built in 1,000-point
 *     requests, POSTed to `/write` with 2 in flight (database `raw`), in the order the collector
 *     receives the points (`arrival`: every school's first batch, then every school's second, …).
 *     `--raw-order school` sends one school's points after the other: each request then touches ~22
 *     series instead of ~1,000, which costs influxd about half the CPU per point — not what a province
 *     sends, so not the default. `--raw-points-per-request` shows what the size of a write costs
 *     influxd (its CPU µs/point in the raw phase).
 * (b) path: typical reports (test/helpers/reports.ts, 22 points each), 1/2/4 per batch by school,
 *     encoded with the agent's own `x-campuslink-cols1`, POSTed over one HTTP/2 session per school to
 *     a collector child process that runs the server's own `createIngest` + `listen` with the
 *     InfluxDB 1.x sink and the collector's own dedupe ledger on the state database's group commit
 *     (`collector/ingest/dedupe.ts` on `collector/state/db.ts`). Equal point counts; every request must answer 200 and the sink must confirm
 *     every point.
 *
 * Reports points/s of each, the ratio path/raw (median of the interleaved pairs, with min–max; the
 * pairs alternate which side runs first), and CPU µs per point of the collector (process.cpuUsage of
 * the child over the path phase), of influxd (/proc) in each phase and of the load generator. Goal ≥ 0.8×.
 * `--ledger none` (no dedupe) is a diagnostic only.
 * `--profile DIR` runs the collector child with `--cpu-prof` into DIR. `--compiled` runs the child from
 * `dist/` (run `npm run build` first) with plain node, as the collector runs in production: under tsx
 * every closure the code creates is also wrapped by esbuild's `__name` helper, which costs the child CPU.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { COLS_ENCODING, encodeBatch, type Report } from '../protocol/index.js';
import { reportToPoints, type RegistryTags } from '../collector/ingest/points.js';
import { toLineProtocol } from '../collector/sink/influx1.js';
import { startTestInfluxd } from '../test/helpers/influxd.js';
import { typicalMeasurements } from '../test/helpers/reports.js';
import type { BenchResult } from './snmp-poll.bench.js';
import { COLLECTOR_NODE_FLAGS } from './fleet/collector-process.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : def;
};
const POINTS = Number(arg('points', '110000'));
const PAIRS = Number(arg('pairs', '5'));
const SCHOOLS = Number(arg('schools', '120'));
const LEDGER = arg('ledger', 'sqlite') as 'sqlite' | 'none';
const PROFILE = arg('profile', '');
const COMPILED = process.argv.includes('--compiled');
/** Node flags of the collector child: by default those docs/deployment.md gives the collector. */
const NODE_ARGS = arg('node-args', COLLECTOR_NODE_FLAGS.join(' ')).split(' ').filter(Boolean);
const RAW_ORDER = arg('raw-order', 'arrival') as 'arrival' | 'school';
const RAW_POINTS_PER_REQUEST = Number(arg('raw-points-per-request', '1000'));
const RAW_IN_FLIGHT = 2;
const POINTS_PER_REPORT = 22;

interface ChildConfig {
  influxUrl: string;
  stateDir: string;
  ledger: 'sqlite' | 'none';
  schools: { id: string; token: string; tags: RegistryTags }[];
}

type ToChild = { op: 'cpu' } | { op: 'stop' };
type FromChild = { op: 'port'; port: number } | { op: 'cpu'; userUs: number; systemUs: number; pointsWritten: number; httpWrites: number };

const schoolId = (i: number) => `16401${String(i).padStart(5, '0')}`;
const tagsOf = (i: number): RegistryTags => ({ school: schoolId(i), province: '640000', city: '640100', county: '640104', link: ['fiber', 'dsl', 'sat-geo'][i % 3] as string });

// -------------------------------------------------------------------------------------------------
// The collector child: the server's own ingest handler and listener, the InfluxDB 1.x sink, a ledger.

async function child(): Promise<void> {
  const { createIngest } = await import('../collector/http/ingest.js');
  const { listen } = await import('../collector/http/listener.js');
  const { createInflux1Sink } = await import('../collector/sink/influx1.js');
  const cfg = JSON.parse(readFileSync(process.env.CAMPUSLINK_INGEST_BENCH_CHILD as string, 'utf8')) as ChildConfig;
  const log = pino({ level: 'warn' });
  const sink = createInflux1Sink({ url: cfg.influxUrl, database: 'campuslink', log });
  const ledger = cfg.ledger === 'none' ? undefined : await sqliteLedger(cfg.stateDir);
  const byToken = new Map(cfg.schools.map((s) => [s.token, s]));
  const byId = new Map(cfg.schools.map((s) => [s.id, s.tags]));
  const ingest = createIngest({
    sink,
    tokens: { verify: (t) => { const s = byToken.get(t); return s && { id: `t-${s.id}`, school: s.id, hash: '', createdAt: '' } as never; } },
    schools: { tagsFor: (id) => byId.get(id) },
    log,
    maxBodyBytes: 4 << 20,
    retryAfterS: 5,
    ...(ledger && { dedupe: ledger }),
  });
  const server = await listen({ host: '127.0.0.1', port: 0, app: (_req, res) => res.writeHead(404).end(), ingest, log });
  process.on('message', (m: ToChild) => {
    if (m.op === 'cpu') {
      const c = process.cpuUsage();
      const s = sink.stats();
      process.send?.({ op: 'cpu', userUs: c.user, systemUs: c.system, pointsWritten: s.pointsWritten, httpWrites: s.httpWrites } satisfies FromChild);
    } else {
      void server.close().then(() => sink.close()).then(() => process.exit(0));
    }
  });
  process.send?.({ op: 'port', port: server.port } satisfies FromChild);
}

/** The collector's own dedupe ledger on the state database (group commit). */
async function sqliteLedger(stateDir: string) {
  const { openStateDb } = await import('../collector/state/db.js');
  const { DedupeStore } = await import('../collector/ingest/dedupe.js');
  return new DedupeStore({ state: openStateDb({ stateDir }) });
}

// -------------------------------------------------------------------------------------------------
// The load: per repetition, fresh sequences, so every point is new in both databases.

interface Rep {
  /** Per school, its bodies in order. */
  bodies: Buffer[][];
  /** The same points as line protocol, 1,000 per request. */
  raw: Buffer[];
  points: number;
}

function buildRep(rep: number): Rep {
  const reportsPerSchool = Math.ceil(POINTS / POINTS_PER_REPORT / SCHOOLS);
  const now = Date.now();
  const bodies: Buffer[][] = [];
  /** Per school, per batch, the lines of its reports. */
  const linesOf: string[][][] = [];
  for (let i = 0; i < SCHOOLS; i++) {
    const perBatch = [1, 2, 4][i % 3] as number;
    const reports: Report[] = [];
    for (let k = 0; k < reportsPerSchool; k++) {
      const seq = rep * reportsPerSchool + k + 1;
      // Timestamps a minute apart, ending just before now (no clock correction).
      const collectedAt = now - (reportsPerSchool * (PAIRS + 1) - seq) * 60_000 - 30_000;
      reports.push({ v: 1, school: schoolId(i), agent: 'gw-01', seq, collectedAt, sentAt: now, measurements: typicalMeasurements(seq + i) });
    }
    const own: Buffer[] = [];
    const ownLines: string[][] = [];
    for (let k = 0; k < reports.length; k += perBatch) {
      const batch = reports.slice(k, k + perBatch);
      own.push(encodeBatch(batch, COLS_ENCODING));
      ownLines.push(batch.flatMap((report) => reportToPoints({ report, tags: tagsOf(i), receivedAtMs: now }).map(toLineProtocol)));
    }
    bodies.push(own);
    linesOf.push(ownLines);
  }
  // `arrival`: the points in the order the collector receives them (every school's first batch, then
  // every school's second, …), as a province's minute arrives; `school`: all of one school's, then the next.
  const lines: string[] = [];
  if (RAW_ORDER === 'school') for (const own of linesOf) for (const l of own) lines.push(...l);
  else for (let j = 0; linesOf.some((own) => j < own.length); j++) for (const own of linesOf) lines.push(...(own[j] ?? []));
  const raw: Buffer[] = [];
  for (let k = 0; k < lines.length; k += RAW_POINTS_PER_REQUEST) raw.push(Buffer.from(lines.slice(k, k + RAW_POINTS_PER_REQUEST).join('\n')));
  return { bodies, raw, points: lines.length };
}

async function runRaw(influxUrl: string, raw: Buffer[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: RAW_IN_FLIGHT });
  const u = new URL('/write?db=raw&precision=ms', influxUrl);
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(u, { method: 'POST', agent, headers: { 'content-length': body.length, 'content-type': 'text/plain' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`raw write answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: RAW_IN_FLIGHT }, async () => {
    while (next < raw.length) await post(raw[next++] as Buffer);
  }));
  const ms = performance.now() - t0;
  agent.destroy();
  return ms;
}

async function runPath(port: number, bodies: Buffer[][]): Promise<number> {
  const sessions = bodies.map(() => http2.connect(`http://127.0.0.1:${port}`));
  await Promise.all(sessions.map((s) => new Promise<void>((res, rej) => s.once('connect', () => res()).once('error', rej))));
  const post = (s: http2.ClientHttp2Session, school: number, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = s.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: `Bearer tok-${school}`, 'content-type': 'application/json', 'content-encoding': COLS_ENCODING, 'content-length': body.length });
      let status = 0;
      let text = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => (status === 200 ? resolve() : reject(new Error(`ingest answered ${status}: ${text.slice(0, 300)}`))));
      req.on('error', reject);
      req.end(body);
    });
  const t0 = performance.now();
  await Promise.all(bodies.map(async (own, i) => {
    for (const b of own) await post(sessions[i] as http2.ClientHttp2Session, i, b);
  }));
  const ms = performance.now() - t0;
  for (const s of sessions) s.close();
  return ms;
}

/** CPU time of a process so far, µs (utime + stime from /proc; Linux). */
function procCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;
const ownCpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const influx = await startTestInfluxd();
  const stateDir = mkdtempSync(join(tmpdir(), 'campuslink-ingest-bench-'));
  let proc: ChildProcess | undefined;
  try {
    await influx.query('CREATE DATABASE raw');
    await influx.query('CREATE DATABASE campuslink');
    const schools = Array.from({ length: SCHOOLS }, (_, i) => ({ id: schoolId(i), token: `tok-${i}`, tags: tagsOf(i) }));
    const cfg: ChildConfig = { influxUrl: influx.url, stateDir, ledger: LEDGER, schools };
    const cfgPath = join(stateDir, 'bench-child.json');
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const profile = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
    const here = fileURLToPath(import.meta.url);
    const compiledChild = join(dirname(here), '..', 'dist', 'bench', 'ingest.bench.js');
    if (COMPILED && !existsSync(compiledChild)) throw new Error(`--compiled needs ${compiledChild}: run npm run build first`);
    const execArgv = [...(COMPILED ? profile : ['--import', 'tsx', ...profile]), ...NODE_ARGS];
    const c = fork(COMPILED ? compiledChild : here, [], { execArgv, env: { ...process.env, CAMPUSLINK_INGEST_BENCH_CHILD: cfgPath }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    proc = c;
    const ask = <T extends FromChild['op']>(op: T, msg?: ToChild) =>
      new Promise<Extract<FromChild, { op: T }>>((resolve, reject) => {
        const onMsg = (m: FromChild) => {
          if (m.op !== op) return;
          c.off('message', onMsg);
          resolve(m as Extract<FromChild, { op: T }>);
        };
        c.on('message', onMsg);
        c.once('exit', (code) => reject(new Error(`collector child exited (${code})`)));
        if (msg) c.send(msg);
      });
    const { port } = await ask('port');

    // Pair 0 warms up (JIT, series creation) and is not counted. The order alternates (raw first, then
    // path first) so neither side always inherits the other's background work (influxd compactions).
    const pairs: { rawPps: number; pathPps: number; usPerPoint: number }[] = [];
    const influxCpu = () => procCpuUs(influx.influxd.pid);
    for (let r = 0; r <= PAIRS; r++) {
      const rep = buildRep(r);
      const raw = async () => {
        const i0 = influxCpu();
        const g0 = ownCpuUs();
        const ms = await runRaw(influx.url, rep.raw);
        return { ms, influxUs: influxCpu() - i0, genUs: ownCpuUs() - g0 };
      };
      const path = async () => {
        const before = await ask('cpu', { op: 'cpu' });
        const i0 = influxCpu();
        const g0 = ownCpuUs();
        const ms = await runPath(port, rep.bodies);
        const influxUs = influxCpu() - i0;
        const genUs = ownCpuUs() - g0;
        const after = await ask('cpu', { op: 'cpu' });
        const written = after.pointsWritten - before.pointsWritten;
        if (written !== rep.points) throw new Error(`the sink confirmed ${written} points, ${rep.points} were sent`);
        return { ms, influxUs, genUs, collectorUs: after.userUs + after.systemUs - before.userUs - before.systemUs, sinkWrites: after.httpWrites - before.httpWrites };
      };
      const settle = () => new Promise((res) => setTimeout(res, 1000));
      let a: Awaited<ReturnType<typeof raw>>;
      let b: Awaited<ReturnType<typeof path>>;
      if (r % 2 === 0) {
        a = await raw();
        await settle();
        b = await path();
      } else {
        b = await path();
        await settle();
        a = await raw();
      }
      await settle();
      const per = (us: number) => (us / rep.points).toFixed(1);
      const p = { rawPps: rep.points / (a.ms / 1000), pathPps: rep.points / (b.ms / 1000), usPerPoint: b.collectorUs / rep.points };
      console.log(
        `${r === 0 ? 'warm-up' : `pair ${r}`} (${r % 2 === 0 ? 'raw first' : 'path first'}): ${rep.points} points; raw ${p.rawPps.toFixed(0)} points/s, path ${p.pathPps.toFixed(0)} points/s ` +
          `(${b.sinkWrites} sink writes), ratio ${(p.pathPps / p.rawPps).toFixed(3)}; CPU µs/point: collector ${per(b.collectorUs)}, influxd ${per(a.influxUs)} raw / ${per(b.influxUs)} path, load generator ${per(a.genUs)} / ${per(b.genUs)}`,
      );
      if (r > 0) pairs.push(p);
    }
    const count = await influx.query('SELECT count(seq) FROM report');
    const expectedReports = Math.ceil(POINTS / POINTS_PER_REPORT / SCHOOLS) * SCHOOLS * (PAIRS + 1);
    if (count[0]?.count !== expectedReports) throw new Error(`influxd holds ${String(count[0]?.count)} report points, expected ${expectedReports}`);
    c.send({ op: 'stop' } satisfies ToChild);
    await new Promise((res) => c.once('exit', res));

    const ratios = pairs.map((p) => p.pathPps / p.rawPps);
    const ratio = median(ratios);
    const us = pairs.map((p) => p.usPerPoint);
    console.log(`ingest bench: ${SCHOOLS} schools over HTTP/2, 1/2/4 reports per batch, ${LEDGER} ledger, raw in ${RAW_ORDER} order, ${PAIRS} pairs, collector child ${COMPILED ? 'from dist/ (plain node)' : 'under tsx'} with [${NODE_ARGS.join(' ')}], node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`ratio path/raw: median ${ratio.toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}); collector CPU median ${median(us).toFixed(1)} µs/point (min ${Math.min(...us).toFixed(1)}, max ${Math.max(...us).toFixed(1)})`);
    return {
      name: `ingest: whole path (${LEDGER} ledger) vs raw line protocol into the same influxd`,
      figures: {
        raw_points_per_s: Math.round(median(pairs.map((p) => p.rawPps))),
        path_points_per_s: Math.round(median(pairs.map((p) => p.pathPps))),
        ratio_min: Number(Math.min(...ratios).toFixed(3)),
        ratio_max: Number(Math.max(...ratios).toFixed(3)),
        collector_cpu_us_per_point: Number(median(us).toFixed(1)),
      },
      ratio,
      goal: 'path points/s ÷ raw points/s ≥ 0.8',
      pass: ratio >= 0.8,
    };
  } finally {
    proc?.kill();
    await influx.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.env.CAMPUSLINK_INGEST_BENCH_CHILD) {
  child().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
