/**
 * Province soak (issue 11): can one collector and one influxd on this 2-core box hold 60,000 schools?
 *
 *   npm run build && npx tsx bench/province-soak.bench.ts [--schools 60000] [--minutes 12] [--seed-days 7] [--front haproxy|none] [--tls 1]
 *   (`--tls 1`: HTTPS on the public port with openssl-made test certificates; the generator's sessions are TLS
 *   with a ticket kept per session, as agents keep theirs)
 *   (or npx tsx bench/run.ts province-soak; every option also as SOAK_SCHOOLS, SOAK_MINUTES, SOAK_SEED_DAYS …)
 *
 * The real CLI (`node dist/collector/cli.js serve`) with its embedded influxd, on a state directory
 * seeded as `--seed-days` of uptime would leave it (bench/fleet/seed.ts says exactly what), then a
 * separate load-generator process (bench/fleet/generator.ts): one HTTP/2 session per school (several
 * schools a session where descriptors run short), opened on the school's first upload and kept, dropped
 * and reopened the way the agent's is (agent/transport/h2.ts; `--preconnect 1` opens them all ahead, as
 * agents do not, to measure idle sessions), the agent's headers and x-campuslink-cols1 bodies, 1/2/4 reports per batch by link type, for
 * `--minutes` of live load, the first `--warmup` minutes not counted. Measured: reports/s held vs
 * offered, p50/p99 upload latency, /healthz answer time (max: the outside bound of event-loop stalls;
 * the collector's own loop-delay figure when /healthz has one), RSS of collector and influxd at the start
 * and end of the window and the slope, also as anonymous + file-backed (RssAnon, RssFile: influxd's
 * mapped TSM files grow RssFile, which is not a leak), state size on disk, the generator's own CPU share, and restart
 * times after SIGTERM and after SIGKILL. The generator renders every body of the run ahead of its send, from
 * the live start on, so the window's generator CPU is sending only (`--render-ahead 0`: as before;
 * `--generator-ref REF` runs the generator of an older tree instead, for an A/B). With `--profile 1` (the default) the first collector runs with
 * `--cpu-prof --trace-gc` and the soak prints what held its event loop in the window: long tasks (≥ 50 ms
 * without the loop going idle) by the project function they ran in, GC pauses by kind
 * (bench/fleet/loop-causes.ts); profiling costs the collector a few per cent of CPU. Goals: held ≥ 99 % of offered, p99 < 1 s, loop delay < 50 ms,
 * collector RSS growth over the window < 10 %, restart < 10 s. The ratio is held ÷ offered.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectorConfigYaml, findFront, startCollectorProcess, type CollectorProcess } from './fleet/collector-process.js';
import { makeFleet, offeredBatchesPerSec, offeredReportsPerSec, registryCsv } from './fleet/fleet.js';
import { GeneratorClient, type GeneratorStats } from './fleet/generator-client.js';
import { percentile } from './fleet/generator.js';
import { HealthProbe, ProcSampler, slopePerMin, threadCpuPerUnit, type ProcSample } from './fleet/probes.js';
import { loopCauseFlags, loopCauses } from './fleet/loop-causes.js';
import { restartCollector, type RestartResult } from './fleet/restart.js';
import { seedState, type SeedResult } from './fleet/seed.js';
import { peerGeneratorScript } from './fleet/peer-tree.js';
import { trustCa } from './fleet/tls-trust.js';
import { makeTestCerts } from '../test/helpers/certs.js';
import type { BenchResult } from './snmp-poll.bench.js';

/** The soak's knobs: argv `--name value` first, then SOAK_NAME, then the default. */
export interface SoakOptions {
  schools: number;
  minutes: number;
  warmupMinutes: number;
  seedDays: number;
  gapPairs: number;
  dedupeTailHours: number;
  connectPerSec: number;
  /** Open every session before the live load (agents do not): for the idle-session figures. */
  preconnect: boolean;
  keep: boolean;
  /** Profile the first collector (CPU profile, GC trace) and report what held its loop. */
  profile: boolean;
  /** Render every upload body of the run ahead of its send, from the live start on (`--render-ahead 0`: each when sent, as before). */
  renderAhead: boolean;
  /** Run the load generator of this git ref instead of this tree's (`--generator-ref main`: the before of an A/B). */
  generatorRef?: string;
  /** The collector's front (`--front haproxy`, the default: its config's `front.kind`, collector/http/front.ts, with its defaults; `--front none`: the collector's own port). */
  front?: 'haproxy';
  /** HTTPS on the public port (`--tls 1`): test certificates by openssl (test/helpers/certs.ts), the generator trusts their CA and keeps a ticket per session. */
  tls: boolean;
}

function option(name: string, def: number): number;
function option(name: string, def: undefined): number | undefined;
function option(name: string, def: number | undefined): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i > 0 ? process.argv[i + 1] : process.env[`SOAK_${name.toUpperCase().replace(/-/g, '_')}`];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number, got ${raw}`);
  return v;
}

/** Reads the options. */
export function soakOptions(): SoakOptions {
  const minutes = option('minutes', 12);
  return {
    schools: option('schools', 60_000),
    minutes,
    warmupMinutes: option('warmup', Math.min(5, minutes / 2)),
    seedDays: option('seed-days', 7),
    gapPairs: option('gap-pairs', DEFAULT_GAP_PAIRS),
    dedupeTailHours: option('dedupe-tail-hours', 0),
    connectPerSec: option('connect-per-sec', 3000),
    preconnect: option('preconnect', 0) > 0,
    keep: option('keep', 0) > 0,
    profile: option('profile', 1) > 0,
    renderAhead: option('render-ahead', 1) > 0,
    tls: option('tls', 0) > 0,
    ...(textOption('generator-ref') !== undefined && { generatorRef: textOption('generator-ref') }),
    ...(frontOption() && { front: frontOption() }),
  };
}

/** `--front haproxy` unless told `none`: a province's deployment has the front (docs/deployment.md). */
function frontOption(): 'haproxy' | undefined {
  const f = textOption('front') ?? 'haproxy';
  if (f === 'none') return undefined;
  if (f !== 'haproxy') throw new Error(`--front must be haproxy or none, got ${f}`);
  return f;
}

/** A text option: argv `--name value`, then SOAK_NAME. */
function textOption(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i > 0 ? process.argv[i + 1] : process.env[`SOAK_${name.toUpperCase().replace(/-/g, '_')}`];
  return raw === undefined || raw === '' ? undefined : raw;
}

/**
 * `[seq, collectedAt]` pairs seeded per agent in today's gap state. A week leaves the detector's cap,
 * 5,000 (~115 kB per agent: 6.9 GB at 60,000 agents, which today's collector cannot read back: it
 * starts with no gap state); the default seeds an hour's worth. `--gap-pairs 5000` seeds the full week.
 */
const DEFAULT_GAP_PAIRS = 60;

const mb = (b: number) => Math.round(b / 2 ** 20);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raises this process's descriptor limit (children inherit it): 60,000 sessions need 60,000 fds on each side. */
function raiseFdLimit(n: number): number {
  const max = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  const want = Math.min(max, n);
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch {
    console.error(`soak: cannot raise the descriptor limit to ${want} (raising a hard limit needs CAP_SYS_RESOURCE); keeping the current one`);
  }
  return Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function du(path: string): number {
  try {
    return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
  } catch {
    return NaN;
  }
}

interface Workdir {
  dir: string;
  stateDir: string;
  configPath: string;
  logPath: string;
  tokensFile: string;
  /** With --tls: the CA the clients trust. */
  caFile?: string;
}

async function prepare(o: SoakOptions, fleet: ReturnType<typeof makeFleet>, liveStartMs: number): Promise<{ w: Workdir; seed: SeedResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-soak-'));
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(dir, 'schools.csv'), registryCsv(fleet));
  const port = await freePort();
  const configPath = join(dir, 'collector.yaml');
  const certs = o.tls ? makeTestCerts() : undefined;
  if (certs) trustCa(certs.caCert);
  writeFileSync(configPath, collectorConfigYaml({ port, stateDir, registry: join(dir, 'schools.csv'), ...(o.front && { front: o.front }), ...(certs && { tls: { certFile: certs.serverCert, keyFile: certs.serverKey } }) }));
  const seed = seedState({ stateDir, fleet, days: o.seedDays, nowMs: liveStartMs, gapPairs: o.gapPairs, dedupeTailHours: o.dedupeTailHours });
  const tokensFile = join(dir, 'fleet-tokens.txt');
  writeFileSync(tokensFile, `${seed.tokens.join('\n')}\n`, { mode: 0o600 });
  return { w: { dir, stateDir, configPath, logPath: join(dir, 'collector.log'), tokensFile, ...(certs && { caFile: certs.caCert }) }, seed };
}

/** What the window [from, to) of the live load measured. */
interface Window {
  fromMs: number;
  toMs: number;
  offeredPerSec: number;
  heldPerSec: number;
  sentPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  healthzMaxMs: number;
  healthzP99Ms: number;
  healthzFailed: number;
  /** The collector's own figure (its /healthz), when it has one. */
  reportedLoopMaxMs?: number;
  start: ProcSample;
  end: ProcSample;
  collectorRssSlopeMbPerMin: number;
  influxdRssSlopeMbPerMin: number;
  /** Of anonymous memory only (RssAnon): file-backed pages (influxd's mapped TSM files) are not a leak. */
  collectorRssAnonSlopeMbPerMin: number;
  influxdRssAnonSlopeMbPerMin: number;
  cpuShare: { collector: number; influxd: number; generator: number; front: number };
  genStart: GeneratorStats;
  genEnd: GeneratorStats;
}

async function measureWindow(gen: GeneratorClient, probe: HealthProbe, sampler: ProcSampler, genAt: { atMs: number; s: GeneratorStats }[], fromMs: number, toMs: number): Promise<Window> {
  const nearest = (t: number) => genAt.reduce((b, x) => (Math.abs(x.atMs - t) < Math.abs(b.atMs - t) ? x : b));
  const g0 = nearest(fromMs);
  const g1 = nearest(toMs);
  const secs = (g1.atMs - g0.atMs) / 1000;
  const d = (f: (s: GeneratorStats) => number) => (f(g1.s) - f(g0.s)) / secs;
  const lat = await gen.latency(fromMs, toMs);
  const h = probe.between(fromMs, toMs);
  const start = sampler.at(fromMs);
  const end = sampler.at(toMs);
  const inWin = sampler.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  const span = end.atMs - start.atMs;
  const share = (a: number, b: number) => (b - a) / span;
  return {
    fromMs,
    toMs,
    offeredPerSec: d((s) => s.counters.reportsSent + s.counters.reportsSkipped + s.counters.reportsBackedOff),
    sentPerSec: d((s) => s.counters.reportsSent),
    heldPerSec: d((s) => s.counters.reportsHeld + s.counters.reportsDuplicate),
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    maxMs: lat.maxMs,
    healthzMaxMs: h.sorted.at(-1) ?? NaN,
    healthzP99Ms: percentile(h.sorted, 99),
    healthzFailed: h.failed,
    ...(h.reportedLoopMaxMs !== undefined && { reportedLoopMaxMs: h.reportedLoopMaxMs }),
    start,
    end,
    collectorRssSlopeMbPerMin: slopePerMin(inWin.map((s) => ({ atMs: s.atMs, y: s.collectorRss / 2 ** 20 }))),
    influxdRssSlopeMbPerMin: slopePerMin(inWin.map((s) => ({ atMs: s.atMs, y: s.influxdRss / 2 ** 20 }))),
    collectorRssAnonSlopeMbPerMin: slopePerMin(inWin.map((s) => ({ atMs: s.atMs, y: s.collectorRssParts.anon / 2 ** 20 }))),
    influxdRssAnonSlopeMbPerMin: slopePerMin(inWin.map((s) => ({ atMs: s.atMs, y: s.influxdRssParts.anon / 2 ** 20 }))),
    cpuShare: { collector: share(start.collectorCpuMs, end.collectorCpuMs), influxd: share(start.influxdCpuMs, end.influxdCpuMs), generator: share(start.generatorCpuMs, end.generatorCpuMs), front: share(start.frontCpuMs, end.frontCpuMs) },
    genStart: g0.s,
    genEnd: g1.s,
  };
}

/** The live phase: start the generator, sample, and stop at the end or when the collector dies. */
async function live(o: SoakOptions, w: Workdir, col: CollectorProcess, fleetLastSeq: number[], liveStartMs: number, sessions: number) {
  // Bodies for the whole run and a minute more, rendered from the live start on (in the warm-up: the window only sends).
  const renderAheadMs = o.renderAhead ? (o.minutes + 1) * 60_000 : 0;
  const frontPid = o.front ? findFront(col.pid) : undefined;
  if (o.front && !frontPid) throw new Error('--front haproxy: the collector runs no haproxy child');
  const script = o.generatorRef ? peerGeneratorScript(ROOT, o.generatorRef, join(w.dir, 'generator-ref')) : undefined;
  const gen = await GeneratorClient.start({ url: col.url, schools: o.schools, tokensFile: w.tokensFile, lastSeq: fleetLastSeq, liveStartMs, sessions, renderAheadMs, ...(w.caFile && { caFile: w.caFile }) }, join(w.dir, 'generator-job.json'), script);
  const sampler = new ProcSampler({ collector: col.pid, ...(col.influxdPid && { influxd: col.influxdPid }), generator: gen.pid, ...(frontPid && { front: frontPid }) });
  sampler.start(5000);
  const probe = new HealthProbe(col.url, 200);
  probe.start();
  const beforeConnect = sampler.sample();
  const tc = performance.now();
  const connected = o.preconnect ? await gen.connect(o.connectPerSec) : undefined;
  const connectMs = performance.now() - tc;
  if (o.preconnect) await sleep(3000);
  const afterConnect = sampler.sample();
  if (Date.now() < liveStartMs) await sleep(liveStartMs - Date.now());
  const startedAt = Date.now();
  await gen.begin(startedAt);
  let died: string | undefined;
  void col.exited.then((code) => (died = `collector exited (${code}) at +${((Date.now() - startedAt) / 1000).toFixed(0)} s of live load; stderr: ${col.stderrTail().slice(-1500)}`));
  const genAt: { atMs: number; s: GeneratorStats }[] = [];
  const endAt = startedAt + o.minutes * 60_000;
  let lastPrint = 0;
  while (Date.now() < endAt && !died) {
    await sleep(Math.min(5000, Math.max(0, endAt - Date.now())));
    const s = await gen.stats();
    genAt.push({ atMs: Date.now(), s });
    if (Date.now() - lastPrint > 30_000) {
      lastPrint = Date.now();
      const c = s.counters;
      const p = sampler.samples.at(-1) as ProcSample;
      console.log(`soak +${((Date.now() - startedAt) / 1000).toFixed(0)} s: sent ${c.reportsSent} held ${c.reportsHeld} dup ${c.reportsDuplicate} skipped ${c.reportsSkipped} backed-off ${c.reportsBackedOff} in-flight ${c.inFlight} sessions ${c.sessionsOpen} (opened ${c.sessionsOpened}, closed by the collector ${c.sessionsClosedByCollector}, dropped after a failure ${c.sessionsDropped}) failures ${JSON.stringify(c.failures)}; RSS collector ${mb(p.collectorRss)} MiB influxd ${mb(p.influxdRss)} MiB generator ${mb(p.generatorRss)} MiB (loop max ${s.loopDelayMaxMs.toFixed(0)} ms); fds ${p.collectorFds}`);
    }
  }
  const stoppedAt = Date.now();
  const fromMs = startedAt + Math.min(o.warmupMinutes * 60_000, (stoppedAt - startedAt) / 2);
  const win = genAt.length >= 2 ? await measureWindow(gen, probe, sampler, genAt, fromMs, stoppedAt) : undefined;
  const final = await gen.stats();
  await gen.stop();
  probe.stop();
  sampler.stop();
  return { win, final, died, connectMs, connected, startedAt, stoppedAt, probe, sampler, beforeConnect, afterConnect };
}

function restartProbe(fleet: ReturnType<typeof makeFleet>, seed: SeedResult, final: GeneratorStats, k: number) {
  // A sequence far above anything the live load sent, so it is new to the collector.
  return { school: fleet[0] as (typeof fleet)[0], token: seed.tokens[0] as string, seq: (seed.lastSeq[0] as number) + 1_000_000 + k + final.counters.batchesSent };
}

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const o = soakOptions();
  const fdLimit = raiseFdLimit(o.schools * 3 + 20_000);
  const fleet = makeFleet(o.schools);
  console.log(`province soak: ${o.schools} schools (${offeredReportsPerSec(fleet).toFixed(0)} reports/s, ${offeredBatchesPerSec(fleet).toFixed(0)} batches/s offered), ${o.minutes} min live (${o.warmupMinutes} min warm-up), seeded ${o.seedDays} days; fd limit ${fdLimit}; node ${process.version}; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  // The live load is planned to start once the state is seeded (~1 µs a gap pair), the collector is up
  // and every session connected; a later start moves the schedule (seed_to_live_shift_s).
  // Whole milliseconds: every time in the collector's state is an integer (a state database column refuses 1.5 ms).
  const liveStartMs = Math.round(Date.now() + 30_000 + (o.preconnect ? (o.schools / o.connectPerSec) * 1000 : 0) + o.schools * (o.gapPairs ?? DEFAULT_GAP_PAIRS) * 0.001);
  const { w, seed } = await prepare(o, fleet, liveStartMs);
  console.log(`seeded in ${(seed.ms / 1000).toFixed(1)} s: ${Object.entries(seed.files).map(([f, s]) => `${f} ${mb(s.bytes)} MiB`).join(', ')}; gap pairs per agent ${seed.gapPairs}; dedupe tail lines ${seed.dedupeTailLines}; tokens by ${seed.tokensHow}`);
  const figures: Record<string, number | string> = { schools: o.schools, seed_days: o.seedDays, gap_pairs_per_agent: seed.gapPairs, tokens_by: seed.tokensHow, seeded_state_mib: mb(Object.values(seed.files).reduce((a, f) => a + f.bytes, 0)) };
  let col: CollectorProcess | undefined;
  try {
    try {
      col = await startCollectorProcess({ configPath: w.configPath, logPath: w.logPath, ...(o.profile && { nodeArgs: loopCauseFlags(join(w.dir, 'profile')) }) });
    } catch (e) {
      figures.verdict = `collector did not start on the seeded state: ${(e as Error).message.slice(0, 600)}`;
      return { name: `province soak, ${o.schools} schools`, figures, ratio: 0, goal: 'held ÷ offered ≥ 0.99 and every other goal met', pass: false };
    }
    figures.first_start_s = Number((col.startMs / 1000).toFixed(1));
    console.log(`collector ${col.pid} (influxd ${col.influxdPid ?? 'external?'}) listening on ${col.url} after ${(col.startMs / 1000).toFixed(1)} s`);
    // One descriptor per session on each side: where the hard limit is lower than the fleet, schools share sessions.
    const sessions = Math.min(o.schools, Math.max(1, fdLimit - 1500));
    figures.http2_sessions = sessions;
    if (sessions < o.schools) figures.schools_per_session = Number((o.schools / sessions).toFixed(2));
    figures.fd_limit = fdLimit;
    figures.generator_sessions = generatorSessionsText(o, sessions);
    console.log(`generator: ${figures.generator_sessions}`);
    if (o.front) figures.front = `front.kind ${o.front} (its defaults): the generator's HTTP/2 sessions end in HAProxy, the collector holds its HTTP/1.1 pool`;
    const L = await live(o, w, col, seed.lastSeq, liveStartMs, sessions);
    if (o.preconnect) {
      figures.connect_s = Number((L.connectMs / 1000).toFixed(1));
      figures.collector_rss_per_idle_session_kib = Math.round((L.afterConnect.collectorRss - L.beforeConnect.collectorRss) / 1024 / sessions);
      figures.generator_rss_per_session_kib = Math.round((L.afterConnect.generatorRss - L.beforeConnect.generatorRss) / 1024 / sessions);
    }
    figures.seed_to_live_shift_s = Number(((L.startedAt - liveStartMs) / 1000).toFixed(1));
    if (L.died) figures.fell_over = L.died;
    if (L.win) Object.assign(figures, windowFigures(L.win, fleet));
    figures.generator_failures = JSON.stringify(L.final.counters.failures);
    const fc = L.final.counters;
    figures.generator_session_events = `${fc.sessionsOpened} opened, ${fc.sessionsClosedByCollector} closed by the collector, ${fc.sessionsDropped} dropped after a failed exchange, ${fc.staleRetries} uploads retried on a fresh session`;
    figures.reports_not_sent = `${L.final.counters.reportsSkipped} while the previous batch was unanswered, ${L.final.counters.reportsBackedOff} while backing off`;
    if (L.final.firstFailure) figures.first_refusal = L.final.firstFailure.slice(0, 300);
    figures.template_checks = `${L.final.counters.templateChecks} checked against encodeBatch, ${L.final.counters.templateMismatches} mismatches, ${L.final.counters.fullEncodes} full encodes`;
    if (o.generatorRef) figures.generator_ref = `${o.generatorRef} (its bench/fleet/generator-main.ts, not this tree's)`;
    figures.generator_bodies = o.generatorRef ? 'as the generator of --generator-ref does' : o.renderAhead
      ? `rendered ahead of the send (--render-ahead 1): ${fc.bodiesRenderedAhead} rendered, ${fc.bodiesRenderedAtSend} rendered at send (the renderer behind)${L.win ? `, ${L.win.genEnd.counters.bodiesRenderedAtSend - L.win.genStart.counters.bodiesRenderedAtSend} of them in the window` : ''}; ${mb(L.final.renderAheadBytes ?? 0)} MiB held for them`
      : `each rendered when sent (--render-ahead 0): ${fc.bodiesRenderedAtSend}`;
    figures.generator_loop_delay_max_ms = Number(L.final.loopDelayMaxMs.toFixed(1));
    figures.state_dir_mib_excluding_influxdb = mb(du(w.stateDir) - du(join(w.stateDir, 'influxdb')));
    figures.influxdb_dir_mib = mb(du(join(w.stateDir, 'influxdb')));
    const first = { pid: col.pid, spawnedAtMs: col.spawnedAtMs };
    const restarts: RestartResult[] = [];
    if (!L.died) {
      for (const [k, signal] of (['SIGTERM', 'SIGKILL'] as const).entries()) {
        const r = await restartCollector({ running: col, signal, configPath: w.configPath, logPath: w.logPath, probe: restartProbe(fleet, seed, L.final, k) });
        restarts.push(r.result);
        console.log(`restart after ${signal}: stop ${(r.result.stopMs / 1000).toFixed(1)} s, listening ${(r.result.listenMs / 1000).toFixed(1)} s, /readyz ${(r.result.readyMs / 1000).toFixed(1)} s, first batch ${(r.result.firstBatchMs / 1000).toFixed(1)} s${r.result.error ? `; ${r.result.error}` : ''}`);
        if (!r.next) break;
        col = r.next;
      }
      // The first collector wrote its profile when SIGTERM stopped it (a SIGKILL'd one writes none).
      if (o.profile && L.win) {
        const causes = loopCauses({ profileDir: join(w.dir, 'profile'), logPath: w.logPath, ...first, fromMs: L.win.fromMs, toMs: L.win.toMs, reportsHeld: (L.win.heldPerSec * (L.win.toMs - L.win.fromMs)) / 1000 });
        console.log(`what held the collector's event loop in the window (CPU profile and GC trace of pid ${first.pid}):\n${causes.text}`);
        Object.assign(figures, causes.figures);
      }
      for (const r of restarts) {
        figures[`restart_${r.signal}_ready_s`] = Number((r.readyMs / 1000).toFixed(1));
        figures[`restart_${r.signal}_first_batch_s`] = Number((r.firstBatchMs / 1000).toFixed(1));
        figures[`restart_${r.signal}_stop_s`] = Number((r.stopMs / 1000).toFixed(1));
        if (r.error) figures[`restart_${r.signal}_error`] = r.error.slice(0, 400);
        if (r.stopTimedOut) figures[`restart_${r.signal}_stop_timed_out`] = 'did not exit within 60 s of SIGTERM; killed';
      }
    }
    return verdict(o, figures, L.win, restarts, L.died);
  } finally {
    if (col && col.child.exitCode === null) {
      col.child.kill('SIGTERM');
      await Promise.race([col.exited, sleep(30_000)]);
      if (col.child.exitCode === null) col.child.kill('SIGKILL');
    }
    if (o.keep) console.log(`soak: kept ${w.dir}`);
    else rmSync(w.dir, { recursive: true, force: true });
  }
}

/** What the generator does with its sessions, for the soak's output. */
function generatorSessionsText(o: SoakOptions, sessions: number): string {
  const share = sessions < o.schools ? `${sessions} sessions for ${o.schools} schools (${(o.schools / sessions).toFixed(2)} a session, round-robin: the descriptor limit)` : `one session per school (${sessions})`;
  const when = o.preconnect ? 'all opened before the live load (--preconnect 1; agents do not)' : sessions < o.schools ? 'each opened on the first upload of one of its schools' : "each opened on its school's first upload";
  return `${share}, ${when}; kept between uploads as agent/transport/h2.ts keeps them, reopened on the next upload after the collector closed one, dropped after an exchange failed without an answer, a stale reused one retried once on a fresh session`;
}

function windowFigures(win: Window, fleet: ReturnType<typeof makeFleet>): Record<string, number | string> {
  // NaN travels over IPC as null.
  const r1 = (v: number | null) => (v === null ? NaN : Number(v.toFixed(1)));
  return {
    window_s: r1((win.toMs - win.fromMs) / 1000),
    reports_per_s_offered_nominal: r1(offeredReportsPerSec(fleet)),
    reports_per_s_offered: r1(win.offeredPerSec),
    reports_per_s_sent: r1(win.sentPerSec),
    reports_per_s_held: r1(win.heldPerSec),
    p50_ms: r1(win.p50Ms),
    p99_ms: r1(win.p99Ms),
    max_ms: r1(win.maxMs),
    healthz_max_ms: r1(win.healthzMaxMs),
    healthz_p99_ms: r1(win.healthzP99Ms),
    healthz_failed: win.healthzFailed,
    ...(win.reportedLoopMaxMs !== undefined && { collector_reported_loop_delay_max_ms: r1(win.reportedLoopMaxMs) }),
    collector_rss_mib_start: mb(win.start.collectorRss),
    collector_rss_mib_end: mb(win.end.collectorRss),
    collector_rss_slope_mib_per_min: r1(win.collectorRssSlopeMbPerMin),
    influxd_rss_mib_start: mb(win.start.influxdRss),
    influxd_rss_mib_end: mb(win.end.influxdRss),
    influxd_rss_slope_mib_per_min: r1(win.influxdRssSlopeMbPerMin),
    // RSS by kind (/proc/PID/status): anonymous (heap: a leak shows here) and file-backed (influxd's mmap'ed TSM files: not a leak).
    collector_rss_anon_file_mib_start: `${mb(win.start.collectorRssParts.anon)} + ${mb(win.start.collectorRssParts.file)}`,
    collector_rss_anon_file_mib_end: `${mb(win.end.collectorRssParts.anon)} + ${mb(win.end.collectorRssParts.file)}`,
    collector_rss_anon_slope_mib_per_min: r1(win.collectorRssAnonSlopeMbPerMin),
    influxd_rss_anon_file_mib_start: `${mb(win.start.influxdRssParts.anon)} + ${mb(win.start.influxdRssParts.file)}`,
    influxd_rss_anon_file_mib_end: `${mb(win.end.influxdRssParts.anon)} + ${mb(win.end.influxdRssParts.file)}`,
    influxd_rss_anon_slope_mib_per_min: r1(win.influxdRssAnonSlopeMbPerMin),
    generator_rss_mib: mb(win.end.generatorRss),
    cpu_collector_pct: Math.round(win.cpuShare.collector * 100),
    cpu_influxd_pct: Math.round(win.cpuShare.influxd * 100),
    cpu_generator_pct: Math.round(win.cpuShare.generator * 100),
    ...(Number.isFinite(win.cpuShare.front) && {
      cpu_front_pct: Math.round(win.cpuShare.front * 100),
      front_cpu_us_per_report_held: Math.round((win.cpuShare.front * 1e6) / win.heldPerSec),
      front_rss_mib_start: mb(win.start.frontRss),
      front_rss_mib_end: mb(win.end.frontRss),
    }),
    // The generator's own process.cpuUsage() per batch it sent in the window (what a cheaper generator lowers).
    generator_cpu_us_per_batch_sent: Math.round(((win.genEnd.cpuUserMs + win.genEnd.cpuSystemMs - win.genStart.cpuUserMs - win.genStart.cpuSystemMs) * 1000) / (win.genEnd.counters.batchesSent - win.genStart.counters.batchesSent)),
    // CPU time per report held: what survives a loaded box (shares of a core do not).
    collector_cpu_us_per_report_held: Math.round((win.cpuShare.collector * 1e6) / win.heldPerSec),
    // Which threads: main (the event loop), V8 Worker (GC helpers), libuv-worker (fdatasync), the checkpointer.
    collector_cpu_us_per_report_held_by_thread: threadCpuPerUnit(win.start, win.end, (win.heldPerSec * (win.end.atMs - win.start.atMs)) / 1000),
    influxd_cpu_us_per_report_held: Math.round((win.cpuShare.influxd * 1e6) / win.heldPerSec),
    collector_fds: win.end.collectorFds,
    sessions_open: win.genEnd.counters.sessionsOpen,
  };
}

function verdict(o: SoakOptions, figures: Record<string, number | string>, win: Window | undefined, restarts: RestartResult[], died: string | undefined): BenchResult {
  const ratio = win ? win.heldPerSec / win.offeredPerSec : 0;
  const restartMaxS = Math.max(...restarts.map((r) => (Number.isFinite(r.firstBatchMs) ? Math.max(r.readyMs, r.firstBatchMs) : Infinity) / 1000));
  // The collector's own monitorEventLoopDelay figure when it has one; else the /healthz answer time (an upper bound).
  const loop = win?.reportedLoopMaxMs ?? win?.healthzMaxMs ?? Infinity;
  const checks: Record<string, boolean> = {
    survived: !died,
    'held ≥ 99 % of offered': ratio >= 0.99,
    'p99 < 1 s': (win?.p99Ms ?? Infinity) < 1000,
    [`event loop delay (${win?.reportedLoopMaxMs !== undefined ? "collector's own figure" : '/healthz answer time'}) < 50 ms`]: loop < 50,
    'collector RSS growth < 10 % over the window': !!win && win.end.collectorRss < win.start.collectorRss * 1.1,
    'restart < 10 s': restarts.length === 2 && restartMaxS < 10,
  };
  figures.goals = Object.entries(checks).map(([k, v]) => `${v ? 'met' : 'MISSED'}: ${k}`).join('; ');
  figures.machine = `2 cores shared with 5 other engineers' tests; load average at end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
  return { name: `province soak, ${o.schools} schools, ${o.minutes} min live after ${o.seedDays} seeded days`, figures, ratio, goal: 'held ÷ offered ≥ 0.99 and every goal met', pass: Object.values(checks).every(Boolean) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
      for (const [k, v] of Object.entries(r.figures)) console.log(`       ${k}: ${v}`);
      process.exit(r.pass ? 0 : 1);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
