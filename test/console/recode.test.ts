/**
 * A recoded county keeps its history: 偃师市 410381 became 偃师区 410307 (declared in the alias table).
 * Points written before the change carry county 410381; the registry now says 410307. The coverage
 * history, the compliance of the county at a past time and the old code's page all follow the new code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createConsoleModule } from '../../collector/console/module.js';
import { createApp } from '../../collector/http/app.js';
import type { CollectorModule } from '../../collector/module.js';
import { LiveRegistry, bundledDivisions } from '../../collector/registry/index.js';
import { openStateDb } from '../../collector/state/db.js';
import { createViewsModule } from '../../collector/views/index.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';

const HOUR = 3_600_000;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;
const SCHOOLS = ['1410307001', '1410307002'];

function registryCsv(): string {
  const rows = SCHOOLS.map((id, i) => `${id},偃师区第${i + 1}小学,primary,410000,河南省,410300,洛阳市,410307,偃师区,fiber,100,800,20,34.72,112.79`);
  return `school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon\n${rows.join('\n')}\n`;
}

/** What the collector wrote while the county was still 410381: coverage history and inventory. */
function oldPoints(): string {
  const lines: string[] = [];
  for (let t = NOW - 72 * HOUR; t <= NOW - 24 * HOUR; t += HOUR) {
    lines.push(`coverage,level=county,region=410381 registered=2,online=2,offline=0,never_seen=0,online_pct=100 ${t}`);
    for (const id of SCHOOLS) lines.push(`inventory,school=${id},province=410000,city=410300,county=410381,link=fiber,agent=gw,class=ap count=3 ${t}`);
  }
  return lines.join('\n');
}

describe('a recoded county (偃师市 410381 → 偃师区 410307) keeps its history (real influxd)', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let server: Server;
  let base: string;
  let dir: string;
  const modules: CollectorModule[] = [];

  before(async () => {
    influx = await startTestInfluxd();
    await influx.query('CREATE DATABASE campuslink');
    const w = await fetch(`${influx.url}/write?db=campuslink&precision=ms`, { method: 'POST', body: oldPoints() });
    if (w.status !== 204) throw new Error(`seed: ${w.status} ${await w.text()}`);
    dir = mkdtempSync(join(tmpdir(), 'campuslink-recode-'));
    const path = join(dir, 'schools.csv');
    writeFileSync(path, registryCsv());
    const log = pino({ level: 'silent' });
    const live = new LiveRegistry({ path, log, load: { divisions: bundledDivisions() } });
    const state = openStateDb({ stateDir: dir });
    const sink = { write: async () => undefined, ready: async () => true, close: async () => undefined };
    const ctx = { config: {} as never, registry: live.current(), liveRegistry: live, stateDir: dir, state, sink, influx: influx.client, log, now: () => NOW };
    const views = createViewsModule(ctx, { liveRegistry: live, settings: { coverageIntervalS: 0, complianceProfilesDir: 'config/compliance' }, complianceMaxStaleMs: 0 });
    modules.push(views, createConsoleModule(ctx, { views }));
    for (const m of modules) await m.start?.();
    await views.live()?.rebuilt();
    const app = createApp({ sink, tokens: { verify: () => undefined }, schools: live, log, now: () => NOW, maxBodyBytes: 1 << 20, retryAfterS: 1, modules } as never);
    server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
    for (const m of modules) await m.stop?.().catch(() => undefined);
    await influx?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /api/v1/console/history?region=410307 includes the buckets written under 410381', async () => {
    const res = await fetch(`${base}/api/v1/console/history?region=410307&range=7d`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { values: unknown[][]; historyCodes: string[] };
    expect(body.historyCodes).to.deep.equal(['410307', '410381']);
    expect(body.values.length).to.be.greaterThan(40);
  });

  it('GET /api/v1/console/history?region=410381 answers for 410307 instead of 404', async () => {
    const res = await fetch(`${base}/api/v1/console/history?region=410381&range=7d`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { code: string; replaced: string; values: unknown[] };
    expect(body).to.include({ code: '410307', replaced: '410381' });
    expect(body.values.length).to.be.greaterThan(40);
  });

  it('the views API answers 404 for the old code naming its successor', async () => {
    for (const path of ['/api/v1/regions/410381', '/api/v1/coverage?level=county&code=410381', '/api/v1/compliance?level=county&code=410381']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).to.equal(404);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message, path).to.include('410381 (偃师市) was replaced by 410307 on 2021-03-01');
    }
  });

  it('compliance of the county at a past time is judged from the points tagged with the old code, not unknown', async () => {
    const at = new Date(NOW - 24 * HOUR).toISOString();
    const res = await fetch(`${base}/api/v1/compliance?level=county&code=410307&profile=cn-moe&at=${encodeURIComponent(at)}`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { schools: number; rules: { rule: string; pass: number; unknown: number }[] };
    expect(body.schools).to.equal(2);
    expect(body.rules.find((r) => r.rule === 'CN-DC-01')).to.include({ pass: 2, unknown: 0 });
  });

  it('the live compliance evidence, rebuilt from InfluxDB by county, takes the old code\'s points too', async () => {
    const res = await fetch(`${base}/api/v1/compliance?level=county&code=410307&profile=cn-moe`);
    const body = (await res.json()) as { rules: { rule: string; pass: number }[] };
    expect(body.rules.find((r) => r.rule === 'CN-DC-01')).to.include({ pass: 2 });
  });
});
