/** Every read of the views and the console that needs InfluxDB answers 503 with Retry-After when it cannot get it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createConsoleModule } from '../../../collector/console/module.js';
import { createApp } from '../../../collector/http/app.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { createInflux1Client } from '../../../collector/sink/influx1.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { createViewsModule, type ViewsModule } from '../../../collector/views/index.js';
import type { CollectorModule } from '../../../collector/module.js';
import { NOW, registryCsv, seedSchools } from './harness.js';
import { makeReport, pingMeasurement } from '../../helpers/reports.js';
import type { Measurement } from '../../../protocol/index.js';

interface Rig {
  base: string;
  views: ViewsModule;
  close(): Promise<void>;
}

/** The views and console modules reading from `influxUrl`, served on a loopback port. */
async function startRig(influxUrl: string): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-unavailable-'));
  const registryPath = join(dir, 'schools.csv');
  writeFileSync(registryPath, registryCsv(seedSchools(60)));
  const log = pino({ level: 'silent' });
  const live = new LiveRegistry({ path: registryPath, log });
  const state: StateDb = openStateDb({ stateDir: dir });
  const sink = { write: async () => undefined, ready: async () => true, close: async () => undefined };
  const ctx = { config: {} as never, registry: live.current(), liveRegistry: live, stateDir: dir, state, sink, influx: createInflux1Client({ url: influxUrl, database: 'campuslink' }), log, now: () => NOW };
  const views = createViewsModule(ctx, { liveRegistry: live, settings: { coverageIntervalS: 0, queryTimeoutMs: 400, complianceProfilesDir: 'config/compliance' }, complianceMaxStaleMs: 0 });
  const consoleModule = createConsoleModule(ctx, { views });
  const modules: CollectorModule[] = [views, consoleModule];
  for (const m of modules) await m.start?.();
  const tokens = { verify: (tok: string) => (tok.startsWith('t-') ? { id: tok, school: tok.slice(2), sha256: '', issuedAt: '' } : undefined) };
  const app = createApp({ sink, tokens, schools: live, log, now: () => NOW, maxBodyBytes: 1 << 20, retryAfterS: 1, modules } as never);
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    views,
    async close() {
      await new Promise<void>((res) => server.close(() => res()));
      for (const m of modules) await m.stop?.().catch(() => undefined);
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const SCHOOL = '1640104001';

/** One accepted report of `school` whose internet target lost every probe: the school is offline, reporting. */
async function reportUnreachable(base: string, school: string): Promise<void> {
  const internet: Measurement = { name: 'ping', tags: { target: 'www.baidu.com', role: 'internet' }, fields: { loss_pct: 100, sent: 5, received: 0, result_code: 2 } };
  const report = makeReport({ school, collectedAt: NOW - 60_000, sentAt: NOW - 1000, measurements: [pingMeasurement(), internet] });
  const res = await fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer t-${school}`, 'content-type': 'application/json' }, body: JSON.stringify({ reports: [report] }) });
  if (res.status !== 200) throw new Error(`report for ${school}: ${res.status} ${await res.text()}`);
}
/** Reads that need InfluxDB: a judgement at another time than now, and the console's raw-data pages. */
const NEEDS_INFLUX = [
  '/api/v1/compliance?level=national&at=2026-06-01',
  '/api/v1/compliance?level=county&code=640104&at=2026-06-01T10:00:00%2B08:00',
  `/api/v1/schools/${SCHOOL}/compliance?at=2026-06-01`,
  `/api/v1/console/schools/${SCHOOL}`,
  `/api/v1/console/schools/${SCHOOL}/series`,
  '/api/v1/console/history?region=640000',
  // The offline list reads evidence for its offline schools (one is made offline before these run).
  '/api/v1/console/offline?region=640000',
  '/api/v1/console/offline?region=640104&format=csv',
];

for (const kind of ['dead', 'hung'] as const) {
  describe(`collector/views and console reads with InfluxDB ${kind === 'dead' ? 'refusing connections' : 'accepting but never answering'}`, function () {
    this.timeout(60_000);
    let rig: Rig;
    let hung: NetServer | undefined;
    const sockets: Socket[] = [];

    before(async () => {
      let url: string;
      if (kind === 'hung') {
        hung = createServer((s) => void sockets.push(s));
        await new Promise<void>((res) => hung!.listen(0, '127.0.0.1', () => res()));
        url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
      } else {
        // A port that was just free: nothing listens there.
        const probe = createServer();
        await new Promise<void>((res) => probe.listen(0, '127.0.0.1', () => res()));
        url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
        await new Promise<void>((res) => probe.close(() => res()));
      }
      rig = await startRig(url);
      await reportUnreachable(rig.base, SCHOOL);
    });
    after(async () => {
      await rig?.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => (hung ? hung.close(() => res()) : res()));
    });

    for (const path of NEEDS_INFLUX) {
      it(`GET ${path} answers 503 COL_ERR_QUERY_UNAVAILABLE with Retry-After, never 500`, async () => {
        const res = await fetch(`${rig.base}${path}`);
        expect(res.status).to.equal(503);
        expect(res.headers.get('retry-after')).to.match(/^\d+$/);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).to.equal('COL_ERR_QUERY_UNAVAILABLE');
      });
    }

    it('compliance now answers from the evidence: unknown "evidence being rebuilt", never a made-up pass or fail', async () => {
      const region = await fetch(`${rig.base}/api/v1/compliance?level=national`);
      expect(region.status).to.equal(200);
      const body = (await region.json()) as { schools: number; rules: { pass: number; fail: number; unknown: number; notApplicable: number }[] };
      expect(body.schools).to.equal(60);
      for (const r of body.rules) expect(r.pass + r.fail).to.equal(0);
      const school = (await (await fetch(`${rig.base}/api/v1/schools/${SCHOOL}/compliance`)).json()) as { judgements: { status: string; reason?: string }[] };
      const unknown = school.judgements.filter((j) => j.status === 'unknown');
      expect(unknown.length).to.be.greaterThan(0);
      for (const j of unknown) expect(j.reason).to.match(/evidence being rebuilt/);
      expect(rig.views.live()!.rebuildProgress()).to.include({ running: true, countiesDone: 0 });
      const failing = await fetch(`${rig.base}/api/v1/console/compliance/schools?region=640000&rule=CN-BB-01&status=unknown`);
      expect(failing.status).to.equal(200);
      expect(((await failing.json()) as { total: number }).total).to.be.greaterThan(0);
    });
  });
}
