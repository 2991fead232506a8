/**
 * The read side behind scoped accounts: the console tests' seeded province (2 cities, 4 counties, 100
 * schools) in a real influxd, the views, inventory, console and alerts modules, maintenance windows,
 * viewer accounts and read tokens in a state database the test can write, and one report per seeded
 * school posted through ingest (agent tokens `t-<school>`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createAlertsModule, type AlertsModule } from '../../../collector/alerts/module.js';
import { createAlertBoardModule, type AlertBoardModule } from '../../../collector/alerts/board.js';
import { createMaintenanceModule, type MaintenanceModule } from '../../../collector/alerts/maintenance.js';
import { createAdminModule } from '../../../collector/auth/scope-admin.js';
import { ReadTokenStore } from '../../../collector/auth/scope-tokens.js';
import { ViewerStore, issueViewer } from '../../../collector/auth/viewers.js';
import type { Role } from '../../../collector/auth/scope.js';
import { createConsoleModule } from '../../../collector/console/module.js';
import { createApp } from '../../../collector/http/app.js';
import { createInventoryModule } from '../../../collector/inventory/index.js';
import { DEFAULT_BUDGETS, SchoolBudgets } from '../../../collector/ingest/budgets.js';
import { createBudgetsModule } from '../../../collector/ingest/budgets-api.js';
import type { ModuleContext } from '../../../collector/module.js';
import { LiveRegistry, loadRegistry } from '../../../collector/registry/index.js';
import { createInflux1Sink } from '../../../collector/sink/influx1.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { createViewsModule, type ViewsModule } from '../../../collector/views/index.js';
import { parseAlertRules } from '../../../collector/alerts/rules.js';
import { PROTOCOL_VERSION, type Report } from '../../../protocol/index.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { registryCsv, seedSchools, type SeedSchool } from '../../console/harness.js';

export interface ScopeHarness {
  base: string;
  schools: SeedSchool[];
  state: StateDb;
  views: ViewsModule;
  alerts: AlertsModule;
  maintenance: MaintenanceModule;
  board: AlertBoardModule;
  clock: { now: number };
  /** Creates an account; returns its Basic authorization header value. */
  account(name: string, scope: string, role?: Role): string;
  /** Posts one report of `school` through ingest with the internet target's loss. */
  post(school: string, lossPct: number): Promise<void>;
  close(): Promise<void>;
}

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Starts the harness; every seeded school except the never-seen ones reports once, online. */
export async function startScopeHarness(): Promise<ScopeHarness> {
  const influx: TestInfluxd = await startTestInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-scope-'));
  const registryPath = join(dir, 'schools.csv');
  const schools = seedSchools();
  writeFileSync(registryPath, registryCsv(schools));
  const registry = loadRegistry(registryPath);
  const log = pino({ level: 'silent' });
  const sink = createInflux1Sink({ url: influx.url, database: 'campuslink', flushIntervalMs: 5 });
  const clock = { now: Date.parse('2026-11-23T09:00:00+08:00') };
  const now = () => clock.now;
  const state = openStateDb({ stateDir: join(dir, 'state') });
  const ctx: ModuleContext = { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(test)', initial: registry }), stateDir: join(dir, 'state'), state, sink, influx: influx.client, log, now };
  const views = createViewsModule(ctx, { settings: { coverageIntervalS: 0, complianceProfilesDir: 'config/compliance' }, complianceMaxStaleMs: 0 });
  const maintenance = createMaintenanceModule(ctx);
  const board: AlertBoardModule = createAlertBoardModule(ctx, { active: () => alerts.engine.active });
  const alerts: AlertsModule = createAlertsModule(ctx, {
    views,
    rules: parseAlertRules('rules:\n  - { id: offline, kind: school_offline, forMin: 10, schoolHoursOnly: false }\n', 'test'),
    settings: { evaluateIntervalS: 3600 },
    maintenance,
    journal: board,
  });
  const modules = [views, createInventoryModule(ctx), createConsoleModule(ctx, { views }), maintenance, board, alerts, createAdminModule(ctx), createBudgetsModule(new SchoolBudgets({ settings: DEFAULT_BUDGETS, log, now }))];
  for (const m of modules) await m.start?.();
  await views.live()?.rebuilt();
  // One account exists from the start, so the read side is closed.
  issueViewer({ state, name: 'nation', by: 'cli:test' });
  const app = createApp({
    sink,
    tokens: { verify: (tok) => (tok.startsWith('t-') ? { id: tok, school: tok.slice(2), sha256: '', issuedAt: '' } : undefined) },
    schools: registry,
    log,
    now,
    maxBodyBytes: 8 * 1024 * 1024,
    retryAfterS: 1,
    modules,
    viewers: new ViewerStore(state),
    readTokens: new ReadTokenStore(state, now),
  });
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const seq = new Map<string, number>();
  const post = async (school: string, lossPct: number): Promise<void> => {
    const n = (seq.get(school) ?? 0) + 1;
    seq.set(school, n);
    const report: Report = {
      v: PROTOCOL_VERSION, school, agent: 'gw', seq: n, collectedAt: clock.now - 1000, sentAt: clock.now,
      measurements: [{ name: 'ping', tags: { target: 'www.baidu.com', role: 'internet' }, fields: { ...(lossPct < 100 ? { rtt_min_ms: 10, rtt_avg_ms: 12, rtt_max_ms: 15, jitter_ms: 1 } : {}), loss_pct: lossPct, sent: 5, received: lossPct < 100 ? 5 : 0, result_code: lossPct < 100 ? 0 : 2 } }],
    };
    const res = await fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer t-${school}`, 'content-type': 'application/json' }, body: JSON.stringify({ reports: [report] }) });
    if (res.status !== 200) throw new Error(`POST for ${school}: ${res.status} ${await res.text()}`);
  };
  for (const s of schools) if (s.role !== 'never') await post(s.id, 0);
  await views.writeCoverage();
  return {
    base,
    schools,
    state,
    views,
    alerts,
    maintenance,
    board,
    clock,
    account(name, scope, role = 'viewer') {
      return basic(name, issueViewer({ state, name, scope, role, by: 'cli:test' }).password);
    },
    post,
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
