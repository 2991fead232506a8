import { expect } from 'chai';
import { AliasTable, BUILT_IN_ALIASES, bundledDivisions, decodeRegistry, encodeRegistry, parseRegistry, runAll, type Registry } from '../../../collector/registry/index.js';
import { realRegistryCsv } from '../../../bench/registry-divisions.bench.js';
import { school, toCsv, zaduo } from './fixtures.js';

/** The registry after a trip through the compact form, as the main thread receives it from the worker. */
function roundTrip(reg: Registry): Registry {
  const { compact } = encodeRegistry(reg);
  return runAll(decodeRegistry(structuredClone(compact), reg.extra.aliases)).registry;
}

describe('collector/registry/compact', () => {
  const aliases = new AliasTable(BUILT_IN_ALIASES);

  it('decodeRegistry(encodeRegistry(r)) equals r: hubs, two provinces, a refused row and a dropped hub', () => {
    const text = toCsv([
      school(1),
      zaduo(101, { hub_school_id: '1632722001' }),
      zaduo(1),
      school(2, { contracted_mbps: 'abc' }),
      school(3, { hub_school_id: '1640104002', students: '0' }),
    ]);
    const reg = parseRegistry(text, { source: 'schools.csv', aliases });
    expect(reg.extra.refusedRows).to.equal(1);
    expect(reg.get('1640104003')?.hubSchoolId).to.equal(null);
    const back = roundTrip(reg);
    expect(back).to.deep.equal(reg);
    expect([...back.schools.keys()]).to.deep.equal([...reg.schools.keys()]);
    expect(back.get('1632722101')?.hubSchoolId).to.equal('1632722001');
    expect(Object.isFrozen(back.counties.get('640104'))).to.equal(true);
    expect(back.extra.aliases).to.equal(aliases);
  });

  it('keeps folded counties, the code list edition and the school order of a registry checked against the list', () => {
    const divisions = bundledDivisions();
    const reg = parseRegistry(realRegistryCsv(7_000), { source: 'real.csv', divisions, aliases });
    const back = roundTrip(reg);
    expect(back).to.deep.equal(reg);
    expect(back.extra.edition).to.equal(divisions.edition);
    // 东城区 hangs directly under 北京 (a folded county): its schools' city tag is the county code.
    expect(back.provinces.get('110000')?.children).to.include('110101');
    expect(back.tagsFor([...back.counties.get('110101')!.children][0]!)).to.include({ city: '110101', county: '110101' });
  });

  it('decodeRegistry() rebuilds in many small steps, so a caller can yield to the event loop between them', () => {
    const reg = parseRegistry(realRegistryCsv(20_000), { source: 'real.csv', aliases });
    const steps = decodeRegistry(encodeRegistry(reg).compact, aliases);
    let n = 0;
    while (!steps.next().done) n++;
    expect(n).to.be.greaterThan(20);
  });

  it('decodeRegistry() against the registry in force counts what changed and reuses the schools that did not', () => {
    const before = parseRegistry(toCsv([school(1), school(2), school(3), zaduo(1)]), { source: 'schools.csv', aliases });
    const after = parseRegistry(toCsv([school(1), school(2, { students: '7' }), zaduo(1), school(4)]), { source: 'schools.csv', aliases });
    const { registry, diff } = runAll(decodeRegistry(encodeRegistry(after).compact, aliases, before));
    expect(diff).to.deep.equal({ added: 1, removed: 1, changed: 1 });
    expect(registry).to.deep.equal(after);
    expect(registry.get('1640104001')).to.equal(before.get('1640104001'));
    expect(registry.get('1640104002')).to.not.equal(before.get('1640104002'));
    // Same school on another line: a new object (its line is new), not a change.
    expect(registry.get('1632722001')).to.not.equal(before.get('1632722001'));
    expect(registry.get('1632722001')?.line).to.equal(4);
  });
});
