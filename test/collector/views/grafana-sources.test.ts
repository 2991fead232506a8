/** The points Grafana reads beside `coverage`: the registry's regions and the status of every school, written by writeCoverage(). */
import { expect } from 'chai';
import { MIN, NOW, ping, seedSchools, startHarness, type Harness } from './harness.js';

describe('collector/views writeCoverage() Grafana sources (real influxd)', function () {
  this.timeout(120_000);
  const schools = seedSchools(30);
  let h: Harness;

  before(async () => {
    h = await startHarness({ schools });
    // 0-9 online, 10-19 silent for two hours, 20-29 never seen.
    for (const [i, s] of schools.entries()) {
      if (i >= 20) continue;
      const at = i < 10 ? NOW - 2 * MIN : NOW - 120 * MIN;
      await h.post(s.id, [{ atMs: at, measurements: [ping('gateway', 0), ping('internet', 0)] }]);
    }
    await h.views.writeCoverage();
  });
  after(async () => h?.close());

  it('writes one region point per province, city and county, labelled "code name", with its parents as tags', async () => {
    const rows = await h.influx.query('SELECT * FROM "region"');
    const reg = h.live.current();
    expect(rows).to.have.length(reg.provinces.size + reg.cities.size + reg.counties.size);
    const county = rows.find((r) => r.level === 'county' && r.code === '640104');
    expect(county).to.include({ label: '640104 兴庆区', province: '640000', city: '640100' });
    expect(county?.schools).to.equal(reg.counties.get('640104')?.schoolCount);
    expect(rows.find((r) => r.level === 'province')).to.include({ code: '640000', label: '640000 宁夏回族自治区' });
  });

  it('writes a school_status point for every school: online, offline and never_seen, with its name', async () => {
    const rows = await h.influx.query('SELECT * FROM "school_status"');
    expect(rows).to.have.length(30);
    const byId = new Map(rows.map((r) => [r.school as string, r]));
    const at = (i: number) => byId.get(schools[i]!.id);
    expect(at(0)).to.include({ status: 'online', name: h.live.current().get(schools[0]!.id)?.name, last_report_s: 120 });
    expect(at(10)).to.include({ status: 'offline', last_report_s: 7200 });
    expect(at(25)).to.include({ status: 'never_seen', last_report_s: null });
    expect(at(25)).to.include({ county: schools[25]!.county, link: schools[25]!.link, label: `${schools[25]!.id} ${h.live.current().get(schools[25]!.id)?.name}` });
  });
});
