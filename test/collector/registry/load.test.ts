import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LINK_TYPES,
  MAX_LISTED_PROBLEMS,
  RegistryError,
  loadRegistry,
  parseRegistry,
  type ColumnName,
} from '../../../collector/registry/index.js';
import { problemsOf, registryError, school, toCsv, zaduo, type Row } from './fixtures.js';

const EXAMPLE = 'config/schools.example.csv';

/** Two good rows (lines 2 and 3), then `bad` on line 4. */
function withBadRow(bad: Partial<Record<ColumnName, string>>): string {
  return toCsv([school(1), school(2), school(3, bad)]);
}

describe('collector/registry', () => {
  describe('the example registry', () => {
    it('loadRegistry() reads config/schools.example.csv: at least 40 schools in Ningxia and Qinghai', () => {
      const reg = loadRegistry(EXAMPLE);
      expect(reg.schools.size).to.be.at.least(40);
      expect(reg.national.children).to.deep.equal(['630000', '640000']);
      expect(reg.provinces.get('640000')?.name).to.equal('宁夏回族自治区');
      expect(reg.cities.get('632700')?.name).to.equal('玉树藏族自治州');
      expect(reg.counties.get('632722')?.name).to.equal('杂多县');
      expect(reg.source).to.equal(EXAMPLE);
    });

    it('has varied first 20 schools (the demo uses them): both provinces, several link and school types', () => {
      const first = [...loadRegistry(EXAMPLE).schools.values()].slice(0, 20);
      expect(new Set(first.map((s) => s.provinceCode))).to.have.property('size', 2);
      expect(new Set(first.map((s) => s.linkType)).size).to.be.at.least(5);
      expect(new Set(first.map((s) => s.type)).size).to.be.at.least(4);
      expect(first.some((s) => s.hubSchoolId !== null)).to.equal(true);
    });

    it('pairs every teaching point that has a hub with a school of the same county, on 2-20 Mbps', () => {
      const reg = loadRegistry(EXAMPLE);
      for (const s of reg.schools.values()) {
        if (s.type === 'teaching-point') expect(s.contractedMbps, s.id).to.be.within(2, 20);
        if (s.hubSchoolId !== null) expect(reg.get(s.hubSchoolId)?.countyCode, s.id).to.equal(s.countyCode);
      }
    });

    it('uses every link type', () => {
      const used = new Set([...loadRegistry(EXAMPLE).schools.values()].map((s) => s.linkType));
      expect([...used].sort()).to.deep.equal(LINK_TYPES.filter((t) => t !== 'other').sort());
    });
  });

  describe('parseRegistry() on valid input', () => {
    it('turns each row into a typed record with numbers, the hub id or null, and its line', () => {
      const reg = parseRegistry(toCsv([school(1), zaduo(101, { hub_school_id: '1632722001' }), zaduo(1)]));
      expect(reg.get('1640104001')).to.deep.equal({
        id: '1640104001',
        name: '银川市兴庆区第1小学',
        type: 'primary',
        provinceCode: '640000',
        cityCode: '640100',
        countyCode: '640104',
        linkType: 'fiber',
        contractedMbps: 300,
        students: 1200,
        classrooms: 30,
        lat: 38.47,
        lon: 106.28,
        hubSchoolId: null,
        line: 2,
      });
      expect(reg.get('1632722101')).to.include({ hubSchoolId: '1632722001', linkType: 'sat-geo', contractedMbps: 8, line: 3 });
      expect(reg.get('9999999999')).to.equal(undefined);
    });

    it('keeps the schools map in file order', () => {
      const reg = parseRegistry(toCsv([school(3), zaduo(1), school(1)]));
      expect([...reg.schools.keys()]).to.deep.equal(['1640104003', '1632722001', '1640104001']);
    });

    it('accepts a leading BOM and CRLF line ends, and still counts lines from 1', () => {
      const text = toCsv([school(1), school(2, { lat: '99' })], { bom: true, eol: '\r\n' });
      expect(problemsOf(text)).to.deep.equal([
        { line: 3, column: 'lat', message: 'must be a WGS-84 latitude in China, between 3 and 54 degrees, got "99"' },
      ]);
      const ok = parseRegistry(toCsv([school(1), school(2)], { bom: true, eol: '\r\n' }));
      expect(ok.schools.size).to.equal(2);
      expect(ok.get('1640104002')?.line).to.equal(3);
    });

    it('accepts columns after school_id in any order, and ignores columns starting with x_', () => {
      const columns = ['school_id', 'x_note', 'lon', 'lat', 'county_name', 'county_code', 'city_name', 'city_code', 'province_name',
        'province_code', 'link_type', 'classrooms', 'students', 'contracted_mbps', 'school_name'];
      const reg = parseRegistry(toCsv([school(1, { x_note: '备注, anything' })], { columns }));
      expect(reg.get('1640104001')).to.include({ lat: 38.47, lon: 106.28, type: 'other', hubSchoolId: null });
    });

    it('accepts upper-case header names and enum values, and trims spaces around values', () => {
      const text = 'SCHOOL_ID,School_Name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon\n' +
        ' 1640104001 , 第一小学 ,Primary,640000,宁夏回族自治区,640100,银川市,640104,兴庆区,SAT-GEO, 2.5 ,0,0, 38.5,106.3\n';
      expect(parseRegistry(text).get('1640104001')).to.include({ name: '第一小学', type: 'primary', linkType: 'sat-geo', contractedMbps: 2.5, students: 0 });
    });

    it('defaults school_type to other when the cell is empty', () => {
      expect(parseRegistry(toCsv([school(1, { school_type: '' })])).get('1640104001')?.type).to.equal('other');
    });

    it('skips blank lines and rows whose cells are all empty (spreadsheets append them), keeping line numbers', () => {
      const text = `${toCsv([school(1)])}\n,,,,,,,,,,,,,,,\n${toCsv([school(2, { students: 'many' })]).split('\n')[1]}\n\n`;
      expect(problemsOf(text)).to.deep.equal([{ line: 5, column: 'students', message: 'must be an integer >= 0, got "many"' }]);
    });

    it('accepts quoted values with commas and doubled quotes', () => {
      const reg = parseRegistry(toCsv([school(1, { school_name: '兴庆区"第一"小学,东校区' })]));
      expect(reg.get('1640104001')?.name).to.equal('兴庆区"第一"小学,东校区');
    });

    it('counts the physical lines of a quoted value with line breaks, so later rows keep their line numbers', () => {
      const text = toCsv([school(1, { school_name: '第一\r\n小学' }), school(2, { classrooms: '-3' })], { eol: '\r\n' });
      expect(problemsOf(text)).to.deep.equal([
        { line: 2, column: 'school_name', message: 'must be a name of 1-100 characters without tabs, line breaks or control characters, got "第一\\r\\n小学"' },
        { line: 4, column: 'classrooms', message: 'must be an integer >= 0, got "-3"' },
      ]);
    });
  });

  describe('parseRegistry() column rules', () => {
    const cases: [ColumnName, string, string][] = [
      ['school_id', '164010400', 'must be a 10-digit school identification code, got "164010400"'],
      ['school_id', '16401O4001', 'must be a 10-digit school identification code, got "16401O4001"'],
      ['school_id', '', 'must not be empty'],
      ['school_name', '', 'must not be empty'],
      ['school_name', 'a\tb', 'must be a name of 1-100 characters without tabs, line breaks or control characters, got "a\\tb"'],
      ['school_name', '校'.repeat(101), `must be a name of 1-100 characters without tabs, line breaks or control characters, got "${'校'.repeat(57)}..."`],
      ['school_type', 'college', 'must be one of primary, secondary, nine-year, teaching-point, other, got "college"'],
      ['province_code', '64000', 'must be a 6-digit GB/T 2260 province code ending in 0000, got "64000"'],
      ['province_code', '640100', 'must be a 6-digit GB/T 2260 province code ending in 0000, got "640100"'],
      ['province_code', '000000', 'must be a 6-digit GB/T 2260 province code ending in 0000, got "000000"'],
      ['province_name', '', 'must not be empty'],
      ['city_code', '640101', 'must be a 6-digit GB/T 2260 city code ending in 00 (or the province code, civil-affairs style), got "640101"'],
      ['city_name', '', 'must not be empty'],
      ['county_code', '640000', 'must be a 6-digit GB/T 2260 county code not ending in 0000 (a city without counties: the city code), got "640000"'],
      ['county_code', '６４０１０４', 'must be a 6-digit GB/T 2260 county code not ending in 0000 (a city without counties: the city code), got "６４０１０４"'],
      ['county_name', '', 'must not be empty'],
      ['link_type', 'adsl', 'must be one of fiber, dsl, cellular, microwave, sat-geo, sat-leo, other, got "adsl"'],
      ['link_type', '', 'must not be empty'],
      ['contracted_mbps', 'abc', 'must be a number > 0, got "abc"'],
      ['contracted_mbps', '0', 'must be a number > 0, got "0"'],
      ['contracted_mbps', '-5', 'must be a number > 0, got "-5"'],
      ['contracted_mbps', '1e3', 'must be a number > 0, got "1e3"'],
      ['students', '-1', 'must be an integer >= 0, got "-1"'],
      ['students', '12.5', 'must be an integer >= 0, got "12.5"'],
      ['classrooms', '', 'must not be empty'],
      ['lat', '60', 'must be a WGS-84 latitude in China, between 3 and 54 degrees, got "60"'],
      ['lat', 'N38', 'must be a WGS-84 latitude in China, between 3 and 54 degrees, got "N38"'],
      ['lon', '140.5', 'must be a WGS-84 longitude in China, between 73 and 136 degrees, got "140.5"'],
      ['lon', '-106.28', 'must be a WGS-84 longitude in China, between 73 and 136 degrees, got "-106.28"'],
      ['hub_school_id', '123', 'must be a 10-digit school identification code, got "123"'],
    ];
    for (const [column, value, message] of cases) {
      it(`parseRegistry() reports line 4 column ${column} when it is ${JSON.stringify(value.length > 12 ? `${value.slice(0, 12)}…` : value)}`, () => {
        expect(problemsOf(withBadRow({ [column]: value }))).to.deep.equal([{ line: 4, column, message }]);
      });
    }

    it('says when lat and lon look swapped', () => {
      expect(problemsOf(withBadRow({ lat: '106.28', lon: '38.47' }))).to.deep.equal([
        { line: 4, column: 'lat', message: 'must be a WGS-84 latitude in China, between 3 and 54 degrees, got "106.28" (lat and lon look swapped: lon is 38.47)' },
      ]);
    });
  });

  describe('parseRegistry() consistency rules', () => {
    it('reports line 4 column city_code when the city does not start with the province\'s 2 digits', () => {
      expect(problemsOf(withBadRow({ city_code: '630100' }))).to.deep.equal([
        { line: 4, column: 'city_code', message: 'must start with the province code\'s 2 digits (64), got "630100"' },
      ]);
    });

    it('reports line 4 column county_code when the county does not start with the city\'s 4 digits', () => {
      expect(problemsOf(withBadRow({ county_code: '640204' }))).to.deep.equal([
        { line: 4, column: 'county_code', message: 'must start with the city code\'s 4 digits (6401), got "640204"' },
      ]);
    });

    for (const [column, value, code, first] of [
      ['province_name', '宁夏', '640000', '宁夏回族自治区'],
      ['city_name', '银川', '640100', '银川市'],
      ['county_name', '兴庆', '640104', '兴庆区'],
    ] as const) {
      it(`reports line 4 column ${column} when the same code had another name on line 2`, () => {
        expect(problemsOf(withBadRow({ [column]: value }))).to.deep.equal([
          { line: 4, column, message: `code ${code} is named "${first}" on line 2, got "${value}"` },
        ]);
      });
    }

    it('allows the same name for different codes (many counties are called 城关 or 城区)', () => {
      const reg = parseRegistry(toCsv([school(1), school(2, { county_code: '640105', county_name: '兴庆区' })]));
      expect(reg.counties.size).to.equal(2);
    });

    it('reports a duplicate school id on the later line, naming the first', () => {
      expect(problemsOf(toCsv([school(1), school(2), school(1, { school_name: 'again' })]))).to.deep.equal([
        { line: 4, column: 'school_id', message: 'duplicate school id 1640104001, first on line 2' },
      ]);
    });

    it('reports a duplicate id even when the first row had other problems', () => {
      expect(problemsOf(toCsv([school(1, { students: 'x' }), school(1)]))).to.deep.equal([
        { line: 2, column: 'students', message: 'must be an integer >= 0, got "x"' },
        { line: 3, column: 'school_id', message: 'duplicate school id 1640104001, first on line 2' },
      ]);
    });

    it('reports hub_school_id naming a school that is not in the registry', () => {
      expect(problemsOf(withBadRow({ hub_school_id: '1640104099' }))).to.deep.equal([
        { line: 4, column: 'hub_school_id', message: 'must name a school of the registry, got "1640104099" which is not in it: the school is kept without its hub' },
      ]);
    });

    it('reports hub_school_id naming the school itself', () => {
      expect(problemsOf(withBadRow({ hub_school_id: '1640104003' }))).to.deep.equal([
        { line: 4, column: 'hub_school_id', message: 'must name another school, not the school itself, got "1640104003"' },
      ]);
    });

    it('accepts a hub school defined further down the file', () => {
      const reg = parseRegistry(toCsv([zaduo(101, { hub_school_id: '1632722001' }), zaduo(1)]));
      expect(reg.get('1632722101')?.hubSchoolId).to.equal('1632722001');
    });

    it('keeps a school whose hub row was refused, without the hub, and says so', () => {
      const text = toCsv([zaduo(101, { hub_school_id: '1632722001' }), zaduo(1, { lon: '200' })]);
      expect(problemsOf(text).map((p) => [p.line, p.column, p.message.replace(/,.*/, '')])).to.deep.equal([
        [2, 'hub_school_id', 'names school 1632722001'],
        [3, 'lon', 'must be a WGS-84 longitude in China'],
      ]);
      expect(parseRegistry(text).get('1632722101')?.hubSchoolId).to.equal(null);
    });
  });

  describe('parseRegistry() header and file problems', () => {
    it('reports an unknown column on line 1 and suggests the closest known one', () => {
      const columns = ['school_id', 'school_name', 'province_code', 'province_name', 'city_code', 'city_name', 'county_code', 'county_name',
        'link_type', 'contracted_mbs', 'students', 'classrooms', 'lat', 'lon'];
      const problems = problemsOf(toCsv([school(1, { contracted_mbs: '100' })], { columns }));
      expect(problems).to.deep.include({
        line: 1,
        column: 'contracted_mbs',
        message: 'unknown column (did you mean contracted_mbps?); columns starting with x_ are ignored, others must be known',
      });
      expect(problems).to.deep.include({ line: 1, column: 'contracted_mbps', message: 'required column is missing from the header' });
      expect(problems).to.have.length(2);
    });

    it('still checks the rows when the header lacks a required column', () => {
      const columns = ['school_id', 'school_name', 'province_code', 'province_name', 'city_code', 'city_name', 'county_code', 'county_name',
        'link_type', 'contracted_mbps', 'students', 'classrooms', 'lat'];
      expect(problemsOf(toCsv([school(1), school(2, { lat: '0' })], { columns }))).to.deep.equal([
        { line: 1, column: 'lon', message: 'required column is missing from the header' },
        { line: 3, column: 'lat', message: 'must be a WGS-84 latitude in China, between 3 and 54 degrees, got "0"' },
      ]);
    });

    it('requires school_id to be the first column', () => {
      const columns = ['school_name', 'school_id', 'province_code', 'province_name', 'city_code', 'city_name', 'county_code', 'county_name',
        'link_type', 'contracted_mbps', 'students', 'classrooms', 'lat', 'lon'];
      expect(problemsOf(toCsv([school(1)], { columns }))).to.deep.equal([
        { line: 1, column: 'school_id', message: 'must be the first column of the header, it is column 2' },
      ]);
    });

    it('reports a column that appears twice, and a header cell without a name', () => {
      const columns = ['school_id', 'school_name', 'province_code', 'province_name', 'city_code', 'city_name', 'county_code', 'county_name',
        'link_type', 'contracted_mbps', 'students', 'classrooms', 'lat', 'lon', 'lat', ''];
      expect(problemsOf(toCsv([school(1)], { columns }))).to.deep.equal([
        { line: 1, column: 'lat', message: 'appears twice in the header (columns 13 and 15)' },
        { line: 1, column: null, message: 'header column 16 has no name (delete the empty column, or name it x_something to keep it)' },
      ]);
    });

    it('says so when the file is separated by semicolons', () => {
      const text = toCsv([school(1)]).replaceAll(',', ';');
      expect(problemsOf(text)).to.deep.equal([
        { line: 1, column: null, message: 'the header has a single column split by ";": save the file as comma-separated CSV' },
      ]);
    });

    it('reports a row with the wrong number of fields once, with a hint for unquoted commas', () => {
      const good = toCsv([school(1)]);
      const text = `${good}${toCsv([school(2)]).split('\n')[1]},extra\n${toCsv([school(3)]).split('\n')[1]?.replace(/,[^,]*$/, '')}\n`;
      expect(problemsOf(text)).to.deep.equal([
        { line: 3, column: null, message: 'has 17 fields, the header has 16 (a value containing a comma must be in double quotes)' },
        { line: 4, column: null, message: 'has 15 fields, the header has 16' },
      ]);
    });

    it('reports text after a closing quote in the column it is in', () => {
      const text = `${toCsv([school(1)])}${toCsv([school(2)]).split('\n')[1]?.replace('银川市兴庆区第2小学', '"第2"小学')}\n`;
      expect(problemsOf(text)).to.deep.equal([
        { line: 3, column: 'school_name', message: 'unexpected text after a closing quote (a quote inside a quoted value must be doubled: "")' },
      ]);
    });

    it('reports a quote that is never closed on the line it opens', () => {
      const text = `${toCsv([school(1), school(2)])}1640104003,"unclosed,primary\n${toCsv([school(4)]).split('\n')[1]}\n`;
      expect(problemsOf(text)).to.deep.equal([
        { line: 4, column: 'school_name', message: 'a quoted value starts on this line and is never closed (the rest of the file is inside it)' },
      ]);
    });

    it('reports an empty file, and a header without rows', () => {
      expect(problemsOf('')).to.deep.equal([{ line: null, column: null, message: 'the file is empty: expected a header row starting with school_id' }]);
      expect(problemsOf('\uFEFF\r\n\r\n')).to.have.length(1);
      expect(problemsOf(toCsv([]))).to.deep.equal([{ line: null, column: null, message: 'the file has a header but no schools' }]);
    });
  });

  describe('RegistryError', () => {
    it('parseRegistry() refuses only the bad rows of a file and lists each one, keeping every other school', () => {
      const text = toCsv([
        school(1),
        school(2, { contracted_mbps: 'abc', lat: '1' }),
        school(3),
        school(4, { hub_school_id: '1640104099' }),
        school(5, { link_type: 'adsl' }),
        school(6, { county_code: '640204' }),
      ]);
      const reg = parseRegistry(text, { source: 'schools.csv' });
      expect([...reg.schools.keys()]).to.deep.equal(['1640104001', '1640104003', '1640104004']);
      expect(reg.extra.refusedRows).to.equal(3);
      expect(reg.extra.problemTotal).to.equal(5);
      expect(reg.extra.problems.map((p) => `${p.line} ${p.column}: ${p.message}`)).to.deep.equal([
        '3 contracted_mbps: must be a number > 0, got "abc"',
        '3 lat: must be a WGS-84 latitude in China, between 3 and 54 degrees, got "1"',
        '5 hub_school_id: must name a school of the registry, got "1640104099" which is not in it: the school is kept without its hub',
        '6 link_type: must be one of fiber, dsl, cellular, microwave, sat-geo, sat-leo, other, got "adsl"',
        '7 county_code: must start with the city code\'s 4 digits (6401), got "640204"',
      ]);
    });

    it('lists every problem of several bad rows in one error, sorted by line, formatted source:line column name: message, when no row loads', () => {
      const text = toCsv([
        school(2, { contracted_mbps: 'abc', lat: '1' }),
        school(5, { link_type: 'adsl' }),
        school(6, { county_code: '640204' }),
      ]);
      const err = registryError(text);
      expect(err.total).to.equal(4);
      expect(err.message).to.equal(
        [
          'invalid schools registry schools.csv (4 problems):',
          '  schools.csv:2 column contracted_mbps: must be a number > 0, got "abc"',
          '  schools.csv:2 column lat: must be a WGS-84 latitude in China, between 3 and 54 degrees, got "1"',
          '  schools.csv:3 column link_type: must be one of fiber, dsl, cellular, microwave, sat-geo, sat-leo, other, got "adsl"',
          '  schools.csv:4 column county_code: must start with the city code\'s 4 digits (6401), got "640204"',
        ].join('\n'),
      );
      expect(err.name).to.equal('RegistryError');
      expect(err.source).to.equal('schools.csv');
    });

    it(`lists the first ${MAX_LISTED_PROBLEMS} problems in the message and counts the rest`, () => {
      const rows: Row[] = Array.from({ length: 120 }, (_, i) => school(i + 1, { students: '-1' }));
      const err = registryError(toCsv(rows));
      expect(err.total).to.equal(120);
      expect(err.problems).to.have.length(120);
      const lines = err.message.split('\n');
      expect(lines).to.have.length(1 + MAX_LISTED_PROBLEMS + 1);
      expect(lines[0]).to.equal('invalid schools registry schools.csv (120 problems):');
      expect(lines.at(-1)).to.equal('  ... and 70 more problems');
    });

    it('keeps at most 1000 problems but counts them all', () => {
      const rows: Row[] = Array.from({ length: 600 }, (_, i) => school(i + 1, { students: '-1', classrooms: '-1' }));
      const err = registryError(toCsv(rows));
      expect(err.total).to.equal(1200);
      expect(err.problems).to.have.length(1000);
    });
  });

  describe('Registry lookups', () => {
    const reg = parseRegistry(toCsv([
      school(2),
      zaduo(101, { hub_school_id: '1632722001' }),
      school(1),
      zaduo(1),
      school(3, { county_code: '640106', county_name: '金凤区', link_type: 'dsl' }),
      school(4, { city_code: '640400', city_name: '固原市', county_code: '640402', county_name: '原州区' }),
    ]));

    it('tagsFor() gives the school, province, city and county codes and the link type', () => {
      expect(reg.tagsFor('1632722101')).to.deep.equal({ school: '1632722101', province: '630000', city: '632700', county: '632722', link: 'sat-geo' });
      expect(reg.tagsFor('1640104003')).to.deep.equal({ school: '1640104003', province: '640000', city: '640100', county: '640106', link: 'dsl' });
    });

    it('tagsFor() is undefined for a school that is not registered', () => {
      expect(reg.tagsFor('1234567890')).to.equal(undefined);
    });

    it('lists each level\'s children sorted by code, with parents and school counts', () => {
      expect(reg.national).to.deep.equal({
        level: 'national', code: null, name: '全国', parent: null, childLevel: 'province', children: ['630000', '640000'], schoolCount: 6,
      });
      expect(reg.region('640000')).to.deep.equal({
        level: 'province', code: '640000', name: '宁夏回族自治区', parent: null, childLevel: 'city', children: ['640100', '640400'], schoolCount: 4,
      });
      expect(reg.region('640100')).to.deep.equal({
        level: 'city', code: '640100', name: '银川市', parent: '640000', childLevel: 'county', children: ['640104', '640106'], schoolCount: 3,
      });
      expect(reg.region('640104')).to.deep.equal({
        level: 'county', code: '640104', name: '兴庆区', parent: '640100', childLevel: 'school', children: ['1640104001', '1640104002'], schoolCount: 2,
      });
      expect(reg.region('632722')?.children).to.deep.equal(['1632722001', '1632722101']);
      expect(reg.region('640500')).to.equal(undefined);
    });

    it('freezes the hierarchy', () => {
      expect(Object.isFrozen(reg.region('640104'))).to.equal(true);
      expect(Object.isFrozen(reg.region('640104')?.children)).to.equal(true);
    });
  });

  describe('loadRegistry()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'campuslink-registry-'));

    it('reports problems against the path it was given', () => {
      const path = join(dir, 'bad.csv');
      writeFileSync(path, toCsv([school(1, { lon: '200' })]));
      expect(() => loadRegistry(path)).to.throw(RegistryError, `${path}:2 column lon: must be a WGS-84 longitude`);
    });

    it('reports a file that cannot be read as a RegistryError', () => {
      const path = join(dir, 'missing.csv');
      expect(() => loadRegistry(path)).to.throw(RegistryError, `${path}: cannot read the file: ENOENT`);
    });

    it('reports a file that is not UTF-8 (a spreadsheet saving GBK) with the line of the first bad byte', () => {
      const path = join(dir, 'gbk.csv');
      const utf8 = toCsv([school(1), school(2)]);
      // 兴庆 in GBK is D0 CB C7 EC; put GBK bytes into line 3's name.
      const [head, line2, line3] = utf8.split('\n');
      const bytes = Buffer.concat([
        Buffer.from(`${head}\n${line2}\n`),
        Buffer.from((line3 ?? '').replace('银川市兴庆区第2小学', '@')).subarray(0, 11),
        Buffer.from([0xd0, 0xcb, 0xc7, 0xec]),
        Buffer.from((line3 ?? '').replace('银川市兴庆区第2小学', '@')).subarray(12),
        Buffer.from('\n'),
      ]);
      writeFileSync(path, bytes);
      const err = registryErrorOf(() => loadRegistry(path));
      expect(err.problems).to.deep.equal([
        { line: 3, column: null, message: 'is not valid UTF-8 (spreadsheets on Chinese Windows save "CSV" as GBK: save as "CSV UTF-8" instead)' },
      ]);
    });

    it('reads a UTF-8 file with a BOM and CRLF line ends', () => {
      const path = join(dir, 'bom.csv');
      writeFileSync(path, toCsv([school(1), zaduo(1)], { bom: true, eol: '\r\n' }));
      expect([...loadRegistry(path).schools.keys()]).to.deep.equal(['1640104001', '1632722001']);
      expect(readFileSync(path)[0]).to.equal(0xef);
    });
  });
});

function registryErrorOf(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(RegistryError);
    return e as RegistryError;
  }
  expect.fail('did not throw');
}
