/**
 * The embedded influxd's config at province cardinality, A/B in the same run:
 *
 *   npx tsx bench/fleet/influxd-cache.bench.ts [--schools 20000] [--rounds 6] [--pairs 2] [--a-mib 25] [--b-mib 256]
 *       [--a-conf 'data.max-index-log-file-size="8m" write.lines=10000'] [--b-conf …] [--pprof DIR] [--pprof-s 60]
 *   e.g. what not storing the derived fields saves: --a-mib 25 --b-mib 25 --a-conf write.derived=store --b-conf write.derived=drop
 *
 * A variant is the generated config (collector/sink/influxd.ts) with `cache-snapshot-memory-size` of
 * `--a-mib`/`--b-mib` and the `section.key=value` overrides of `--a-conf`/`--b-conf` (space separated; values
 * are TOML: `"8m"`, `104857600`, `true`), plus how the bench writes: `write.precision=ms|s|ns` (the collector
 * writes ms), `write.lines=N` (lines a write, 5000 as the sink), `write.gzip=true` (Content-Encoding: gzip);
 * `env.NAME=value` goes into influxd's environment (e.g. `env.GOGC=200`), and `write.derived=drop|store`
 * whether the fleet load leaves out what InfluxDB derives (collector/ingest/stored-fields.ts: `drop`, the
 * collector's own lines, the default) or stores those fields too, as the collector did before session 9 (`store`).
 * With `--pprof DIR`, influxd's own CPU profile (`pprof-enabled = true`, `/debug/pprof/profile?seconds=`
 * `--pprof-s`) from the start of each trial's measured rounds is saved into DIR and summed by function
 * (bench/fleet/pprof.ts: Debian's influxd is stripped, so `perf` sees addresses only).
 *
 * The load (`--load fleet`, default) is what the province soak's collector writes: each school's report
 * of the soak's generator (bench/fleet/templates.ts) through the collector's `reportToLines`, 22 series and
 * ~105 field values a school; `--load simple` is the older 22 series with 43 fields (session 5's figures).
 * Each trial starts a fresh influxd with a variant's config, writes one report of every school (creating
 * the series; not measured), then `--rounds` more simulated minutes of every school (one report each,
 * 2 writes in flight, as the collector's sink does), and measures influxd's CPU time per point (all
 * threads, from /proc: what survives a loaded box), points/s, TSM files and bytes on disk, RSS, and the time
 * to be ready again after a SIGKILL (WAL replay of what the cache held), and influxd's own counters over the
 * measured rounds (/debug/vars: cache snapshots, compactions by level, their wall time).
 * Trials alternate A, B, A, B…. The ratio is B's median CPU per point ÷ A's.
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startInfluxd } from '../../collector/sink/influxd.js';
import { LineCache, reportToLines } from '../../collector/ingest/points.js';
import { DERIVED_FIELDS } from '../../collector/ingest/stored-fields.js';
import type { Report } from '../../protocol/index.js';
import { makeFleet, type FleetSchool } from './fleet.js';
import { readGoProfile, topFunctions } from './pprof.js';
import { batchReports, VARIANTS } from './templates.js';
import { cpuMs, rssBytes } from './procstat.js';

const text = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};

/** How the bench writes, and the influxd settings of one variant. */
interface Variant {
  label: string;
  mib: number;
  settings: Record<string, string>;
  env: Record<string, string>;
  precision: 'ms' | 's' | 'ns';
  lines: number;
  gzip: boolean;
  /** Fields InfluxDB derives: left out as the collector does (`drop`), or stored as before session 9. */
  derived: 'drop' | 'store';
}

/** Parses `--a-conf`/`--b-conf`: space-separated section.key=value, `write.*` for the bench itself. */
function variant(label: string, mib: number, conf: string): Variant {
  const v: Variant = { label, mib, settings: {}, env: {}, precision: 'ms', lines: 5000, gzip: false, derived: 'drop' };
  for (const item of conf.split(/\s+/).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq < 1) throw new Error(`--${label.toLowerCase()}-conf: ${JSON.stringify(item)} is not section.key=value`);
    const [key, value] = [item.slice(0, eq), item.slice(eq + 1)];
    if (key === 'write.precision') {
      if (value !== 'ms' && value !== 's' && value !== 'ns') throw new Error(`write.precision must be ms, s or ns, not ${value}`);
      v.precision = value;
    } else if (key === 'write.lines') {
      v.lines = Number(value);
      if (!Number.isInteger(v.lines) || v.lines < 1) throw new Error(`write.lines must be a positive integer, not ${value}`);
    } else if (key === 'write.gzip') v.gzip = value === 'true';
    else if (key === 'write.derived') {
      if (value !== 'drop' && value !== 'store') throw new Error(`write.derived must be drop or store, not ${value}`);
      v.derived = value;
    }
    else if (key.startsWith('env.')) v.env[key.slice(4)] = value;
    else v.settings[key] = value;
  }
  if (!('data.cache-snapshot-memory-size' in v.settings)) v.settings['data.cache-snapshot-memory-size'] = String(Math.round(mib * 2 ** 20));
  return v;
}

const describe = (v: Variant) => `${v.label}: ${Object.entries(v.settings).map(([k, x]) => `${k}=${x}`).join(' ')}${Object.entries(v.env).map(([k, x]) => ` env.${k}=${x}`).join('')} write.precision=${v.precision} write.lines=${v.lines}${v.gzip ? ' write.gzip=true' : ''} write.derived=${v.derived}`;

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};

/** A school's 22 series as line-protocol heads (measurement and tags) and a field set maker. */
function schoolSeries(i: number): { head: string; fields: (t: number) => string }[] {
  const tags = `agent=gw-${i},city=${3201 + (i % 13)},county=${320100 + (i % 97)},province=32,school=${3200000000 + i}`;
  const out: { head: string; fields: (t: number) => string }[] = [];
  for (const target of ['internet', 'dns', 'peer', 'edu', 'gateway']) out.push({ head: `ping,${tags},target=${target}`, fields: (t) => `loss_pct=${t % 3},rtt_ms=${20 + (t % 17)},jitter_ms=${t % 5}` });
  for (const iface of ['wan', 'lan', 'wlan0', 'wlan1']) out.push({ head: `iface,${tags},iface=${iface},role=${iface === 'wan' ? 'wan' : 'lan'}`, fields: (t) => `rx_bps=${1e6 + t},tx_bps=${5e5 + t},errors=0` });
  out.push({ head: `sys,${tags}`, fields: (t) => `cpu_pct=${t % 100},mem_pct=${40 + (t % 20)},uptime_s=${t}` });
  for (let k = 0; k < 9; k++) out.push({ head: `inventory,${tags},class=c${k}`, fields: (t) => `count=${k + (t % 2)}` });
  out.push({ head: `modem,${tags}`, fields: (t) => `rsrp_dbm=${-90 - (t % 10)}` });
  out.push({ head: `agent,${tags},version=1.4.0`, fields: () => 'up=1' });
  out.push({ head: `report,${tags}`, fields: (t) => `seq=${t},measurements=22` });
  return out;
}

function post(url: string, body: Buffer, agent: http.Agent, v: Variant): Promise<void> {
  const headers: http.OutgoingHttpHeaders = { 'content-length': body.length, ...(v.gzip && { 'content-encoding': 'gzip' }) };
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/write?db=bench&precision=${v.precision}`, { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`write answered ${res.statusCode}: ${text.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The lines of school `i`'s report of round `round` (its one-minute cycle) as the collector writes them:
 * the soak's reports (bench/fleet/templates.ts: 22 series, ~105 fields) through `reportToLines`, with the
 * registry's tags. Timestamps in ms. With `derived` `store`, the fields the collector leaves out
 * (stored-fields.ts) are put back at the end of their lines: what it wrote before session 9.
 */
function fleetLines(fleet: readonly FleetSchool[], cache: LineCache, i: number, round: number, baseMs: number, derived: Variant['derived']): string[] {
  const s = fleet[i] as FleetSchool;
  const collectedAt = baseMs + round * 60_000 + s.phaseMs;
  const [report] = batchReports({ reports: 1, variant: (i + round) % VARIANTS, satellite: s.linkType.startsWith('sat-') }, { school: s.id, seq: round + 1, collectedAt, sentAt: collectedAt + 1000 });
  const tags = { school: s.id, province: '530000', city: `${s.countyCode.slice(0, 4)}00`, county: s.countyCode, link: s.linkType };
  const lines = reportToLines({ report: report as Report, tags, receivedAtMs: collectedAt + 1000, cache });
  if (derived === 'store') {
    (report as Report).measurements.forEach((m, k) => {
      const fields = m.fields as Record<string, unknown>;
      const back = DERIVED_FIELDS.filter((d) => d.measurement === m.name && d.derivable(fields)).map((d) => `,${d.field}=${String(fields[d.field])}`);
      const l = lines[k] as string;
      const at = l.lastIndexOf(' ');
      if (back.length) lines[k] = `${l.slice(0, at)}${back.join('')}${l.slice(at)}`;
    });
  }
  return lines;
}

/** The old load (`--load simple`): 22 series a school with 43 fields, for comparison with earlier figures. */
function simpleLines(i: number, round: number, baseMs: number): string[] {
  const t = baseMs + round * 60_000 + (i % 60_000);
  return schoolSeries(i).map((s) => `${s.head} ${s.fields(round + i)} ${t}`);
}

/** Field values in line-protocol lines (none of these lines has a space or comma inside a value). */
const fieldCount = (lines: readonly string[]) => lines.reduce((n, l) => n + (l.split(' ')[1] ?? '').split(',').length, 0);

/** Writes influxd refused (and the bench sent again) since the start. */
let refusedWrites = 0;

type Load = (i: number, round: number, baseMs: number, derived: Variant['derived']) => string[];

/** Writes one simulated minute of every school, `v.lines` lines a write, 2 in flight. */
async function writeRound(url: string, agent: http.Agent, schools: number, round: number, baseMs: number, v: Variant, load: Load, values?: { n: number }): Promise<number> {
  // Lines end in a ms timestamp; other precisions cut or extend it.
  const stamp = v.precision === 'ms' ? (l: string) => l : v.precision === 's' ? (l: string) => l.slice(0, -3) : (l: string) => `${l}000000`;
  let lines: string[] = [];
  let points = 0;
  const inFlight = new Set<Promise<void>>();
  const flush = async () => {
    const plain = Buffer.from(lines.join('\n'));
    const body = v.gzip ? gzipSync(plain, { level: 1 }) : plain;
    points += lines.length;
    if (values) values.n += fieldCount(lines);
    lines = [];
    // A loaded box makes influxd answer 500 "timeout" now and then, and a full cache (cache-max-memory-size)
    // refuses writes until a snapshot frees it, as it would refuse the collector's: the same write again
    // (it overwrites itself), counted, for up to 5 minutes.
    const send = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await post(url, body, agent, v);
        } catch (e) {
          refusedWrites++;
          if (attempt >= 300) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    const p = send().finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 2) await Promise.race(inFlight);
  };
  for (let i = 0; i < schools; i++) {
    for (const l of load(i, round, baseMs, v.derived)) lines.push(stamp(l));
    if (lines.length >= v.lines) await flush();
  }
  if (lines.length) await flush();
  await Promise.all(inFlight);
  return points;
}

/** Bytes of the files under `dir` whose names end in `ext`. */
function filesBytes(dir: string, ext: string): number {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith(ext)) bytes += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return bytes;
}

function tsmFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.tsm')) {
        files++;
        bytes += statSync(join(d, e.name)).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

/** influxd's own counters, summed over the shards of database `bench` (/debug/vars). */
interface EngineStats {
  snapshots: number;
  snapshotMs: number;
  level1: number;
  level2: number;
  level3: number;
  full: number;
  optimize: number;
  compactionMs: number;
}

async function engineStats(url: string): Promise<EngineStats> {
  const vars = (await (await fetch(`${url}/debug/vars`)).json()) as Record<string, { name?: string; tags?: { database?: string }; values?: Record<string, number> }>;
  const s: EngineStats = { snapshots: 0, snapshotMs: 0, level1: 0, level2: 0, level3: 0, full: 0, optimize: 0, compactionMs: 0 };
  for (const e of Object.values(vars)) {
    if (e?.tags?.database !== 'bench' || e.name !== 'tsm1_engine' || !e.values) continue;
    const v = e.values;
    const n = (k: string) => Number(v[k] ?? 0);
    s.snapshots += n('cacheCompactions');
    s.snapshotMs += n('cacheCompactionDuration') / 1e6;
    s.level1 += n('tsmLevel1Compactions');
    s.level2 += n('tsmLevel2Compactions');
    s.level3 += n('tsmLevel3Compactions');
    s.full += n('tsmFullCompactions');
    s.optimize += n('tsmOptimizeCompactions');
    s.compactionMs += (n('tsmLevel1CompactionDuration') + n('tsmLevel2CompactionDuration') + n('tsmLevel3CompactionDuration') + n('tsmFullCompactionDuration') + n('tsmOptimizeCompactionDuration')) / 1e6;
  }
  return s;
}

const statsDelta = (a: EngineStats, b: EngineStats): EngineStats =>
  Object.fromEntries(Object.keys(a).map((k) => [k, b[k as keyof EngineStats] - a[k as keyof EngineStats]])) as unknown as EngineStats;

interface Trial {
  label: string;
  cpuUsPerPoint: number;
  /** The same per field value written. */
  cpuUsPerValue: number;
  pointsPerSec: number;
  tsmFiles: number;
  tsmMiB: number;
  rssMiB: number;
  killRestartMs: number;
  /** WAL on disk when influxd was killed: what the restart replays. */
  walMiB: number;
  stats: EngineStats;
  /** Writes influxd refused during the measured rounds (e.g. its cache was full). */
  refused: number;
  /** influxd's CPU profile of the measured rounds (--pprof). */
  profileFile?: string;
}

/** influxd's CPU profile over the next `seconds`, saved to `file`. */
async function pprof(url: string, seconds: number, file: string): Promise<string> {
  const res = await fetch(`${url}/debug/pprof/profile?seconds=${seconds}`, { signal: AbortSignal.timeout((seconds + 60) * 1000) });
  if (res.status !== 200) throw new Error(`GET /debug/pprof/profile answered ${res.status}`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

async function trial(o: { v: Variant; schools: number; rounds: number; load: Load; pprof?: { dir: string; seconds: number }; n: number }): Promise<Trial> {
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-influxd-cache-'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const settings = o.pprof ? { ...o.v.settings, 'http.pprof-enabled': 'true' } : o.v.settings;
  const start = (readyTimeoutMs: number) => startInfluxd({ dataDir: dir, settings, env: o.v.env, readyTimeoutMs });
  let h = await start(120_000);
  try {
    await new Promise<void>((res, rej) => http.request(`${h.url}/query?q=${encodeURIComponent('CREATE DATABASE bench')}`, { method: 'POST' }, (r) => (r.resume(), r.on('end', res))).on('error', rej).end());
    const baseMs = Date.now() - (o.rounds + 2) * 60_000;
    await writeRound(h.url, agent, o.schools, 0, baseMs, o.v, o.load);
    const stats0 = await engineStats(h.url);
    const profile = o.pprof ? pprof(h.url, o.pprof.seconds, join(o.pprof.dir, `${o.v.label}-${o.n}.pb.gz`)) : undefined;
    const refused0 = refusedWrites;
    const cpu0 = cpuMs(h.pid);
    const t0 = performance.now();
    let points = 0;
    const values = { n: 0 };
    for (let r = 1; r <= o.rounds; r++) points += await writeRound(h.url, agent, o.schools, r, baseMs, o.v, o.load, values);
    const wallS = (performance.now() - t0) / 1000;
    // The compactions a round started run on: count them until influxd is idle for a second.
    for (let last = cpuMs(h.pid); ; ) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = cpuMs(h.pid);
      if (now - last < 100) break;
      last = now;
    }
    const cpu = cpuMs(h.pid) - cpu0;
    const profileFile = await profile;
    const stats = statsDelta(stats0, await engineStats(h.url));
    const rss = rssBytes(h.pid);
    const tsm = tsmFiles(join(dir, 'data'));
    const walMiB = filesBytes(join(dir, 'wal'), '.wal') / 2 ** 20;
    process.kill(h.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const tr = performance.now();
    h = await start(300_000);
    const killRestartMs = performance.now() - tr;
    return { label: o.v.label, cpuUsPerPoint: (cpu * 1000) / points, cpuUsPerValue: (cpu * 1000) / values.n, pointsPerSec: points / wallS, tsmFiles: tsm.files, tsmMiB: tsm.bytes / 2 ** 20, rssMiB: rss / 2 ** 20, killRestartMs, walMiB, stats, refused: refusedWrites - refused0, ...(profileFile && { profileFile }) };
  } finally {
    agent.destroy();
    await h.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const loadavg = async () => (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
const statsText = (s: EngineStats) => `${s.snapshots} snapshots (${(s.snapshotMs / 1000).toFixed(1)} s), compactions L1 ${s.level1} L2 ${s.level2} L3 ${s.level3} full ${s.full} optimize ${s.optimize} (${(s.compactionMs / 1000).toFixed(1)} s)`;

/** Runs the A/B. */
export async function run(): Promise<{ ratio: number; trials: Trial[] }> {
  const schools = arg('schools', 20_000);
  const rounds = arg('rounds', 6);
  const pairs = arg('pairs', 2);
  const a = variant('A', arg('a-mib', 25), text('a-conf', ''));
  const b = variant('B', arg('b-mib', 256), text('b-conf', ''));
  const pprofDir = text('pprof', '') || undefined;
  if (pprofDir) mkdirSync(pprofDir, { recursive: true });
  const pprofS = arg('pprof-s', 60);
  const loadName = text('load', 'fleet');
  if (loadName !== 'fleet' && loadName !== 'simple') throw new Error('--load must be fleet or simple');
  const fleet = makeFleet(schools);
  const cache = new LineCache();
  const load: Load = loadName === 'fleet' ? (i, r, base, derived) => fleetLines(fleet, cache, i, r, base, derived) : simpleLines;
  const fields = (v: Variant) => `${fieldCount(load(0, 0, 0, v.derived))} fields (${v.label})`;
  console.log(`influxd config A/B: ${schools} schools × 22 series (${loadName} load: school 0 writes ${load(0, 0, 0, a.derived).length} lines, ${fields(a)}, ${fields(b)}), ${rounds} measured rounds, ${pairs} pairs; load average ${await loadavg()}`);
  console.log(`  ${describe(a)}\n  ${describe(b)}`);
  const trials: Trial[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const v of [a, b]) {
      const t = await trial({ v, schools, rounds, load, ...(pprofDir && { pprof: { dir: pprofDir, seconds: pprofS } }), n: p + 1 });
      trials.push(t);
      console.log(`  ${v.label}: ${t.cpuUsPerPoint.toFixed(1)} µs CPU/point (${t.cpuUsPerValue.toFixed(2)} a field value), ${Math.round(t.pointsPerSec)} points/s, ${t.tsmFiles} TSM files ${t.tsmMiB.toFixed(0)} MiB, RSS ${t.rssMiB.toFixed(0)} MiB, ready after SIGKILL ${(t.killRestartMs / 1000).toFixed(1)} s (WAL ${t.walMiB.toFixed(0)} MiB); ${statsText(t.stats)}; ${t.refused} writes refused and sent again; load ${await loadavg()}`);
      if (t.profileFile) console.log(`    influxd CPU profile ${t.profileFile}:\n${topFunctions(readGoProfile(readFileSync(t.profileFile)), 25).map((l) => `    ${l}`).join('\n')}`);
    }
  }
  const of = (label: string, f: (t: Trial) => number) => trials.filter((t) => t.label === label).map(f);
  const ratio = median(of('B', (t) => t.cpuUsPerPoint)) / median(of('A', (t) => t.cpuUsPerPoint));
  for (const v of [a, b]) {
    const cpu = of(v.label, (t) => t.cpuUsPerPoint);
    const ready = of(v.label, (t) => t.killRestartMs / 1000);
    console.log(`${v.label}: median ${median(cpu).toFixed(1)} µs CPU/point (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}), ${median(of(v.label, (t) => t.cpuUsPerValue)).toFixed(2)} a field value, ${Math.round(median(of(v.label, (t) => t.pointsPerSec)))} points/s, TSM ${median(of(v.label, (t) => t.tsmMiB)).toFixed(0)} MiB in ${median(of(v.label, (t) => t.tsmFiles))} files, RSS ${median(of(v.label, (t) => t.rssMiB)).toFixed(0)} MiB, ready after SIGKILL ${median(ready).toFixed(1)} s (${Math.min(...ready).toFixed(1)}–${Math.max(...ready).toFixed(1)})`);
  }
  console.log(`ratio B/A of influxd CPU per point: ${ratio.toFixed(2)}; load average at end ${await loadavg()}`);
  return { ratio, trials };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
