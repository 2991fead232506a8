/**
 * The loaded registry: schools by id, and the hierarchy national → province → city → county → school.
 * Built by `parseRegistry`/`loadRegistry` (load.ts); read-only afterwards.
 */
import { AliasTable } from './aliases.js';
import type { RegistryProblem } from './errors.js';
import type { LinkType, School } from './schema.js';

/** Fields every level of the hierarchy has. Child lists are sorted by code (schools by id). */
interface RegionFields {
  /** GB/T 2260 code. */
  readonly code: string;
  readonly name: string;
  /** Codes of the child regions, or ids of the schools for a county; sorted ascending. */
  readonly children: readonly string[];
  /** Schools under this region, at any depth. */
  readonly schoolCount: number;
}

/**
 * A province-level division (省/自治区/直辖市), code `NN0000`. Its `children` are city codes and the
 * codes of *folded* counties, which hang directly under the province: the districts of a municipality
 * (北京 东城区 110101), directly administered county-level units (仙桃市 429004) and cities without
 * counties (东莞市 441900). `region(child).level` tells which.
 */
export interface Province extends RegionFields {
  readonly level: 'province';
  /** Provinces hang under the national level, which has no code. */
  readonly parent: null;
  readonly childLevel: 'city';
}

/** A prefecture-level division (地级市/自治州/盟), code `NNNN00`. */
export interface City extends RegionFields {
  readonly level: 'city';
  /** The province code. */
  readonly parent: string;
  readonly childLevel: 'county';
}

/** A county-level division (区/县/县级市/旗), code `NNNNNN`. */
export interface County extends RegionFields {
  readonly level: 'county';
  /** The city code; the province code for a folded county. */
  readonly parent: string;
  readonly childLevel: 'school';
}

/** Any coded level of the hierarchy. */
export type Region = Province | City | County;

/** The top of the hierarchy: all provinces that have schools in the registry. */
export interface National {
  readonly level: 'national';
  readonly code: null;
  readonly name: '全国';
  readonly parent: null;
  readonly childLevel: 'province';
  /** Province codes, sorted. */
  readonly children: readonly string[];
  readonly schoolCount: number;
}

/** The tags the collector adds to every point of a school: codes, not names, so renames keep series. */
export interface SchoolTags {
  /** The school id. */
  school: string;
  /** Province code, e.g. `640000`. */
  province: string;
  /** City code, e.g. `640100`. */
  city: string;
  /** County code, e.g. `640104`. */
  county: string;
  /** The link type, e.g. `sat-geo`. */
  link: LinkType;
}

/** What a load found beside the schools: refused rows, the code list used, declared code changes. */
export interface RegistryExtra {
  /** Problems of rows that were refused, and of values dropped (a hub link), sorted by line; at most 1000. */
  readonly problems: readonly RegistryProblem[];
  /** All problems, also beyond those kept. */
  readonly problemTotal: number;
  /** Rows refused (each is listed in `problems`). */
  readonly refusedRows: number;
  readonly aliases: AliasTable;
  /** The official code list the rows were checked against, or null (code structure only). */
  readonly edition: string | null;
}

/** The national level over these provinces (in code order). */
export function nationalLevel(provinces: ReadonlyMap<string, Province>, schoolCount: number): National {
  return Object.freeze({ level: 'national', code: null, name: '全国', parent: null, childLevel: 'province', children: Object.freeze([...provinces.keys()]), schoolCount });
}

const NO_EXTRA: RegistryExtra = { problems: [], problemTotal: 0, refusedRows: 0, aliases: new AliasTable([]), edition: null };

/** The registry. Construct it through `parseRegistry` or `loadRegistry`, which validate first. */
export class Registry {
  constructor(
    /** The file (or label) it was read from. */
    readonly source: string,
    /** Every school by id, in file order. */
    readonly schools: ReadonlyMap<string, School>,
    readonly national: National,
    /** Provinces by code. */
    readonly provinces: ReadonlyMap<string, Province>,
    /** Cities by code. */
    readonly cities: ReadonlyMap<string, City>,
    /** Counties by code. */
    readonly counties: ReadonlyMap<string, County>,
    /** Refused rows, the code list and the alias table. */
    readonly extra: RegistryExtra = NO_EXTRA,
  ) {}

  /** The code in force for `code`: itself, or the successor a declared code change names. */
  resolve(code: string): string {
    return this.extra.aliases.current(code);
  }

  /** For a 404 about `code`: `; 410381 (偃师市) was replaced by 410307 on 2021-03-01`, or '' when it was not recoded. */
  replacedNote(code: string): string {
    const change = this.extra.aliases.change(code);
    return change ? `; ${code} (${change.fromName}) was replaced by ${this.resolve(code)} on ${change.date}` : '';
  }

  /** `code` and every older code whose points now count for it (the history of a recoded region). */
  historyCodes(code: string): readonly string[] {
    return [code, ...this.extra.aliases.predecessors(code)];
  }

  /** The school with this id, if registered. */
  get(id: string): School | undefined {
    return this.schools.get(id);
  }

  /** The province, city or county with this GB/T 2260 code, if any school is under it. */
  region(code: string): Region | undefined {
    return this.provinces.get(code) ?? this.cities.get(code) ?? this.counties.get(code);
  }

  /** The point tags of a school (a fresh object each call), or undefined if it is not registered. */
  tagsFor(id: string): SchoolTags | undefined {
    const s = this.schools.get(id);
    if (!s) return undefined;
    return { school: s.id, province: s.provinceCode, city: s.cityCode, county: s.countyCode, link: s.linkType };
  }
}
