/**
 * A registry as a few flat arrays and two strings, to hand a registry parsed in a worker thread to the
 * main thread. Why not structured-clone the `Registry`: 250,000 school objects are deserialized in one
 * piece when the message arrives (one long block of the event loop), and every code string of every
 * school is copied apart. Here the numbers travel as transferred buffers (no copy), the codes once
 * per county, and the main thread rebuilds the school objects slice by slice (`decodeRegistry` is a
 * generator: the caller yields to the event loop between its steps, see `slices.ts`).
 *
 * `decodeRegistry(encodeRegistry(r))` is deep-equal to `r`.
 */
import type { AliasTable } from './aliases.js';
import type { RegistryProblem } from './errors.js';
import { Registry, nationalLevel, type City, type County, type Province } from './registry.js';
import { LINK_TYPES, SCHOOL_TYPES, type School } from './schema.js';

/** A province or city: small, sent as is. */
interface RegionRecord {
  readonly code: string;
  readonly name: string;
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly schoolCount: number;
}

/** A county without its school list (that is in `countySchools`). */
interface CountyRecord {
  readonly code: string;
  readonly name: string;
  readonly parent: string;
  readonly schoolCount: number;
}

/** Numbers kept per school in `numbers`, in this order. */
const NUMBERS = 6;

/** The wire form of a registry (plain data: structured-clone safe, its buffers transferable). */
export interface CompactRegistry {
  readonly source: string;
  readonly count: number;
  /** Every school id in file order, concatenated; `idEnds[i]` is where the i-th ends. */
  readonly ids: string;
  readonly idEnds: Uint32Array;
  readonly names: string;
  readonly nameEnds: Uint32Array;
  /** Index into SCHOOL_TYPES and LINK_TYPES. */
  readonly types: Uint8Array;
  readonly links: Uint8Array;
  /** Per school, the index of its [provinceCode, cityCode, countyCode] triple in `places`. */
  readonly place: Uint32Array;
  readonly places: readonly string[];
  /** contractedMbps, students, classrooms, lat, lon, line: NUMBERS per school. */
  readonly numbers: Float64Array;
  /** The index of the hub school, or -1. */
  readonly hubs: Int32Array;
  readonly provinces: readonly RegionRecord[];
  readonly cities: readonly RegionRecord[];
  /** In the registry's (code) order. */
  readonly counties: readonly CountyRecord[];
  /** The school indices of every county in `counties` order, concatenated (`schoolCount` each). */
  readonly countySchools: Uint32Array;
  readonly problems: readonly RegistryProblem[];
  readonly problemTotal: number;
  readonly refusedRows: number;
  readonly edition: string | null;
}

/** The compact form and the buffers to transfer with it (postMessage's transfer list). */
export function encodeRegistry(reg: Registry): { compact: CompactRegistry; transfer: ArrayBuffer[] } {
  const count = reg.schools.size;
  const index = new Map<string, number>();
  const idEnds = new Uint32Array(count);
  const nameEnds = new Uint32Array(count);
  const types = new Uint8Array(count);
  const links = new Uint8Array(count);
  const place = new Uint32Array(count);
  const numbers = new Float64Array(count * NUMBERS);
  const hubs = new Int32Array(count);
  const ids: string[] = [];
  const names: string[] = [];
  const places: string[] = [];
  const placeIndex = new Map<string, number>();
  let idLen = 0;
  let nameLen = 0;
  let i = 0;
  for (const s of reg.schools.values()) {
    index.set(s.id, i);
    ids.push(s.id);
    names.push(s.name);
    idEnds[i] = idLen += s.id.length;
    nameEnds[i] = nameLen += s.name.length;
    types[i] = SCHOOL_TYPES.indexOf(s.type);
    links[i] = LINK_TYPES.indexOf(s.linkType);
    const key = `${s.provinceCode} ${s.cityCode} ${s.countyCode}`;
    let p = placeIndex.get(key);
    if (p === undefined) {
      p = places.length / 3;
      placeIndex.set(key, p);
      places.push(s.provinceCode, s.cityCode, s.countyCode);
    }
    place[i] = p;
    const n = i * NUMBERS;
    numbers[n] = s.contractedMbps;
    numbers[n + 1] = s.students;
    numbers[n + 2] = s.classrooms;
    numbers[n + 3] = s.lat;
    numbers[n + 4] = s.lon;
    numbers[n + 5] = s.line;
    i++;
  }
  i = 0;
  for (const s of reg.schools.values()) hubs[i++] = s.hubSchoolId === null ? -1 : (index.get(s.hubSchoolId) ?? -1);
  const counties: CountyRecord[] = [];
  const countySchools = new Uint32Array(count);
  let at = 0;
  for (const k of reg.counties.values()) {
    counties.push({ code: k.code, name: k.name, parent: k.parent, schoolCount: k.schoolCount });
    for (const id of k.children) countySchools[at++] = index.get(id) ?? 0;
  }
  const region = (r: Province | City): RegionRecord => ({ code: r.code, name: r.name, parent: r.parent, children: [...r.children], schoolCount: r.schoolCount });
  const compact: CompactRegistry = {
    source: reg.source,
    count,
    ids: ids.join(''),
    idEnds,
    names: names.join(''),
    nameEnds,
    types,
    links,
    place,
    places,
    numbers,
    hubs,
    provinces: [...reg.provinces.values()].map(region),
    cities: [...reg.cities.values()].map(region),
    counties,
    countySchools,
    problems: reg.extra.problems,
    problemTotal: reg.extra.problemTotal,
    refusedRows: reg.extra.refusedRows,
    edition: reg.extra.edition,
  };
  const transfer = [idEnds, nameEnds, types, links, place, numbers, hubs, countySchools].map((a) => a.buffer as ArrayBuffer);
  return { compact, transfer };
}

/** Schools rebuilt between two yields of `decodeRegistry`. */
const SCHOOLS_PER_STEP = 2_000;

/**
 * Rebuilds the registry from its compact form, yielding every few thousand schools so the caller can
 * give the event loop a turn; the generator's return value is the registry. `aliases` is the table
 * the worker parsed with (the main thread's own object: it is not sent).
 */
export function* decodeRegistry(c: CompactRegistry, aliases: AliasTable): Generator<void, Registry> {
  const ids: string[] = new Array<string>(c.count);
  for (let i = 0; i < c.count; i++) {
    ids[i] = c.ids.slice(i === 0 ? 0 : c.idEnds[i - 1], c.idEnds[i]);
    if (i % (SCHOOLS_PER_STEP * 5) === SCHOOLS_PER_STEP * 5 - 1) yield;
  }
  const built: School[] = new Array<School>(c.count);
  for (let i = 0; i < c.count; i++) {
    const p = (c.place[i] as number) * 3;
    const n = i * NUMBERS;
    const hub = c.hubs[i] as number;
    built[i] = {
      id: ids[i] as string,
      name: c.names.slice(i === 0 ? 0 : c.nameEnds[i - 1], c.nameEnds[i]),
      type: SCHOOL_TYPES[c.types[i] as number] as School['type'],
      provinceCode: c.places[p] as string,
      cityCode: c.places[p + 1] as string,
      countyCode: c.places[p + 2] as string,
      linkType: LINK_TYPES[c.links[i] as number] as School['linkType'],
      contractedMbps: c.numbers[n] as number,
      students: c.numbers[n + 1] as number,
      classrooms: c.numbers[n + 2] as number,
      lat: c.numbers[n + 3] as number,
      lon: c.numbers[n + 4] as number,
      hubSchoolId: hub < 0 ? null : (ids[hub] as string),
      line: c.numbers[n + 5] as number,
    };
    if (i % SCHOOLS_PER_STEP === SCHOOLS_PER_STEP - 1) yield;
  }
  const schools = new Map<string, School>();
  for (let i = 0; i < c.count; i++) {
    schools.set(ids[i] as string, built[i] as School);
    if (i % (SCHOOLS_PER_STEP * 5) === SCHOOLS_PER_STEP * 5 - 1) yield;
  }
  const counties = new Map<string, County>();
  let at = 0;
  for (const k of c.counties) {
    const children: string[] = new Array<string>(k.schoolCount);
    for (let j = 0; j < k.schoolCount; j++) children[j] = ids[c.countySchools[at++] as number] as string;
    counties.set(k.code, Object.freeze({ level: 'county', code: k.code, name: k.name, parent: k.parent, childLevel: 'school', children: Object.freeze(children), schoolCount: k.schoolCount }));
    if (at % SCHOOLS_PER_STEP < k.schoolCount) yield;
  }
  const cities = new Map<string, City>();
  for (const r of c.cities) {
    cities.set(r.code, Object.freeze({ level: 'city', code: r.code, name: r.name, parent: r.parent ?? '', childLevel: 'county', children: Object.freeze([...r.children]), schoolCount: r.schoolCount }));
  }
  const provinces = new Map<string, Province>();
  for (const r of c.provinces) {
    provinces.set(r.code, Object.freeze({ level: 'province', code: r.code, name: r.name, parent: null, childLevel: 'city', children: Object.freeze([...r.children]), schoolCount: r.schoolCount }));
  }
  return new Registry(c.source, schools, nationalLevel(provinces, schools.size), provinces, cities, counties, {
    problems: c.problems,
    problemTotal: c.problemTotal,
    refusedRows: c.refusedRows,
    aliases,
    edition: c.edition,
  });
}
