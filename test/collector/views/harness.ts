/** A seeded-province harness for the views tests: registry CSV, real influxd, the app with the views module. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../../collector/http/app.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { createInflux1Sink, type Influx1Sink } from '../../../collector/sink/influx1.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { createViewsModule, type ViewsModule } from '../../../collector/views/index.js';
import type { ViewsSettings } from '../../../collector/views/settings.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../../protocol/index.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';

/** Monday 2026-11-23 16:00 China time: inside school hours. */
export const NOW = Date.parse('2026-11-23T16:00:00+08:00');
export const MIN = 60_000;

export const CITIES = [
  { code: '640100', name: '银川市', counties: [['640104', '兴庆区'], ['640105', '西夏区'], ['640106', '金凤区']] },
  { code: '640200', name: '石嘴山市', counties: [['640202', '大武口区'], ['640205', '惠农区'], ['640221', '平罗县']] },
  { code: '640300', name: '吴忠市', counties: [['640302', '利通区'], ['640303', '红寺堡区'], ['640323', '盐池县']] },
] as const;

export const LINKS = ['fiber', 'cellular', 'sat-geo', 'sat-leo'] as const;

export interface SeedSchool {
  id: string;
  county: string;
  serial: number;
  link: (typeof LINKS)[number];
  type: 'primary' | 'teaching-point';
  contractedMbps: number;
  students: number;
  classrooms: number;
  hub: string;
}

/** 300 schools over 9 counties (33 or 34 each); serial 1 of each county is a fibre hub; satellite schools are teaching points paired with it. */
export function seedSchools(total = 300): SeedSchool[] {
  const counties = CITIES.flatMap((c) => c.counties.map(([code]) => code));
  const out: SeedSchool[] = [];
  for (let i = 0; i < total; i++) {
    const county = counties[i % counties.length] as string;
    const serial = Math.floor(i / counties.length) + 1;
    const link = LINKS[(serial - 1) % 4] as SeedSchool['link'];
    const sat = link.startsWith('sat');
    out.push({
      id: `1${county}${String(serial).padStart(3, '0')}`,
      county,
      serial,
      link,
      type: sat ? 'teaching-point' : 'primary',
      contractedMbps: [1000, 300, 50, 8, 1.5][i % 5] as number,
      students: sat ? 20 : 800,
      classrooms: sat ? 2 : 20,
      hub: sat ? `1${county}001` : '',
    });
  }
  return out;
}

export function registryCsv(schools: readonly SeedSchool[]): string {
  const head = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon,hub_school_id';
  const rows = schools.map((s) => {
    const city = CITIES.find((c) => c.counties.some(([k]) => k === s.county))!;
    const county = city.counties.find(([k]) => k === s.county)!;
    return [s.id, `${county[1]}第${s.serial}学校`, s.type, '640000', '宁夏回族自治区', city.code, city.name, s.county, county[1], s.link, s.contractedMbps, s.students, s.classrooms, '38.47', '106.28', s.hub].join(',');
  });
  return `${head}\n${rows.join('\n')}\n`;
}

export function ping(role: 'internet' | 'peer' | 'gateway', loss: number, over: { target?: string; rtt?: number; jitter?: number } = {}): Measurement {
  const received = Math.round(5 * (1 - loss / 100));
  return {
    name: 'ping',
    tags: { target: over.target ?? `${role}.example`, role },
    fields: {
      ...(received > 0 ? { rtt_min_ms: over.rtt ?? 20, rtt_avg_ms: over.rtt ?? 20, rtt_max_ms: over.rtt ?? 20 } : {}),
      ...(received > 1 ? { jitter_ms: over.jitter ?? 2 } : {}),
      loss_pct: loss,
      sent: 5,
      received,
      result_code: received > 0 ? 0 : 2,
    },
  };
}

export function wan(speedBps: number, inBps?: number): Measurement {
  return { name: 'iface', tags: { device: 'gateway', ifname: 'wan0', role: 'wan' }, fields: { speed_bps: speedBps, oper_up: 1, ...(inBps !== undefined ? { in_bps: inBps } : {}) } };
}

/** One throughput test (iperf3) that worked: `downMbps` down, a tenth of it up. */
export function throughput(downMbps: number, over: { resultCode?: number } = {}): Measurement {
  const resultCode = over.resultCode ?? 0;
  return {
    name: 'throughput',
    tags: { server: 'iperf.example' },
    fields: { ...(resultCode === 0 ? { down_mbps: downMbps, up_mbps: downMbps / 10 } : {}), bytes_used: 1e6, duration_ms: 22_000, capped: 0, result_code: resultCode },
  };
}

export function inventory(cls: string, count: number): Measurement {
  return { name: 'inventory', tags: { class: cls }, fields: { count } };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export interface Harness {
  influx: TestInfluxd;
  sink: Influx1Sink;
  views: ViewsModule;
  live: LiveRegistry;
  registryPath: string;
  stateDir: string;
  /** The state database the views module keeps liveness and evidence in. */
  state: StateDb;
  base: string;
  clock: { now: number };
  /** POSTs one batch (reports of one school) through ingest; throws unless 200. */
  post(school: string, reports: { atMs: number; measurements: Measurement[] }[]): Promise<void>;
  /** GET on the app; `json()` is untyped so tests can reach into answers. */
  get(path: string, headers?: Record<string, string>): Promise<JsonResponse>;
  /** A second views module on the same state and database (a restart). */
  restartViews(): Promise<ViewsModule>;
  close(): Promise<void>;
}

export async function startHarness(opts: { schools: readonly SeedSchool[]; settings?: Partial<ViewsSettings>; config?: Record<string, unknown> }): Promise<Harness> {
  const influx = await startTestInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-views-'));
  const stateDir = join(dir, 'state');
  const registryPath = join(dir, 'schools.csv');
  writeFileSync(registryPath, registryCsv(opts.schools));
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const live = new LiveRegistry({ path: registryPath, log });
  const sink = createInflux1Sink({ url: influx.url, database: 'campuslink', flushIntervalMs: 5 });
  const clock = { now: NOW };
  const now = () => clock.now;
  const settings = { coverageIntervalS: 0, complianceProfilesDir: 'config/compliance', ...opts.settings };
  const state = openStateDb({ stateDir });
  const makeViews = () =>
    createViewsModule(
      { config: (opts.config ?? {}) as never, registry: live.current(), liveRegistry: live, stateDir, state, sink, influx: influx.client, log, now },
      { liveRegistry: live, settings, complianceMaxStaleMs: 0 },
    );
  const views = makeViews();
  await views.start!();
  // A fresh state database: the evidence is rebuilt from (the empty) InfluxDB first.
  await views.live()?.rebuilt();
  let latest = views;
  const app = createApp({
    sink,
    tokens: { verify: (t) => (t.startsWith('t-') ? { id: t, school: t.slice(2), sha256: '', issuedAt: '' } : undefined) },
    schools: live,
    log,
    now,
    maxBodyBytes: 8 * 1024 * 1024,
    retryAfterS: 1,
    modules: [views],
    // Scenarios seed years-old history (a 2019 report) through ingest: the stored window is widened for them.
    timeWindow: { maxBacklogMs: 20 * 365 * 86_400_000 },
  });
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const seqs = new Map<string, number>();
  return {
    influx,
    sink,
    views,
    live,
    registryPath,
    stateDir,
    state,
    base,
    clock,
    async post(school, reports) {
      const body = {
        reports: reports.map((r): Report => {
          const seq = (seqs.get(school) ?? 0) + 1;
          seqs.set(school, seq);
          return { v: PROTOCOL_VERSION, school, agent: 'gw', seq, collectedAt: r.atMs, sentAt: clock.now, measurements: r.measurements };
        }),
      };
      const res = await fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer t-${school}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`POST for ${school}: ${res.status} ${await res.text()}`);
    },
    get: (path, headers = {}) => fetch(`${base}${path}`, { headers }),
    async restartViews() {
      // The app keeps serving the first module; only the newest one runs timers and jobs.
      await latest.stop!();
      latest = makeViews();
      await latest.start!();
      await latest.live()?.rebuilt();
      return latest;
    },
    async close() {
      await new Promise<void>((res) => server.close(() => res()));
      await latest.stop!().catch(() => undefined);
      await state.close();
      await sink.close();
      await state.close();
      await influx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
