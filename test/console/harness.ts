/**
 * A seeded province for the console tests: a registry CSV (1 province, 2 cities, 4 counties, 100
 * schools), a real influxd, the app with the views, inventory and console modules, and 24 hours of
 * reports posted through ingest in time order (so the coverage history has points too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createConsoleModule } from '../../collector/console/module.js';
import { ViewerStore, issueViewer } from '../../collector/auth/viewers.js';
import { createApp } from '../../collector/http/app.js';
import { createInventoryModule } from '../../collector/inventory/index.js';
import { SchoolBudgets, budgetsSchema, type BudgetSettings } from '../../collector/ingest/budgets.js';
import { createBudgetsModule } from '../../collector/ingest/budgets-api.js';
import type { CollectorModule, ModuleContext } from '../../collector/module.js';
import { openStateDb } from '../../collector/state/db.js';
import { LiveRegistry, loadRegistry } from '../../collector/registry/index.js';
import { createInflux1Sink, type Influx1Sink } from '../../collector/sink/influx1.js';
import { createViewsModule, type ViewsModule } from '../../collector/views/index.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../protocol/index.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';

export const HOUR = 3_600_000;
export const SCRIPT_NAME = `<script>alert(1)</script> "引号" '学校'`;

export const COUNTIES = [
  { city: ['640100', '银川市'], county: ['640104', '兴庆区'], lat: 38.47, lon: 106.28 },
  { city: ['640100', '银川市'], county: ['640105', '西夏区'], lat: 38.49, lon: 106.13 },
  { city: ['640300', '吴忠市'], county: ['640302', '利通区'], lat: 37.98, lon: 106.2 },
  { city: ['640300', '吴忠市'], county: ['640323', '盐池县'], lat: 37.78, lon: 107.4 },
] as const;

const LINKS = ['fiber', 'fiber', 'cellular', 'fiber', 'sat-leo', 'dsl', 'microwave', 'sat-geo', 'fiber', 'cellular'] as const;

/** What each seeded school does: the scenario is a function of its index. */
export type Role = 'online' | 'silent' | 'unreachable' | 'never';

export interface SeedSchool {
  id: string;
  name: string;
  county: (typeof COUNTIES)[number];
  link: string;
  role: Role;
  contractedMbps: number;
  lat: number;
  lon: number;
}

/** 100 schools, 25 per county; per ten: 7 online, 1 agent silent for 6 h, 1 online-reporting but internet unreachable (GEO, modem lost lock), 1 never seen. */
export function seedSchools(names: Readonly<Record<number, string>> = {}): SeedSchool[] {
  return Array.from({ length: 100 }, (_, i) => {
    const county = COUNTIES[i % 4] as (typeof COUNTIES)[number];
    const serial = Math.floor(i / 4) + 1;
    const k = i % 10;
    const role: Role = k === 9 ? 'never' : k === 8 ? 'silent' : k === 7 ? 'unreachable' : 'online';
    return {
      id: `1${county.county[0]}${String(serial).padStart(3, '0')}`,
      name: names[i] ?? (i === 4 ? SCRIPT_NAME : `${county.county[1]}第${serial}学校`),
      county,
      link: LINKS[k] as string,
      role,
      contractedMbps: [1000, 300, 100, 50, 8, 1.5][i % 6] as number,
      lat: county.lat + ((i * 37) % 50) / 100 - 0.25,
      lon: county.lon + ((i * 53) % 60) / 100 - 0.3,
    };
  });
}

const csvCell = (s: string | number): string => (/[",\n]/.test(String(s)) ? `"${String(s).replace(/"/g, '""')}"` : String(s));

export function registryCsv(schools: readonly SeedSchool[]): string {
  const head = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon';
  const rows = schools.map((s) =>
    [s.id, s.name, s.link.startsWith('sat') ? 'teaching-point' : 'primary', '640000', '宁夏回族自治区', s.county.city[0], s.county.city[1], s.county.county[0], s.county.county[1], s.link, s.contractedMbps, 400, 12, s.lat.toFixed(4), s.lon.toFixed(4)].map(csvCell).join(','),
  );
  return `${head}\n${rows.join('\n')}\n`;
}

/** One report's measurements for a school at round `k` (0 = now, 5 = 20 h ago). */
function measurements(s: SeedSchool, index: number, k: number): Measurement[] {
  const down = s.role === 'unreachable' && k <= 1;
  const sat = s.link.startsWith('sat');
  const rtt = s.link === 'sat-geo' ? 620 : s.link === 'sat-leo' ? 48 : 12 + (index % 7);
  const ping = (target: string, role: 'internet' | 'gateway', loss: number, r: number): Measurement => ({
    name: 'ping',
    tags: { target, role },
    fields: { ...(loss < 100 ? { rtt_min_ms: r * 0.9, rtt_avg_ms: r + k, rtt_max_ms: r * 1.2, jitter_ms: 1 + (k % 3) } : {}), loss_pct: loss, sent: 5, received: loss < 100 ? 5 : 0, result_code: loss < 100 ? 0 : 2 },
  });
  const speed = Math.min(s.contractedMbps, 1000) * 1e6;
  const m: Measurement[] = [
    ping('www.baidu.com', 'internet', down ? 100 : 0, rtt),
    ping('192.0.2.1', 'gateway', 0, 1),
    { name: 'iface', tags: { device: 'gateway', ifname: 'wan0', role: 'wan' }, fields: { speed_bps: speed, oper_up: 1, in_bps: speed * (0.1 + 0.05 * (k % 4)), out_bps: speed * 0.03 } },
    { name: 'agent', tags: { version: '0.1.0' }, fields: { spool_reports: s.role === 'unreachable' && k === 0 ? 2 : 0, spool_bytes: s.role === 'unreachable' && k === 0 ? 4096 : 0, dropped_reports: 0, sent_bytes: 1000 * (6 - k), cycle_ms: 900, rss_bytes: 40e6, uptime_s: 3600 * (24 - 4 * k) } },
    { name: 'inventory', tags: { class: 'pc' }, fields: { count: 10 + (index % 5) } },
    { name: 'inventory', tags: { class: 'ap' }, fields: { count: index % 3 } },
  ];
  if (sat) m.push({ name: 'modem', tags: { device: 'vsat', profile: 'idirect' }, fields: { locked: down ? 0 : 1, snr_db: down ? 1.5 : 9 + (k % 3) } });
  return m;
}

export interface ConsoleHarness {
  influx: TestInfluxd;
  views: ViewsModule;
  base: string;
  schools: SeedSchool[];
  nowMs: number;
  /** The viewer account the read side needs, when started with `viewer: true`. */
  viewer?: { username: string; password: string };
  close(): Promise<void>;
}

/** Starts and seeds the collector. ~6 rounds × 90 schools posted through ingest. */
export async function startConsoleHarness(opts: {
  viewer?: boolean;
  /** School names by seed index, replacing the generated ones. */
  names?: Readonly<Record<number, string>>;
  /** Per-school budgets on ingest (and their counters API) with these settings; none when absent. */
  budgets?: Partial<BudgetSettings>;
} = {}): Promise<ConsoleHarness> {
  const influx = await startTestInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-console-'));
  const stateDir = join(dir, 'state');
  const registryPath = join(dir, 'schools.csv');
  const schools = seedSchools(opts.names);
  writeFileSync(registryPath, registryCsv(schools));
  const registry = loadRegistry(registryPath);
  const log = pino({ level: 'silent' });
  const sink = createInflux1Sink({ url: influx.url, database: 'campuslink', flushIntervalMs: 5 });
  const nowMs = Math.floor(Date.now() / 60_000) * 60_000;
  const clock = { now: nowMs - 20 * HOUR };
  const now = () => clock.now;
  const state = openStateDb({ stateDir });
  const ctx: ModuleContext = { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(test)', initial: registry }), stateDir, state, sink, influx: influx.client, log, now };
  const views = createViewsModule(ctx, { settings: { coverageIntervalS: 0, complianceProfilesDir: 'config/compliance' }, complianceMaxStaleMs: 0 });
  const inventory = createInventoryModule(ctx);
  const consoleModule = createConsoleModule(ctx, { views });
  const budgets = opts.budgets && new SchoolBudgets({ settings: budgetsSchema.parse(opts.budgets), log, now });
  const modules: CollectorModule[] = [views, inventory, consoleModule, ...(budgets ? [createBudgetsModule(budgets)] : [])];
  for (const m of modules) await m.start?.();
  // A fresh state database: the compliance evidence is rebuilt from (the empty) InfluxDB first.
  await views.live()?.rebuilt();
  const viewer = opts.viewer ? { username: 'nx-edu', password: issueViewer({ state, name: 'nx-edu' }).password } : undefined;
  const app = createApp({
    sink: sink as Influx1Sink,
    tokens: { verify: (tok) => (tok.startsWith('t-') ? { id: tok, school: tok.slice(2), sha256: '', issuedAt: '' } : undefined) },
    schools: registry,
    log,
    now,
    maxBodyBytes: 8 * 1024 * 1024,
    retryAfterS: 1,
    modules,
    ...(budgets && { budgets }),
    ...(viewer && { viewers: new ViewerStore(state) }),
  });
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const seq = new Map<string, number>();
  const post = async (s: SeedSchool, index: number, k: number): Promise<void> => {
    const n = (seq.get(s.id) ?? 0) + 1;
    seq.set(s.id, n);
    const report: Report = {
      v: PROTOCOL_VERSION, school: s.id, agent: 'gw', seq: n, collectedAt: clock.now - 60_000, sentAt: clock.now, measurements: measurements(s, index, k),
      ...(n === 1 && index % 2 === 0
        ? { devices: { full: true, removed: [], added: ['ap', 'pc', 'display'].map((cls, j) => ({ mac: `02:00:00:00:${index.toString(16).padStart(2, '0')}:0${j}`, ip: `10.${index}.0.${j + 2}`, class: cls as 'ap', vendor: j === 0 ? 'Huawei <b>Technologies</b>' : undefined, firstSeen: clock.now - HOUR, lastSeen: clock.now - 60_000 })) } }
        : {}),
    };
    const res = await fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer t-${s.id}`, 'content-type': 'application/json' }, body: JSON.stringify({ reports: [report] }) });
    if (res.status !== 200) throw new Error(`seed POST for ${s.id}: ${res.status} ${await res.text()}`);
  };
  // Rounds every 4 h from 20 h ago to now; coverage history written after each round.
  for (let k = 5; k >= 0; k--) {
    clock.now = nowMs - k * 4 * HOUR;
    await Promise.all(
      schools.map(async (s, i) => {
        if (s.role === 'never' || (s.role === 'silent' && k < 2)) return;
        await post(s, i, k);
      }),
    );
    await views.writeCoverage();
  }
  clock.now = nowMs;
  // Gaps as the gaps module writes them: the silent schools' agents stopped; one link hole elsewhere.
  await sink.write(
    schools
      .filter((s) => s.role === 'silent' || s.role === 'unreachable')
      .map((s) => ({
        measurement: 'gap',
        tags: { ...(registry.tagsFor(s.id) as unknown as Record<string, string>), agent: 'gw', cause: s.role === 'silent' ? 'agent' : 'link' },
        fields: { duration_s: s.role === 'silent' ? 4 * 3600 : 1800, missing_reports: s.role === 'silent' ? 240 : 0 },
        timestampMs: nowMs - (s.role === 'silent' ? 7 : 3) * HOUR,
      })),
  );
  await views.writeCoverage();
  return {
    influx,
    views,
    base,
    schools,
    nowMs,
    ...(viewer && { viewer }),
    async close() {
      await new Promise<void>((res) => server.close(() => res()));
      for (const m of [...modules].reverse()) await m.stop?.().catch(() => undefined);
      await sink.close();
      await state.close();
      await influx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
