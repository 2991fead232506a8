/**
 * Collector start with a province's state in the state database: 60,000 agents (dedupe marks, gap
 * detector state, device lists, start/stop log) and 250,000 tokens, and the bulk token issue that
 * made them.
 *
 *   npx tsx bench/state-start.bench.ts [--agents 60000] [--tokens 250000] [--repeat 5]
 *
 * Seeds: `campuslink-collector token issue --all --out FILE` over a generated registry of `--tokens`
 * schools (timed: the bulk issue figure), then one row per agent per table written with the stores'
 * own upserts. Measures, interleaved `--repeat` times: (a) the state as `serve` loads it (open, legacy
 * check, TokenStore filling in the background, DedupeStore, gaps and inventory start: per-agent rows
 * are read on an agent's first batch), until it could listen and until the token map is full, (b) the
 * peer: a bare scan of every row of the same tables with better-sqlite3, nothing built, i.e. what
 * loading everything at start would cost at least; (c) `campuslink-collector serve` from spawn to "listening"
 * (registry of 250,000 schools, an external influxd started here; `dist/` when built, else through
 * tsx). Reports medians and spreads; the
 * ratio is the median serve start / 10 s (goal: below 1).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { TokenStore } from '../collector/auth/tokens.js';
import { ViewerStore } from '../collector/auth/viewers.js';
import { createGapsModule, putGapStates } from '../collector/gaps/module.js';
import { putLifeLog } from '../collector/gaps/lifelog.js';
import { DedupeStore, putHeld } from '../collector/ingest/dedupe.js';
import { createInventoryModule } from '../collector/inventory/index.js';
import { putAgentDevices } from '../collector/inventory/store.js';
import { startInfluxd } from '../collector/sink/influxd.js';
import { openStateDb } from '../collector/state/db.js';
import { importLegacyState } from '../collector/state/legacy.js';
import type { BenchResult } from './snmp-poll.bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const AGENTS = arg('agents', 60_000);
const TOKENS = arg('tokens', 250_000);
const REPEAT = arg('repeat', 5);
const T0 = Date.parse('2026-11-23T08:00:00Z');
const MIN = 60_000;
const quiet = pino({ level: 'silent' });

/** 31 provinces × 10 cities × 10 counties, schools spread evenly (as bench/coverage.bench.ts). */
export function registryCsv(n: number): string {
  const lines = ['school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon'];
  for (let i = 0; i < n; i++) {
    const p = 11 + (i % 31);
    const c = 1 + (Math.floor(i / 31) % 10);
    const k = 1 + (Math.floor(i / 310) % 10);
    const kc = `${p}${String(c).padStart(2, '0')}${String(k).padStart(2, '0')}`;
    const id = `${kc}${String(i).padStart(6, '0')}`.slice(-10).replace(/^0/, '1');
    lines.push(`${id},学校${i},primary,${p}0000,省${p},${p}${String(c).padStart(2, '0')}00,市,${kc},县,fiber,100,500,12,30,110`);
  }
  return lines.join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} ms`;

/** A week's worth of state for one agent: a mark with a few ranges, 16 recent pairs, 12 devices. */
export function seedAgents(stateDir: string, schools: string[]): void {
  const state = openStateDb({ stateDir });
  new DedupeStore({ state });
  createGapsModule({ state, sink: { write: async () => undefined, ready: async () => true, close: async () => undefined }, tagsFor: () => undefined, held: () => true, log: quiet, now: () => T0 });
  createInventoryModule({ state, log: quiet, now: () => T0, registry: { get: () => undefined } });
  const CHUNK = 5000;
  for (let from = 0; from < schools.length; from += CHUNK) {
    const part = schools.slice(from, from + CHUNK);
    state.transaction((db) => {
      putHeld(db, part.map((school) => ({ school, agent: 'gw-01', held: { hwm: 10_080, ranges: [10_082, 10_090, 10_095, 10_095] } })));
      putGapStates(
        db,
        part.map((school) => ({ school, agent: 'gw-01', state: { recent: Array.from({ length: 16 }, (_, i) => [10_080 + i, T0 + (10_080 + i) * MIN]).flat(), intervalMs: MIN, checkedSeq: 10_095 } })),
      );
      for (const school of part) {
        const devices = new Map(Array.from({ length: 12 }, (_, i) => { const mac = `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`; return [mac, { mac, class: 'pc' as const, firstSeen: T0, lastSeen: T0 + 7 * 1440 * MIN, ip: `10.0.0.${i + 2}`, vendor: 'Example' }]; }));
        putAgentDevices(db, { school, agents: new Map([['gw-01', { lastSeq: 10_095, updatedAtMs: T0, devices }]]) }, ['gw-01']);
      }
    });
  }
  state.transaction((db) => putLifeLog(db, { aliveAtMs: T0 + 7 * 1440 * MIN, stopped: true, downtimes: Array.from({ length: 50 }, (_, i) => ({ fromMs: T0 + i * 3 * 3_600_000, toMs: T0 + i * 3 * 3_600_000 + 60_000 })), maxDowntimes: 1000 }));
  void state.close();
}

/** Loads the state the way `serve` does, without HTTP or InfluxDB: ms until it could listen, and until the token map is full. */
async function loadAsServe(stateDir: string, sample: string): Promise<{ readyMs: number; tokensMs: number }> {
  const t = performance.now();
  const state = openStateDb({ stateDir });
  await importLegacyState({ state, stateDir, log: quiet });
  const tokens = new TokenStore({ state, background: true });
  new ViewerStore(state);
  const dedupe = new DedupeStore({ state });
  const gaps = createGapsModule({ state, sink: { write: async () => undefined, ready: async () => true, close: async () => undefined }, tagsFor: () => undefined, held: () => true, log: quiet, now: () => Date.now(), heartbeatMs: 3_600_000 });
  await gaps.start?.();
  const inventory = createInventoryModule({ state, log: quiet, now: () => Date.now(), registry: { get: () => undefined } });
  await inventory.start?.();
  const readyMs = performance.now() - t;
  await tokens.loaded;
  const tokensMs = performance.now() - t;
  if (tokens.size !== TOKENS || dedupe.heldThrough(sample, 'gw-01') !== 10_080 || inventory.devices(sample)?.length !== 12) throw new Error(`state not as seeded: ${tokens.size} tokens`);
  await gaps.stop?.();
  await inventory.stop?.();
  await state.close();
  return { readyMs, tokensMs };
}

/** The peer: every row of the same tables read, nothing built from them. */
function bareScan(stateDir: string): number {
  const t = performance.now();
  const state = openStateDb({ stateDir });
  let n = 0;
  for (const table of ['tokens', 'viewers', 'dedupe_agents', 'gap_agents', 'inventory_agents', 'lifelog_downtimes']) for (const _ of state.db.prepare(`SELECT * FROM ${table}`).raw().iterate()) n++;
  void state.close();
  if (n < TOKENS + 3 * AGENTS) throw new Error(`scanned ${n} rows`);
  return performance.now() - t;
}

/** The CLI as installed (`dist/`, after `npm run build`), else from source through tsx (slower to start). */
const DIST_CLI = join(ROOT, 'dist', 'collector', 'cli.js');
const cliArgs = (...args: string[]) => (existsSync(DIST_CLI) ? [DIST_CLI, ...args] : ['--import', 'tsx', join(ROOT, 'collector', 'cli.ts'), ...args]);

/** `campuslink-collector serve` from spawn to its "listening" line, then SIGTERM; and when (ms after spawn) it logged the registry as loaded. */
function serveStart(env: Record<string, string>): Promise<{ ms: number; registryMs: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const spawnedAt = Date.now();
    let registryMs = NaN;
    const child = spawn(process.execPath, cliArgs('serve'), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let ms = 0;
    child.stderr.on('data', (d) => {
      err += d;
      const m = /\{[^\n]*"msg":"registry loaded"[^\n]*\}/.exec(err);
      if (m && Number.isNaN(registryMs)) registryMs = (JSON.parse(m[0]) as { time: number }).time - spawnedAt;
    });
    child.stdout.on('data', (d) => {
      if (!ms && /listening on/.test(String(d))) {
        ms = performance.now() - t;
        child.kill('SIGTERM');
      }
    });
    child.on('exit', (code) => (ms ? resolve({ ms, registryMs }) : reject(new Error(`serve exited ${code}: ${err.slice(-2000)}`))));
  });
}

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'campuslink-bench-state-'));
  const stateDir = join(work, 'state');
  const registry = join(work, 'schools.csv');
  writeFileSync(registry, registryCsv(TOKENS));
  const env = { CAMPUSLINK_STATE_DIR: stateDir, CAMPUSLINK_REGISTRY: registry, CAMPUSLINK_LOG_LEVEL: 'warn' };
  const influxd = await startInfluxd({ dataDir: join(work, 'influxd') });
  try {
    let t = performance.now();
    const issued = spawnSync(process.execPath, cliArgs('token', 'issue', '--all', '--out', join(work, 'tokens.csv')), { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
    const issueMs = performance.now() - t;
    if (issued.status !== 0) throw new Error(`token issue --all failed: ${issued.stderr}`);
    const schools = (spawnSync('sh', ['-c', `tail -n +2 ${join(work, 'tokens.csv')} | cut -d, -f1 | head -n ${AGENTS}`], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout as string).trim().split('\n');
    t = performance.now();
    seedAgents(stateDir, schools);
    const seedMs = performance.now() - t;
    const dbBytes = statSync(join(stateDir, 'state.db')).size;
    const load: number[] = [];
    const tokensFull: number[] = [];
    const scan: number[] = [];
    const serve: number[] = [];
    const registryAt: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      scan.push(bareScan(stateDir));
      const l = await loadAsServe(stateDir, schools[schools.length - 1] as string);
      load.push(l.readyMs);
      tokensFull.push(l.tokensMs);
      const sv = await serveStart({ ...env, CAMPUSLINK_LOG_LEVEL: 'info', CAMPUSLINK_INFLUX_URL: influxd.url, CAMPUSLINK_LISTEN: '127.0.0.1:0' });
      serve.push(sv.ms);
      registryAt.push(sv.registryMs);
    }
    const ratio = median(serve) / 10_000;
    return {
      name: `state-start (${AGENTS} agents, ${TOKENS} tokens)`,
      figures: {
        'token issue --all (CLI, registry load included)': `${(issueMs / 1000).toFixed(1)} s for ${TOKENS} tokens`,
        'seeding agent rows': `${(seedMs / 1000).toFixed(1)} s`,
        'state.db size': `${(dbBytes / 2 ** 20).toFixed(0)} MiB`,
        'state ready to serve (median, spread)': `${median(load).toFixed(0)} ms (${spread(load)})`,
        'token map full, in background chunks (median, spread)': `${median(tokensFull).toFixed(0)} ms (${spread(tokensFull)})`,
        'peer: bare scan of every row (median, spread)': `${median(scan).toFixed(0)} ms (${spread(scan)})`,
        'ready / bare scan': (median(load) / median(scan)).toFixed(3),
        'serve: spawn to listening, registry included (median, spread)': `${median(serve).toFixed(0)} ms (${spread(serve)})`,
        'serve: spawn to "registry loaded" (node start, state open, registry of 250,000 parsed) (median, spread)': `${median(registryAt).toFixed(0)} ms (${spread(registryAt)})`,
        repetitions: REPEAT,
        cli: existsSync(DIST_CLI) ? 'dist/collector/cli.js' : 'collector/cli.ts through tsx (run npm run build for the installed form)',
      },
      ratio,
      goal: 'serve start < 10 s (ratio = median / 10 s < 1)',
      pass: ratio < 1,
    };
  } finally {
    await influxd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
