import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'chai';
import { livenessFile } from '../../../collector/views/liveness/store.js';
import { MIN, NOW, inventory, ping, registryCsv, seedSchools, startHarness, throughput, wan, type Harness, type SeedSchool } from './harness.js';

type Status = 'online' | 'offline' | 'never_seen';

/** The seeded status of school i: 10% never seen, 10% too old, 10% internet not answering, the rest online. */
function plan(i: number): Status | 'dead-internet' | 'old' {
  const k = i % 10;
  return k === 9 ? 'never_seen' : k === 8 ? 'old' : k === 7 ? 'dead-internet' : 'online';
}
const SPEEDS = [1.2e9, 1.5e8, 5e7, 1e7, 1e6];

describe('collector/views coverage (real influxd, 300 seeded schools)', function () {
  this.timeout(60_000);
  const schools = seedSchools();
  let h: Harness;
  const expected = { online: 0, offline: 0, never_seen: 0 };

  before(async () => {
    h = await startHarness({ schools });
    await Promise.all(
      schools.map(async (s, i) => {
        const p = plan(i);
        if (p === 'never_seen') return void expected.never_seen++;
        if (p === 'online') expected.online++;
        else expected.offline++;
        const at = p === 'old' ? NOW - 120 * MIN : NOW - 2 * MIN;
        const measurements = [ping('gateway', 0), ping('internet', p === 'dead-internet' ? 100 : 0), inventory('ap', 2)];
        // Every reporting school's WAN port says 1 Gbit/s: a port speed, which must decide no tier.
        measurements.push(wan(1e9));
        if (i % 3 === 0) measurements.push(throughput((SPEEDS[i % 5] as number) / 1e6));
        await h.post(s.id, [{ atMs: at - 60 * MIN, measurements: [ping('internet', 0)] }, { atMs: at, measurements }]);
      }),
    );
  });
  after(async () => h?.close());

  it('GET /api/v1/coverage?level=national counts registered, online, offline and never-seen schools', async () => {
    const res = await h.get('/api/v1/coverage?level=national');
    expect(res.status).to.equal(200);
    const body = await res.json();
    expect(body).to.include({ level: 'national', code: '000000', registered: 300, online: expected.online, offline: expected.offline, neverSeen: expected.never_seen });
    expect(body.onlineShare).to.be.closeTo(expected.online / 300, 1e-9);
    expect(body.children).to.have.length(1);
    expect(body.children[0]).to.include({ level: 'province', code: '640000', name: '宁夏回族自治区', registered: 300 });
    const links: Record<string, number> = { fiber: 0, dsl: 0, cellular: 0, microwave: 0, 'sat-geo': 0, 'sat-leo': 0, other: 0 };
    for (const s of schools) links[s.link]!++;
    expect(body.links).to.deep.equal(links);
    expect(body.satellite).to.equal((links['sat-geo'] as number) + (links['sat-leo'] as number));
    expect(body.onlineWindowMin).to.equal(15);
    expect(body.tierRules.map((t: { source: string }) => t.source).join(' ')).to.include('CN-BB-02');
  });

  it('the tier comes from the measured throughput where tested, else from the contracted bandwidth, never from the 1 Gbit/s port speed', async () => {
    const body = await (await h.get('/api/v1/coverage?level=national')).json();
    const tiers = { '1000': 0, '100': 0, '20': 0, '2': 0, lt2: 0 } as Record<string, number>;
    let measured = 0;
    schools.forEach((s, i) => {
      const m = plan(i) !== 'never_seen' && i % 3 === 0;
      if (m) measured++;
      const mbps = m ? (SPEEDS[i % 5] as number) / 1e6 : s.contractedMbps;
      tiers[mbps >= 1000 ? '1000' : mbps >= 100 ? '100' : mbps >= 20 ? '20' : mbps >= 2 ? '2' : 'lt2']!++;
    });
    expect(body.tiers).to.deep.equal(tiers);
    expect(body.tierSource).to.deep.equal({ measured, contracted: 300 - measured, unknown: 0 });
  });

  it('province, city and county levels list their children, and the children add up to the parent', async () => {
    for (const [level, code, childCount] of [['province', '640000', 3], ['city', '640100', 3], ['county', '640104', 34]] as const) {
      const body = await (await h.get(`/api/v1/coverage?level=${level}&code=${code}`)).json();
      expect(body.children, `${level} ${code}`).to.have.length(childCount);
      for (const key of ['registered', 'online', 'offline', 'neverSeen', 'satellite']) {
        expect(body.children.reduce((n: number, c: Record<string, number>) => n + (c[key] as number), 0), `${level} ${key}`).to.equal(body[key]);
      }
    }
  });

  it('a county lists its schools with status, tier source and last report', async () => {
    const body = await (await h.get('/api/v1/coverage?level=county&code=640104')).json();
    const first = body.children.find((c: { code: string }) => c.code === '1640104001');
    expect(first).to.include({ level: 'school', status: 'online', registered: 1, online: 1, linkType: 'fiber', tierFrom: 'measured', measuredMbps: 1200, tierMbps: 1200, portSpeedMbps: 1000 });
    expect(first.measuredAt).to.equal(new Date(NOW - 2 * MIN).toISOString());
    // A 10 Mbit/s GEO school behind a 1 Gbit/s port is in the 2-20 tier, not at 100 or above.
    const geo = body.children.find((c: { code: string }) => c.code === '1640104003');
    expect(geo).to.include({ linkType: 'sat-geo', tierFrom: 'measured', measuredMbps: 10, portSpeedMbps: 1000 });
    expect(geo.tiers).to.deep.include({ '2': 1, '100': 0, '1000': 0 });
    // Not tested: the contract decides, and the row says why.
    const untested = body.children.find((c: { code: string }) => c.code === '1640104002');
    expect(untested).to.include({ tierFrom: 'contracted', measuredMbps: null, measuredAt: null, tierMbps: 1.5 });
    expect(untested.tierReason).to.include('contracted bandwidth from the registry');
    const never = body.children.filter((c: { status: string }) => c.status === 'never_seen');
    expect(never.every((c: { lastReportAt: unknown }) => c.lastReportAt === null)).to.equal(true);
  });

  it('?format=csv and Accept: text/csv answer CSV with a UTF-8 BOM and Chinese names', async () => {
    for (const [path, headers] of [['/api/v1/coverage?level=city&code=640100&format=csv', {}], ['/api/v1/coverage?level=city&code=640100', { accept: 'text/csv' }]] as const) {
      const res = await h.get(path, headers);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/csv; charset=utf-8/);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([...bytes.slice(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
      const lines = new TextDecoder().decode(bytes).replace(/^\uFEFF/, '').trim().split('\r\n');
      expect(lines[0]).to.match(/^level,code,name,registered,online,offline,never_seen,online_pct,tier_1000/);
      expect(lines[1]).to.match(/^city,640100,银川市,/);
      expect(lines).to.have.length(1 + 1 + 3);
    }
  });

  it('malformed query parameters answer 400 COL_ERR_INVALID_QUERY with a message', async () => {
    for (const path of [
      '/api/v1/coverage',
      '/api/v1/coverage?level=town&code=640104',
      '/api/v1/coverage?level=county',
      '/api/v1/coverage?level=county&code=64010',
      '/api/v1/coverage?level=national&format=xml',
      '/api/v1/coverage?level=national&levle=x',
      '/api/v1/coverage?level=national&level=county',
      '/api/v1/regions/abc',
    ]) {
      const res = await h.get(path);
      expect(res.status, path).to.equal(400);
      const body = await res.json();
      expect(body.error.code, path).to.equal('COL_ERR_INVALID_QUERY');
      expect(body.error.message, path).to.be.a('string').and.not.equal('');
    }
  });

  it('an unknown region answers 404', async () => {
    expect((await h.get('/api/v1/coverage?level=county&code=640199')).status).to.equal(404);
    expect((await h.get('/api/v1/coverage?level=city&code=640104')).status).to.equal(404);
    expect((await h.get('/api/v1/regions/650000')).status).to.equal(404);
  });

  it('GET /api/v1/regions/:code lists the children of each level, down to schools', async () => {
    const nat = await (await h.get('/api/v1/regions/000000')).json();
    expect(nat).to.include({ level: 'national', schoolCount: 300 });
    const prov = await (await h.get('/api/v1/regions/640000')).json();
    expect(prov.children.map((c: { code: string }) => c.code)).to.deep.equal(['640100', '640200', '640300']);
    const county = await (await h.get('/api/v1/regions/640221')).json();
    expect(county).to.include({ level: 'county', parent: '640200', childLevel: 'school', schoolCount: 33 });
    expect(county.children[0]).to.include({ level: 'school', code: '1640221001', linkType: 'fiber' });
  });

  it('writes a coverage point per region that reads back from InfluxDB, with the school-hours online rate', async () => {
    await h.views.refreshSchoolHours();
    const n = await h.views.writeCoverage();
    expect(n).to.equal(1 + 1 + 3 + 9);
    const rows = await h.influx.query(`SELECT * FROM "coverage" WHERE "level" = 'national'`);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ region: '000000', registered: 300, online: expected.online, never_seen: expected.never_seen });
    for (const f of ['tier_1000', 'tier_100', 'tier_20', 'tier_2', 'tier_lt2', 'measured_speed', 'satellite_pct', 'link_sat_geo', 'link_other', 'online_pct', 'tier_unknown']) expect(rows[0]).to.have.property(f);
    // Monday 16:00, counted from today: 9 school hours; every school that reported reported at 14:58 or 13:58.
    const national = (await (await h.get('/api/v1/coverage?level=national')).json()).schoolHoursOnline[0];
    expect(rows[0]?.school_hours_online_7d_pct).to.be.closeTo(national.onlinePct, 1e-9);
    expect(national.schoolHours).to.equal(300 * 9);
    const counties = await h.influx.query(`SELECT sum("registered") FROM "coverage" WHERE "level" = 'county'`);
    expect(counties[0]?.sum).to.equal(300);
  });

  it('liveness survives a restart through the state database, is rebuilt from InfluxDB when that is empty, and an old liveness.json is migrated once', async () => {
    await h.views.saveState();
    const rows = (h.state.db.prepare('SELECT count(*) AS n FROM views_liveness').get() as { n: number }).n;
    expect(rows).to.equal(270);
    const restarted = await h.restartViews();
    expect(restarted.store.size).to.equal(270);
    const fromState = restarted.model().rollup(NOW).national;
    h.state.db.prepare('DELETE FROM views_liveness').run();
    const rebuilt = await h.restartViews();
    expect(rebuilt.store.size).to.equal(270);
    expect([...rebuilt.model().rollup(NOW).national]).to.deep.equal([...fromState]);
    expect(rebuilt.store.get('1640104001')).to.deep.equal(restarted.store.get('1640104001'));

    // The JSON file of earlier versions: moved into the database once, then renamed.
    const l = restarted.store.get('1640104001')!;
    await rebuilt.saveState();
    h.state.db.prepare('DELETE FROM views_liveness').run();
    mkdirSync(dirname(livenessFile(h.stateDir)), { recursive: true });
    writeFileSync(livenessFile(h.stateDir), JSON.stringify({ v: 1, savedAtMs: NOW, schools: { '1640104001': [l.lastReportMs, l.internetAtMs, l.internetLossPct, l.wanSpeedBps, l.wanAtMs] } }));
    const migrated = await h.restartViews();
    expect(migrated.store.size).to.equal(1);
    // The old file had no throughput.
    expect(migrated.store.get('1640104001')).to.deep.equal({ ...l, throughputMbps: null, throughputAtMs: null });
    expect(existsSync(livenessFile(h.stateDir))).to.equal(false);
    expect(existsSync(`${livenessFile(h.stateDir)}.migrated`)).to.equal(true);
    expect((h.state.db.prepare('SELECT count(*) AS n FROM views_liveness').get() as { n: number }).n).to.equal(1);
    // Back to the full state for the tests after this one (the app still serves the first module).
    h.views.store.markDirty([...h.views.store.entries()].map(([id]) => id));
    await h.views.saveState();
    expect((h.state.db.prepare('SELECT count(*) AS n FROM views_liveness').get() as { n: number }).n).to.equal(270);
  });

  it('a changed registry reloads without a restart; the same file again changes nothing; a bad file keeps the old one', async () => {
    const more: SeedSchool[] = [...schools, { ...(schools[0] as SeedSchool), id: '1640104099', serial: 99, hub: '' }];
    expect(h.live.reload()).to.deep.equal({ status: 'unchanged' });
    writeFileSync(h.registryPath, registryCsv(more));
    expect(h.live.reload()).to.include({ status: 'reloaded', added: 1, removed: 0, changed: 0 });
    let body = await (await h.get('/api/v1/coverage?level=national')).json();
    expect(body).to.include({ registered: 301, online: expected.online, neverSeen: expected.never_seen + 1 });
    expect(h.live.reload()).to.deep.equal({ status: 'unchanged' });
    // A bad row costs that row: the school is refused, every other row of the new file is in force.
    writeFileSync(h.registryPath, registryCsv(more).replace('1640104099,', '164010409X,'));
    expect(h.live.reload()).to.include({ status: 'reloaded', added: 0, removed: 1, changed: 0 });
    expect(h.live.current().extra.refusedRows).to.equal(1);
    body = await (await h.get('/api/v1/coverage?level=national')).json();
    expect(body.registered).to.equal(300);
    // A file that cannot be read as a registry (a header typo) keeps the registry in force.
    writeFileSync(h.registryPath, registryCsv(more).replace('school_name', 'school_nam'));
    const bad = h.live.reload();
    expect(bad.status).to.equal('rejected');
    body = await (await h.get('/api/v1/coverage?level=national')).json();
    expect(body.registered).to.equal(300);
  });

  it('a school goes offline by itself when its last internet answer leaves the online window (runs last: the clock only moves forward)', async () => {
    h.clock.now = NOW + 12 * MIN;
    const before = await (await h.get('/api/v1/coverage?level=national')).json();
    expect(before.online).to.equal(expected.online);
    h.clock.now = NOW + 13 * MIN;
    const after = await (await h.get('/api/v1/coverage?level=national')).json();
    expect(after.online).to.equal(0);
    expect(after.offline).to.equal(expected.online + expected.offline);
  });
});
