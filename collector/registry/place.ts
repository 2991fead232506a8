/**
 * Where a registry row's school is: its three codes checked against the official list (or, without
 * one, against the code structure), in either writing of the codes:
 *
 * - statistics style (the NBS list): 北京 东城区 is province 110000, city 110100 (市辖区), county 110101;
 *   仙桃市 is city 429000 (省直辖县级行政区划), county 429004;
 * - civil-affairs style (民政部): the placeholder city is left out and `city_code` is the province code
 *   (110000 / 110101, 420000 / 429004);
 * - a city without counties (东莞 441900): `county_code` is the city code.
 *
 * A county whose city is a placeholder, or is the city itself, is *folded*: it hangs directly under
 * the province and the school's `cityCode` (the city tag of its points) is the county code.
 */
import type { AliasTable } from './aliases.js';
import { NOT_COVERED, PLACEHOLDER_CITY_NAMES, type DivisionList } from './divisions.js';

/** The school's place after the check, with the names views show. */
export interface Place {
  readonly provinceCode: string;
  readonly provinceName: string;
  /** The city code, or the county code for a folded county. */
  readonly cityCode: string;
  /** The city's name; for a folded county the county's name. */
  readonly cityName: string;
  readonly countyCode: string;
  readonly countyName: string;
  readonly folded: boolean;
}

/** The codes and names of a row, as written. */
export interface PlaceInput {
  readonly pc: string;
  readonly pn: string;
  readonly cc: string;
  readonly cn: string;
  readonly kc: string;
  readonly kn: string;
}

/** A problem of the place, on one column. */
export interface PlaceProblem {
  readonly column: 'province_code' | 'province_name' | 'city_code' | 'city_name' | 'county_code' | 'county_name';
  readonly message: string;
}

/** Names match when equal or when one holds the other (宁夏 / 宁夏回族自治区, 兴庆 / 兴庆区). */
function sameName(a: string, b: string): boolean {
  return a === b || a.includes(b) || b.includes(a);
}

function retired(aliases: AliasTable, code: string, what: string): string | undefined {
  const c = aliases.change(code);
  if (!c) return undefined;
  const now = aliases.current(code);
  return `${what} ${code} (${c.fromName}) was abolished on ${c.date}: its area is now ${now}${now === c.to ? ` (${c.toName})` : ''}; use the new code`;
}

/** Checks the codes against the official list. */
export function placeFromList(row: PlaceInput, list: DivisionList, aliases: AliasTable): Place | PlaceProblem[] {
  const { pc, pn, cc, kc, kn } = row;
  if (NOT_COVERED[pc]) return [{ column: 'province_code', message: `${NOT_COVERED[pc]}: schools there cannot be registered (${list.edition})` }];
  const province = list.provinces.get(pc);
  if (province === undefined) return [{ column: 'province_code', message: `${pc} is not a province code of ${list.edition}` }];
  const county = list.counties.get(kc) ?? list.soleCounty(kc);
  if (county === undefined) {
    const why = retired(aliases, kc, 'county') ?? retired(aliases, cc, 'city');
    if (why) return [{ column: 'county_code', message: why }];
    if (list.cities.has(kc)) return [{ column: 'county_code', message: `${kc} is a city code (${list.cities.get(kc)}), not a county of it: give the county's code` }];
    return [{ column: 'county_code', message: `${kc} is not a county code of ${list.edition}` }];
  }
  const problems: PlaceProblem[] = [];
  if (county.provinceCode !== pc) {
    problems.push({ column: 'province_code', message: `county ${kc} (${county.name}) is in province ${county.provinceCode} (${list.provinces.get(county.provinceCode)}), got ${JSON.stringify(pc)}` });
  }
  // Statistics style names the list's city (placeholder included); civil-affairs style the province.
  const cityOk = cc === county.cityCode || (county.folded && (cc === pc || cc === kc || cc === county.code));
  if (!cityOk) {
    const alt = county.folded ? ` or the province code ${county.provinceCode}` : '';
    problems.push({ column: 'city_code', message: `county ${kc} (${county.name}) is in city ${county.cityCode} (${list.cities.get(county.cityCode)})${alt}, got ${JSON.stringify(cc)}` });
  }
  if (!sameName(pn, province)) problems.push({ column: 'province_name', message: `the code list names ${pc} ${JSON.stringify(province)}, got ${JSON.stringify(pn)}` });
  if (!sameName(kn, county.name)) {
    problems.push({ column: 'county_name', message: `the code list names ${kc} ${JSON.stringify(county.name)}, got ${JSON.stringify(kn)} (a wrong code, or a wrong name?)` });
  }
  if (problems.length) return problems;
  const cityName = county.folded ? county.name : (list.cities.get(county.cityCode) ?? county.name);
  // The list's county code, also when the row gave the city code of a city without counties (620200 → 620201).
  const code = county.code;
  return { provinceCode: pc, provinceName: province, cityCode: county.folded ? code : county.cityCode, cityName, countyCode: code, countyName: county.name, folded: county.folded };
}

/** Checks the code structure only (no list): the codes nest, placeholders and civil-affairs style fold. */
export function placeFromStructure(row: PlaceInput, aliases: AliasTable): Place | PlaceProblem[] {
  const { pc, pn, cc, cn, kc, kn } = row;
  const why = retired(aliases, kc, 'county') ?? retired(aliases, cc, 'city');
  if (why) return [{ column: 'county_code', message: why }];
  if (NOT_COVERED[pc]) return [{ column: 'province_code', message: `${NOT_COVERED[pc]}: schools there cannot be registered` }];
  if (!cc.startsWith(pc.slice(0, 2))) return [{ column: 'city_code', message: `must start with the province code's 2 digits (${pc.slice(0, 2)}), got ${JSON.stringify(cc)}` }];
  const civil = cc === pc;
  const countyless = kc === cc && !civil;
  if (!civil && !countyless && !kc.startsWith(cc.slice(0, 4))) {
    return [{ column: 'county_code', message: `must start with the city code's 4 digits (${cc.slice(0, 4)}), got ${JSON.stringify(kc)}` }];
  }
  if (civil && (!kc.startsWith(pc.slice(0, 2)) || kc.endsWith('00'))) {
    return [{ column: 'county_code', message: `must be a county of province ${pc} (not ending in 00), got ${JSON.stringify(kc)}` }];
  }
  if (kc.endsWith('00') && !countyless) return [{ column: 'county_code', message: `must not end in 00 unless it is the city code of a city without counties, got ${JSON.stringify(kc)}` }];
  const folded = civil || countyless || PLACEHOLDER_CITY_NAMES.includes(cn);
  return { provinceCode: pc, provinceName: pn, cityCode: folded ? kc : cc, cityName: folded ? kn : cn, countyCode: kc, countyName: kn, folded };
}
