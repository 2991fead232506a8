import { expect } from 'chai';
import fc from 'fast-check';
import { parseRegistry } from '../../../collector/registry/index.js';
import { CoverageModel, F, NF } from '../../../collector/views/coverage/model.js';
import { LivenessStore, onlineUntilMs, type Liveness } from '../../../collector/views/liveness/store.js';

const COUNTIES = ['640104', '640105', '640202', '630101'];
const T0 = Date.parse('2026-11-23T08:00:00Z');
const WINDOW = 15 * 60_000;
/** Short, so that measurements age out within a run. */
const FRESH = 20 * 60_000;

function csv(counties: number[]): string {
  const rows = counties.map((c, i) => {
    const k = COUNTIES[c] as string;
    const [p, pn] = k.startsWith('64') ? ['640000', '宁夏'] : ['630000', '青海'];
    return `1${k}${String(i).padStart(3, '0')},S${i},${p},${pn},${k.slice(0, 4)}00,C${k.slice(0, 4)},${k},K${k},${['fiber', 'sat-geo', 'cellular'][i % 3]},${[1000, 50, 1][i % 3]},10,2,38,106`;
  });
  return `school_id,school_name,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon\n${rows.join('\n')}\n`;
}

const event = fc.record({ school: fc.nat(), dtMs: fc.integer({ min: 0, max: 10 * 60_000 }), ageMs: fc.integer({ min: 0, max: 40 * 60_000 }), loss: fc.constantFrom(0, 50, 100), speed: fc.option(fc.constantFrom(1e6, 5e7, 2e9)), down: fc.option(fc.constantFrom(1, 10, 150, 2000)) });

describe('collector/views CoverageModel (property)', () => {
  it('children sum to their parent at every level, each school is counted once, and online matches a brute-force count at every step', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: COUNTIES.length - 1 }), { minLength: 1, maxLength: 60 }), fc.array(event, { maxLength: 80 }), (counties, events) => {
        const reg = parseRegistry(csv(counties));
        const ids = [...reg.schools.keys()];
        const store = new LivenessStore();
        const model = new CoverageModel({ registry: reg, store, onlineWindowMs: WINDOW, nowMs: T0, measuredFreshMs: FRESH });
        let now = T0;
        for (const e of events) {
          now += e.dtMs;
          const school = ids[e.school % ids.length] as string;
          const at = now - e.ageMs;
          const facts: Liveness = { lastReportMs: at, internetAtMs: at, internetLossPct: e.loss, wanSpeedBps: e.speed, wanAtMs: e.speed === null ? null : at, throughputMbps: e.down, throughputAtMs: e.down === null ? null : at };
          store.apply(school, facts);
          model.update(school, now);
          const roll = model.rollup(now);
          const nat = roll.national;
          expect(nat[F.registered]).to.equal(ids.length);
          const online = ids.filter((id) => onlineUntilMs(store.get(id), WINDOW) > now).length;
          expect(nat[F.online]).to.equal(online);
          expect(nat[F.neverSeen]).to.equal(ids.filter((id) => !store.get(id)).length);
          // Measured: a throughput test within FRESH of now, whatever the port speed; the others by contract.
          const fresh = (id: string) => (store.get(id)?.throughputAtMs ?? -Infinity) > now - FRESH;
          expect(nat[F.measured]).to.equal(ids.filter(fresh).length);
          const tierOfBrute = (mbps: number) => (mbps >= 1000 ? 0 : mbps >= 100 ? 1 : mbps >= 20 ? 2 : mbps >= 2 ? 3 : 4);
          const bruteTiers = [0, 0, 0, 0, 0];
          for (const id of ids) bruteTiers[tierOfBrute(fresh(id) ? (store.get(id)!.throughputMbps as number) : reg.get(id)!.contractedMbps)]!++;
          expect([0, 1, 2, 3, 4].map((k) => nat[F.tier + k])).to.deep.equal(bruteTiers);
          // Every school in exactly one tier and one link type.
          const tiers = [0, 1, 2, 3, 4].reduce((n, k) => n + (nat[F.tier + k] as number), 0);
          const links = Array.from({ length: NF - F.link }, (_, k) => nat[F.link + k] as number).reduce((a, b) => a + b, 0);
          expect(tiers).to.equal(ids.length);
          expect(links).to.equal(ids.length);
          const sum = (codes: readonly string[]) => {
            const out = new Array(NF).fill(0);
            for (const c of codes) roll.byCode.get(c)?.forEach((v, f) => (out[f] += v));
            return out;
          };
          expect(sum(reg.national.children)).to.deep.equal([...nat]);
          for (const p of reg.provinces.values()) expect(sum(p.children)).to.deep.equal([...(roll.byCode.get(p.code) as Int32Array)]);
          for (const c of reg.cities.values()) expect(sum(c.children)).to.deep.equal([...(roll.byCode.get(c.code) as Int32Array)]);
          for (const k of reg.counties.values()) {
            const schools = k.children.map((id) => model.schoolCounters(model.school(id, now)!));
            const s = new Array(NF).fill(0);
            for (const sc of schools) sc.forEach((v, f) => (s[f] += v));
            expect(s).to.deep.equal([...(roll.byCode.get(k.code) as Int32Array)]);
          }
        }
        // Time alone ends "online".
        const later = now + WINDOW + 40 * 60_000;
        expect(model.rollup(later).national[F.online]).to.equal(0);
      }),
      { numRuns: 150 },
    );
  });
});
