import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadRegistry } from '../../../collector/registry/load.js';
import type { Registry } from '../../../collector/registry/index.js';
import { buildRegionAggregates, provinceOfRegistry, type FiringAlert, type RollupSources } from '../../../collector/rollup/build.js';
import { CoverageModel } from '../../../collector/views/coverage/model.js';
import { LivenessStore, livenessOf } from '../../../collector/views/liveness/store.js';
import { ConfigError } from '../../../protocol/config.js';
import { rollupSchema, type RegionAggregate } from '../../../protocol/rollup.js';
import { repoPath } from '../../helpers/cli.js';
import { T0, makeReport, typicalMeasurements } from '../../helpers/reports.js';

/** The example registry's rows of one province (64 宁夏 or 63 青海), or of both. */
function registryOf(dir: string, provinces: string[]): Registry {
  const [head, ...rows] = readFileSync(repoPath('config/schools.example.csv'), 'utf8').trim().split('\n');
  const path = join(dir, `${provinces.join('-')}.csv`);
  writeFileSync(path, [head, ...rows.filter((r) => provinces.some((p) => r.split(',')[3] === `${p}0000`))].join('\n'));
  return loadRegistry(path);
}

describe('collector/rollup: a province roll-up from the collector\'s in-memory state', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'rollup-build-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts every school once in its county, sums cities and the province, attributes alerts and compliance, and passes the wire schema', async () => {
    const reg = registryOf(dir, ['64']);
    const store = new LivenessStore();
    const model = new CoverageModel({ registry: reg, store, onlineWindowMs: 15 * 60_000, nowMs: T0 });
    const schools = [...reg.schools.values()];
    const reporting = schools.slice(0, 5);
    for (const [i, s] of reporting.entries()) {
      store.apply(s.id, livenessOf(makeReport({ school: s.id, seq: 1, collectedAt: T0 - (i === 4 ? 3_600_000 : 60_000), sentAt: T0, measurements: typicalMeasurements(1) })));
      model.update(s.id, T0);
    }
    const first = schools[0]!;
    const alerts: FiringAlert[] = [
      { rule: 'school-offline', labels: { school: first.id, county: first.countyCode, city: first.cityCode, province: first.provinceCode } },
      { rule: 'county-offline', labels: { region: first.countyCode, county: first.countyCode, city: first.cityCode, province: first.provinceCode } },
    ];
    const src: RollupSources = {
      registry: () => reg,
      model: () => model,
      schoolHours: () => undefined,
      compliance: (code) => [{ rule: 'CN-BB-02', pass: 1, fail: 0, unknown: (reg.region(code)?.level === 'county' ? reg.counties.get(code)?.children.length ?? 1 : 2) - 1 }],
      alerts: () => alerts,
    };
    const regions = await buildRegionAggregates(src, '64', T0);
    const byCode = new Map<string, RegionAggregate>(regions.map((g) => [g.region, g]));
    const province = byCode.get('640000') as RegionAggregate;
    expect(province).to.include({ level: 'province', name: '宁夏回族自治区', registered: schools.length, online: 4, offline: 1, neverSeen: schools.length - 5 });
    // Every county of the registry, every city, the province; the counties add up to the province.
    expect(regions.filter((g) => g.level === 'county')).to.have.length(reg.counties.size);
    expect(regions.filter((g) => g.level === 'city')).to.have.length(reg.cities.size);
    const counties = regions.filter((g) => g.level === 'county');
    expect(counties.reduce((n, g) => n + g.registered, 0)).to.equal(schools.length);
    for (const city of regions.filter((g) => g.level === 'city')) {
      const under = counties.filter((g) => reg.counties.get(g.region)?.parent === city.region);
      expect(city.online, city.region).to.equal(under.reduce((n, g) => n + g.online, 0));
      expect(city.registered, city.region).to.equal(under.reduce((n, g) => n + g.registered, 0));
    }
    const tiers = Object.values(province.tiers).reduce((n, t) => n + t.measured + t.contracted, 0);
    expect(tiers + province.tierUnknown).to.equal(schools.length);
    expect(Object.values(province.links).reduce((n, v) => n + v, 0)).to.equal(schools.length);
    expect(province.alertsFiring).to.deep.equal({ 'school-offline': 1, 'county-offline': 1 });
    expect(byCode.get(first.countyCode)?.alertsFiring).to.deep.equal({ 'school-offline': 1, 'county-offline': 1 });
    expect(province.compliance).to.deep.equal({ 'CN-BB-02': { pass: 1, fail: 0, unknown: 1 } });
    expect(province.schoolHoursOnlinePct).to.equal(null);
    expect(province.schoolHoursUnknownReason).to.match(/not computed yet/);
    const parsed = rollupSchema.safeParse({ v: 1, province: '64', collector: 'p64-00000001', epoch: 'abcdef0123456789', seq: 1, asOf: T0, sentAt: T0, consoleUrl: 'http://127.0.0.1:8470/console', regions });
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).to.equal(true);
  });

  it('the province: the registry\'s only one, or hub.province; several without hub.province is a config problem', () => {
    expect(provinceOfRegistry(registryOf(dir, ['63']))).to.equal('63');
    const both = registryOf(dir, ['63', '64']);
    expect(provinceOfRegistry(both, '64')).to.equal('64');
    expect(() => provinceOfRegistry(both)).to.throw(ConfigError, /holds 2 provinces \(6[34], 6[34]\)/);
    expect(() => provinceOfRegistry(both, '32')).to.throw(ConfigError, /province 32 has no school/);
  });
});
