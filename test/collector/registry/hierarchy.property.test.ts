import { expect } from 'chai';
import fc from 'fast-check';
import { COLUMN_NAMES, LINK_TYPES, SCHOOL_TYPES, parseRegistry, type Registry } from '../../../collector/registry/index.js';
import { toCsv, type Row } from './fixtures.js';

/** A school row of a generated registry, before its id and hub are settled. */
const arbSchool = fc.record({
  id: fc.integer({ min: 0, max: 999_999_999 }).map((n) => `1${String(n).padStart(9, '0')}`),
  // Few provinces, cities and counties, so that regions are shared by many schools.
  province: fc.constantFrom('11', '63', '64'),
  city: fc.constantFrom('01', '02', '27'),
  county: fc.constantFrom('01', '04', '22', '81'),
  name: fc.string({ unit: fc.constantFrom('学', '校', '一', 'a', ' ', ',', '"', '\u00e9'), minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== ''),
  type: fc.constantFrom(...SCHOOL_TYPES, ''),
  link: fc.constantFrom(...LINK_TYPES),
  mbps: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom(0.5, 2.5)),
  students: fc.nat({ max: 5000 }),
  classrooms: fc.nat({ max: 200 }),
  lat: fc.double({ min: 3, max: 54, noNaN: true }),
  lon: fc.double({ min: 73, max: 136, noNaN: true }),
  /** Index of the hub among the schools, if any. */
  hub: fc.option(fc.nat(), { nil: undefined }),
});

const arbRegistryCsv = fc
  .record({
    schools: fc.uniqueArray(arbSchool, { minLength: 1, maxLength: 60, selector: (s) => s.id }),
    order: fc.shuffledSubarray(COLUMN_NAMES.slice(1), { minLength: COLUMN_NAMES.length - 1 }),
    eol: fc.constantFrom('\n', '\r\n'),
    bom: fc.boolean(),
  })
  .map(({ schools, order, eol, bom }) => {
    const rows: Row[] = schools.map((s, i) => {
      const pc = `${s.province}0000`;
      const cc = `${s.province}${s.city}00`;
      const kc = `${s.province}${s.city}${s.county}`;
      const hub = s.hub === undefined ? undefined : schools[s.hub % schools.length];
      return {
        school_id: s.id,
        school_name: s.name,
        school_type: s.type,
        province_code: pc,
        province_name: `省${pc}`,
        city_code: cc,
        city_name: `市${cc}`,
        county_code: kc,
        county_name: `县${kc}`,
        link_type: s.link,
        contracted_mbps: String(s.mbps),
        students: String(s.students),
        classrooms: String(s.classrooms),
        lat: String(s.lat),
        lon: String(s.lon),
        hub_school_id: hub && hub.id !== s.id && i % 2 === 0 ? hub.id : '',
      };
    });
    return { rows, text: toCsv(rows, { columns: ['school_id', ...order], eol, bom }) };
  });

function count<T>(items: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Every child of every parent, as [parent, child] pairs. */
function edges(reg: Registry): { level: string; parent: string; child: string }[] {
  const out: { level: string; parent: string; child: string }[] = [];
  for (const map of [reg.provinces, reg.cities, reg.counties]) {
    for (const r of map.values()) for (const c of r.children) out.push({ level: r.level, parent: r.code, child: c });
  }
  return out;
}

describe('collector/registry hierarchy (property)', () => {
  it('for any valid registry, every school appears under exactly one county, and each level\'s child lists partition the level below', () => {
    fc.assert(
      fc.property(arbRegistryCsv, ({ rows, text }) => {
        const reg = parseRegistry(text);
        expect(reg.schools.size).to.equal(rows.length);
        const all = edges(reg);

        // Schools: each exactly once, under the county of its record.
        const schoolEdges = all.filter((e) => e.level === 'county');
        const perSchool = count(schoolEdges.map((e) => e.child));
        expect([...perSchool.keys()].sort()).to.deep.equal([...reg.schools.keys()].sort());
        expect([...perSchool.values()].every((n) => n === 1)).to.equal(true);
        for (const e of schoolEdges) expect(reg.get(e.child)?.countyCode).to.equal(e.parent);

        // Counties under cities, cities under provinces, provinces under national: each exactly once, under its parent.
        for (const [level, below] of [['city', reg.counties], ['province', reg.cities]] as const) {
          const levelEdges = all.filter((e) => e.level === level);
          const perChild = count(levelEdges.map((e) => e.child));
          expect([...perChild.keys()].sort()).to.deep.equal([...below.keys()].sort());
          expect([...perChild.values()].every((n) => n === 1)).to.equal(true);
          for (const e of levelEdges) expect(below.get(e.child)?.parent).to.equal(e.parent);
        }
        expect([...reg.national.children].sort()).to.deep.equal([...reg.provinces.keys()].sort());

        // Counts add up at every level.
        const sum = (codes: readonly string[], map: ReadonlyMap<string, { schoolCount: number }>): number =>
          codes.reduce((n, c) => n + (map.get(c)?.schoolCount ?? NaN), 0);
        for (const c of reg.cities.values()) expect(sum(c.children, reg.counties)).to.equal(c.schoolCount);
        for (const p of reg.provinces.values()) expect(sum(p.children, reg.cities)).to.equal(p.schoolCount);
        expect(sum(reg.national.children, reg.provinces)).to.equal(reg.schools.size);

        // Each record holds what its row said.
        rows.forEach((r, i) => {
          const s = reg.get(r.school_id ?? '');
          expect(s).to.deep.include({
            name: r.school_name?.trim(),
            type: r.school_type || 'other',
            linkType: r.link_type,
            contractedMbps: Number(r.contracted_mbps),
            lat: Number(r.lat),
            lon: Number(r.lon),
            hubSchoolId: r.hub_school_id || null,
          });
          expect(reg.tagsFor(r.school_id ?? '')).to.deep.equal({
            school: r.school_id, province: r.province_code, city: r.city_code, county: r.county_code, link: r.link_type,
          });
          expect(s?.line).to.equal(i + 2);
        });
      }),
      { numRuns: 200 },
    );
  });
});
