/** The console's JSON API against the seeded province: paging, filters, thinning and refusals. */
import { expect } from 'chai';
import { startConsoleHarness, type ConsoleHarness } from './harness.js';

describe('collector/console API (seeded province, real influxd)', function () {
  this.timeout(60_000);
  let h: ConsoleHarness;
  before(async () => {
    h = await startConsoleHarness();
  });
  after(async () => h?.close());

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const get = async (path: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${h.base}${path}`);
    return { status: res.status, body: await res.json() };
  };

  it('GET /api/v1/console/schools pages on the server and counts every match', async () => {
    const p1 = await get('/api/v1/console/schools?region=640000&pageSize=30');
    const p4 = await get('/api/v1/console/schools?region=640000&pageSize=30&page=4');
    expect(p1.body).to.include({ total: 100, pages: 4 });
    expect(p1.body.items).to.have.length(30);
    expect(p4.body.items).to.have.length(10);
    const never = await get('/api/v1/console/schools?region=640104&status=never_seen');
    expect(never.body.items.every((s: { status: string }) => s.status === 'never_seen')).to.equal(true);
    const cov = await get('/api/v1/coverage?level=county&code=640104');
    expect(never.body.total).to.equal(cov.body.neverSeen);
    const q = await get(`/api/v1/console/schools?q=${encodeURIComponent('第7学校')}`);
    expect(q.body.items.map((s: { name: string }) => s.name)).to.have.members(['兴庆区第7学校', '西夏区第7学校', '利通区第7学校', '盐池县第7学校']);
  });

  it('GET /api/v1/console/offline lists every offline school of the coverage answer, longest first', async () => {
    const r = await get('/api/v1/console/offline?region=640000&pageSize=200');
    const cov = await get('/api/v1/coverage?level=province&code=640000');
    expect(r.body.total).to.equal(cov.body.offline);
    const since = r.body.items.map((i: { since: string }) => Date.parse(i.since));
    expect(since).to.deep.equal([...since].sort((a, b) => a - b));
    const geo = r.body.items.filter((i: { linkType: string }) => i.linkType === 'sat-geo');
    // Still reporting, every internet target lost: offline since the last answer InfluxDB holds, modem unlocked since then.
    for (const i of geo) {
      expect(i.reason).to.equal('internet_unreachable');
      expect(i.evidence.modemLocked).to.equal(false);
      expect(Date.parse(i.evidence.modemUnlockedSince)).to.be.greaterThan(Date.parse(i.since));
      expect(i.offlineForS).to.be.greaterThan(3600);
    }
  });

  it('GET /api/v1/console/map sends points up to maxPoints and grid clusters beyond, counting every school', async () => {
    const points = await get('/api/v1/console/map?region=640000');
    expect(points.body).to.include({ mode: 'points', total: 100 });
    const clusters = await get('/api/v1/console/map?region=640000&maxPoints=20');
    expect(clusters.body.mode).to.equal('clusters');
    const sum = clusters.body.clusters.reduce((n: number, c: number[]) => n + (c[2] as number), 0);
    expect(sum).to.equal(100);
    expect(clusters.body.clusters.length).to.be.lessThanOrEqual(20);
    const box = await get('/api/v1/console/map?region=640000&bbox=107,37,108,38.5');
    expect(box.body.points.every((p: number[]) => (p[2] as number) >= 107)).to.equal(true);
    expect(box.body.total).to.equal(box.body.points.length);
  });

  it('GET /api/v1/console/history returns the coverage points written for the region', async () => {
    const r = await get('/api/v1/console/history?region=640000&range=24h');
    expect(r.body.values.length).to.be.greaterThanOrEqual(6);
    const last = r.body.values.at(-1);
    const cov = await get('/api/v1/coverage?level=province&code=640000');
    expect(last[r.body.columns.indexOf('online')]).to.equal(cov.body.online);
  });

  it('refuses a malformed query with COL_ERR_INVALID_QUERY and an unknown region or school with COL_ERR_NOT_FOUND', async () => {
    for (const path of ['/api/v1/console/schools?pageSize=1000', '/api/v1/console/schools?region=64', '/api/v1/console/map?bbox=1,2,3', '/api/v1/console/schools/1640104001/series?range=1y', '/api/v1/console/offline?link=wifi', '/api/v1/console/schools?foo=1']) {
      const r = await get(path);
      expect(r.status, path).to.equal(400);
      expect(r.body.error.code, path).to.equal('COL_ERR_INVALID_QUERY');
    }
    for (const path of ['/api/v1/console/schools?region=650000', '/api/v1/console/schools/1999999999', '/api/v1/console/compliance/schools?rule=NOPE']) {
      const r = await get(path);
      expect(r.status, path).to.equal(404);
      expect(r.body.error.code, path).to.equal('COL_ERR_NOT_FOUND');
    }
  });

  it('serves the pages and uPlot from node_modules, with a CSP that forbids inline script', async () => {
    const index = await fetch(`${h.base}/`);
    expect(index.status).to.equal(200);
    expect(index.headers.get('content-security-policy')).to.contain("default-src 'self'").and.not.contain('unsafe-eval');
    const html = await index.text();
    expect(html).to.not.match(/<script>(?!<)/);
    const uplot = await fetch(`${h.base}/console/vendor/uplot.esm.js`);
    expect(uplot.status).to.equal(200);
    expect(await uplot.text()).to.contain('export { uPlot as default }');
    expect((await fetch(`${h.base}/console/vendor/other.js`)).status).to.equal(404);
    expect((await fetch(`${h.base}/console/../package.json`)).status).to.equal(404);
  });
});
