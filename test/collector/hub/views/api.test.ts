/**
 * The hub's read APIs from a real roll-up store and a real influxd: national totals are the sum of the
 * provinces, a stale province is flagged with its last figures (never zero online), counties link to the
 * province's console, history sums the provinces from `rollup`, and the national alerts fire.
 */
import { expect } from 'chai';
import { T0, makeRollup } from '../fixtures.js';
import { startTestHub, type TestHub } from './hub-server.js';

const MIN = 60_000;
const NOW = T0 + 60 * MIN;

async function get(hub: TestHub, path: string): Promise<{ status: number; body: any; text: string; type: string | null }> {
  const res = await fetch(`${hub.url}${path}`);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, type: res.headers.get('content-type') };
}

describe('collector/hub/views: the national read APIs', function () {
  this.timeout(60_000);
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub({ nowMs: NOW, settings: { staleAfterMs: 3 * MIN, alerts: { stale: true, onlineBelowPct: 80, forMin: 15, minSchools: 5, alertmanagerUrls: [], evaluateIntervalMs: 60_000 } } });
    // 江苏 (32) reports every 10 minutes up to now; 北京 (11) stopped 40 minutes ago.
    for (let k = 0; k <= 6; k++) await hub.deliver(makeRollup('32', { seq: k + 1, asOf: T0 + k * 10 * MIN }, [3 + (k % 2), 2, 1]), T0 + k * 10 * MIN + 500);
    for (let k = 0; k <= 2; k++) await hub.deliver(makeRollup('11', { seq: k + 1, asOf: T0 + k * 10 * MIN }, [5, 4, 0]), T0 + k * 10 * MIN + 500);
  });
  after(async () => {
    await hub?.close();
  });

  it('national coverage is the sum of the provinces, names the stale province and counts it with its last figures', async () => {
    const { status, body } = await get(hub, '/api/v1/coverage?level=national');
    expect(status).to.equal(200);
    const p32 = body.children.find((c: any) => c.code === '320000');
    const p11 = body.children.find((c: any) => c.code === '110000');
    expect(p32).to.include({ level: 'province', registered: 9, online: 6, offline: 3, stale: false, asOf: new Date(T0 + 60 * MIN).toISOString() });
    // 北京 is stale: its last roll-up (as of T0 + 20 min) is shown as it was, not as zero online.
    expect(p11).to.include({ registered: 12, online: 9, offline: 3, stale: true, asOf: new Date(T0 + 20 * MIN).toISOString() });
    expect(body).to.include({ level: 'national', code: '000000', registered: 21, online: 15, offline: 6, neverSeen: 0, stale: true });
    expect(body.onlineShare).to.be.closeTo(15 / 21, 1e-9);
    expect(body.provinces).to.deep.equal({ reporting: 1, stale: 1 });
    expect(body.staleProvinces).to.deep.equal([{ code: '110000', name: p11.name, asOf: p11.asOf, receivedAt: p11.receivedAt }]);
    expect(body.tiers['100']).to.equal(21);
    expect(body.tierSource).to.deep.equal({ measured: 15, contracted: 6, unknown: 0 });
    expect(body.links.fiber).to.equal(21);
    expect(body.schoolHoursOnline[0]).to.deep.equal({ days: 7, onlinePct: 90 });
    // The national figures are as old as the oldest province in them.
    expect(body.asOf).to.equal(p11.asOf);
  });

  it('a province, a city and a county answer in the province API shape; a county links to the province console', async () => {
    const prov = (await get(hub, '/api/v1/coverage?level=province&code=320000')).body;
    expect(prov.children.map((c: any) => [c.code, c.level])).to.deep.equal([['320100', 'city'], ['329001', 'county']]);
    expect(prov.schoolsUrl).to.equal('https://collector-32.example/?region=320000');
    const city = (await get(hub, '/api/v1/coverage?level=city&code=320100')).body;
    expect(city.children.map((c: any) => c.code)).to.deep.equal(['320102', '320103']);
    expect(city.children.reduce((n: number, c: any) => n + c.registered, 0)).to.equal(city.registered);
    const county = (await get(hub, '/api/v1/coverage?level=county&code=110102')).body;
    expect(county).to.include({ level: 'county', code: '110102', stale: true, registered: 6, online: 5, schoolsUrl: 'https://collector-11.example/?region=110102' });
    expect(county.children).to.deep.equal([]);
    // Never school-level data on a hub.
    expect(JSON.stringify(county)).not.to.match(/"level":"school"/);
  });

  it('refuses unknown regions and bad queries with the catalogue codes', async () => {
    expect((await get(hub, '/api/v1/coverage?level=province&code=330000')).body.error.code).to.equal('COL_ERR_NOT_FOUND');
    expect((await get(hub, '/api/v1/coverage?level=city&code=320000')).status).to.equal(404);
    const bad = await get(hub, '/api/v1/coverage?level=planet');
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('COL_ERR_INVALID_QUERY');
    expect((await get(hub, '/api/v1/coverage?level=county')).body.error.issues[0].path).to.equal('code');
    expect((await get(hub, '/api/v1/regions/999999')).status).to.equal(404);
  });

  it('serves the national pages, and not the pages of a province (they read school-level APIs)', async () => {
    const home = await get(hub, '/');
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('/console/js/national.js');
    expect((await get(hub, '/console/national-map.html')).status).to.equal(200);
    expect((await get(hub, '/console/js/national.js')).type).to.match(/javascript/);
    const school = await get(hub, '/console/school.html');
    expect(school.status).to.equal(404);
    expect(school.body.error.code).to.equal('COL_ERR_NOT_FOUND');
  });

  it('regions list the provinces and their tree', async () => {
    const nat = (await get(hub, '/api/v1/regions')).body;
    expect(nat.children.map((c: any) => c.code)).to.deep.equal(['110000', '320000']);
    expect(nat.schoolCount).to.equal(21);
    const county = (await get(hub, '/api/v1/regions/320102')).body;
    expect(county).to.include({ level: 'county', parent: '320100', childLevel: 'school', schoolsUrl: 'https://collector-32.example/?region=320102' });
    expect((await get(hub, '/api/v1/regions/329001')).body.parent).to.equal('320000');
  });

  it('coverage as CSV carries as-of and the stale flag per row', async () => {
    const r = await get(hub, '/api/v1/coverage?level=national&format=csv');
    expect(r.type).to.match(/^text\/csv/);
    const lines = r.text.replace(/^\uFEFF/, '').trim().split('\r\n');
    const head = lines[0]!.split(',');
    expect(head.slice(-3)).to.deep.equal(['school_hours_online_7d_pct', 'as_of', 'stale']);
    const row = (code: string) => Object.fromEntries(lines.find((l) => l.split(',')[1] === code)!.split(',').map((v, i) => [head[i], v]));
    expect(row('000000')).to.include({ registered: '21', online: '15', stale: '1' });
    expect(row('110000')).to.include({ online: '9', stale: '1', link_fiber: '12' });
    expect(row('320000')).to.include({ online: '6', stale: '0' });
  });

  it('compliance sums the provinces per rule, unknown never counted as pass', async () => {
    const { body } = await get(hub, '/api/v1/compliance?level=national');
    expect(body.rules).to.deep.equal([{ rule: 'cn-bb-02', pass: 15, fail: 6, unknown: 0, passShare: 15 / 21, knownShare: 1 }]);
    expect(body.children.map((c: any) => [c.code, c.stale, c.rules[0].pass])).to.deep.equal([['110000', true, 9], ['320000', false, 6]]);
    const county = (await get(hub, '/api/v1/compliance?level=county&code=320102')).body;
    expect(county.rules[0]).to.include({ pass: 3, fail: 1 });
  });

  it('history comes from the rollup measurement; the nation sums provinces and carries a stale one with its last figures', async () => {
    const h = (await get(hub, '/api/v1/console/history?region=000000&range=24h')).body;
    expect(h.columns).to.deep.equal(['time', 'online_pct', 'online', 'offline', 'never_seen', 'registered', 'provinces_reporting', 'provinces_carried']);
    // 15-minute buckets; 32 reports in each bucket, 11 only in the first two.
    const rows = h.values.map((v: number[]) => Object.fromEntries(h.columns.map((c: string, i: number) => [c, v[i]])));
    expect(rows.length).to.be.greaterThan(3);
    // 江苏 alternates 9 and 10 schools (one more online every other roll-up), 北京 is 12 all along.
    for (const r of rows) expect(r.registered).to.be.within(21, 22), expect(r.online + r.offline + r.never_seen).to.be.closeTo(r.registered, 1e-9);
    const last = rows[rows.length - 1];
    expect(last).to.include({ provinces_reporting: 1, provinces_carried: 1 });
    expect(last.online).to.be.within(6 + 9, 7 + 9);
    expect(last.registered).to.be.within(21, 22);
    const county = (await get(hub, '/api/v1/console/history?region=320102&range=24h')).body;
    expect(county.columns).to.deep.equal(['time', 'online_pct', 'online', 'offline', 'never_seen', 'registered']);
    expect(county.values.length).to.be.greaterThan(2);
    expect(county.values.every((v: number[]) => v[5] === (v[2] as number) + (v[3] as number) + (v[4] as number))).to.equal(true);
  });

  it('feeds (the hub\'s own), trail and meta say which province is stale and where its console is', async () => {
    const f = (await get(hub, '/api/v1/hub/feeds')).body;
    expect(f.provinces.map((i: any) => [i.province, i.stale, i.collector, i.lastSeq])).to.deep.equal([['11', true, 'prov-11', 3], ['32', false, 'prov-32', 7]]);
    const tr = (await get(hub, '/api/v1/console/trail/320102')).body;
    expect(tr.trail.map((s: any) => s.code)).to.deep.equal(['000000', '320000', '320100', '320102']);
    expect(tr.provinceConsoleUrl).to.equal('https://collector-32.example/?region=320102');
    expect((await get(hub, '/api/v1/console/trail/329001')).body.trail.map((s: any) => s.code)).to.deep.equal(['000000', '320000', '329001']);
    const meta = (await get(hub, '/api/v1/console/meta')).body;
    expect(meta).to.include({ role: 'national', defaultProfile: 'provinces', staleAfterMs: 3 * MIN });
    expect(meta.provinces.map((p: any) => p.code)).to.deep.equal(['110000', '320000']);
  });

  it('national alerts: a stale province fires and resolves when it reports again; a low online share fires after forMin', async () => {
    await hub.module.alerts.evaluate();
    let a = (await get(hub, '/api/v1/hub/alerts')).body;
    expect(a.firing.map((x: any) => x.key)).to.deep.equal(['province_stale|110000']);
    expect(a.firing[0].labels).to.include({ alertname: 'CampuslinkProvinceStale', region: '110000', level: 'province', severity: 'critical' });
    expect(a.firing[0].consoleUrl).to.equal('http://hub.test/?region=110000');
    // 北京 comes back with 2 of 10 online: stale resolves; below 80 % for 15 minutes fires.
    await hub.deliver(makeRollup('11', { seq: 4, asOf: NOW - 20 * MIN }, [1, 1, 0]), NOW);
    await hub.module.alerts.evaluate();
    a = (await get(hub, '/api/v1/hub/alerts')).body;
    expect(a.firing).to.deep.equal([]);
    // Newest first (江苏 was stale too while the test delivered its past roll-ups).
    expect(a.resolved[0].key).to.equal('province_stale|110000');
    expect(a.resolved[0].endsAt).to.equal(new Date(NOW).toISOString());
    hub.clock.now = NOW + 1000;
    await hub.deliver(makeRollup('11', { seq: 5, asOf: NOW }, [1, 1, 0]), NOW + 1000);
    await hub.module.alerts.evaluate();
    a = (await get(hub, '/api/v1/hub/alerts')).body;
    expect(a.firing.map((x: any) => x.key)).to.deep.equal(['province_online|110000']);
    expect(a.firing[0].summary).to.match(/below 80\.0 % for 15 min/);
  });
});
