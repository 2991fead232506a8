import { expect } from 'chai';
import type { ComplianceLevel } from '../../../collector/views/compliance/service.js';
import type { ViewsModule } from '../../../collector/views/index.js';
import type { Measurement } from '../../../protocol/index.js';
import { MIN, NOW, inventory, ping, seedSchools, startHarness, throughput, wan, type Harness } from './harness.js';

const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return x / 2 ** 32;
  };
}

/** Measurements of every kind the metrics read, with the edge cases (loss 100, no jitter, IPv6, missing fields, foreign classes). */
function randomMeasurements(r: () => number): Measurement[] {
  const out: Measurement[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  if (r() < 0.8) out.push(ping('internet', pick([0, 0, 0, 20, 100])));
  if (r() < 0.4) out.push(ping('internet', pick([0, 100]), { target: '2001:db8::1' }));
  if (r() < 0.5) out.push(ping('peer', pick([0, 0, 40, 100]), { rtt: 10 + Math.floor(r() * 900), jitter: Math.floor(r() * 50) }));
  if (r() < 0.3) out.push(ping('gateway', 0));
  if (r() < 0.6) out.push(wan(pick([1e6, 1e7, 5e7, 1.5e8, 1.2e9]), r() < 0.5 ? Math.floor(r() * 5e8) : undefined));
  if (r() < 0.1) out.push({ name: 'iface', tags: { device: 'gateway', ifname: 'wan1', role: 'wan' }, fields: { oper_up: 0 } });
  if (r() < 0.4) out.push(inventory(pick(['ap', 'display', 'pc', 'printer']), Math.floor(r() * 80)));
  // Throughput tests: a few a day, some failed (no down_mbps) or skipped by the budget.
  if (r() < 0.15) out.push(throughput(pick([1, 8, 10, 95, 150, 1100]), { resultCode: pick([0, 0, 0, 2, 4]) }));
  return out;
}

/** Numbers to 9 significant digits: sums added in another order differ in the last bits. */
function normalize(x: unknown): unknown {
  if (typeof x === 'number') return Number.isInteger(x) ? x : Number(x.toPrecision(9));
  if (Array.isArray(x)) return x.map(normalize);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalize(v)]));
  return x;
}

const REGIONS: [ComplianceLevel, string | undefined][] = [
  ['national', undefined],
  ['province', '640000'],
  ['city', '640100'],
  ['city', '640300'],
  ['county', '640104'],
  ['county', '640323'],
];

describe('collector/views compliance evidence: the same judgements as InfluxQL over raw data (real influxd)', function () {
  this.timeout(180_000);
  const schools = seedSchools();
  let h: Harness;
  const r = rng(20261123);

  before(async () => {
    h = await startHarness({ schools });
    // Two thirds of the schools report, at random times over the last 13 days (some older than every
    // window), in and out of school hours, weekends included.
    const reporting = schools.filter((_, i) => i % 3 !== 2);
    for (const s of reporting) {
      const n = 4 + Math.floor(r() * 30);
      const reports = Array.from({ length: n }, () => ({ atMs: Math.floor(NOW - r() * 13 * DAY), measurements: randomMeasurements(r) }));
      // One report exactly on a China midnight and one at 17:00 (the end of school hours, excluded).
      reports.push({ atMs: Date.parse('2026-11-20T00:00:00+08:00'), measurements: randomMeasurements(r) });
      reports.push({ atMs: Date.parse('2026-11-20T17:00:00+08:00'), measurements: randomMeasurements(r) });
      await h.post(s.id, reports);
    }
  });
  after(async () => h?.close());

  const compareAll = async (views: ViewsModule, atMs: number, what: string): Promise<number> => {
    let compared = 0;
    for (const id of views.compliance.profileIds()) {
      const p = views.compliance.profile(id)!;
      for (const s of schools) {
        const live = await views.compliance.school(p, s.id, atMs, 'live');
        const raw = await views.compliance.school(p, s.id, atMs, 'raw');
        expect(normalize(live), `${what}: ${id} ${s.id}`).to.deep.equal(normalize(raw));
        compared += live?.judgements.length ?? 0;
      }
      for (const [level, code] of REGIONS) {
        const live = await views.compliance.region(p, level, code, atMs, 'live');
        const raw = await views.compliance.region(p, level, code, atMs, 'raw');
        expect(normalize(live), `${what}: ${id} ${level} ${code}`).to.deep.equal(normalize(raw));
      }
    }
    return compared;
  };

  it('judges every school, rule and region as the InfluxQL path does, on a school day in school hours', async () => {
    const n = await compareAll(h.views, NOW, 'Monday 16:00');
    expect(n).to.be.greaterThan(300 * 10);
    // Not a comparison of nothing: both paths see passes and fails.
    const nat = await h.views.compliance.region(h.views.compliance.profile('cn-moe')!, 'national', undefined, NOW, 'live');
    const bb01 = nat!.rules.find((x) => x.rule === 'CN-BB-01')!;
    expect(bb01.pass).to.be.greaterThan(0);
    expect(bb01.fail + bb01.pass).to.be.greaterThan(0);
  });

  it('the evidence survives a restart through the state database and still judges the same', async () => {
    const restarted = await h.restartViews();
    expect(restarted.live()!.rebuildProgress().running).to.equal(false);
    expect(restarted.live()!.evidence.size).to.equal(h.views.live()!.evidence.size);
    await compareAll(restarted, NOW, 'after restart');
  });

  it('missing evidence is rebuilt from InfluxDB per county, and judges the same once done', async () => {
    h.state.db.prepare("DELETE FROM views_meta WHERE key = 'evidence.complete'").run();
    const rebuilt = await h.restartViews();
    expect(rebuilt.live()!.rebuildProgress().running).to.equal(false);
    expect(rebuilt.live()!.evidence.size).to.equal(h.views.live()!.evidence.size);
    await compareAll(rebuilt, NOW, 'rebuilt');
  });

  it('when the clock moves to a weekend, windows move to other day buckets and the rollups follow', async () => {
    // Saturday 10:00: school-hours windows are last week's days, some points leave every window.
    h.clock.now = NOW + 4 * DAY + 18 * HOUR;
    await h.views.live()!.refreshAll();
    await compareAll(h.views, h.clock.now, 'Saturday 10:00');
  });
});
