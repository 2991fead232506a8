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
  /**
   * Every school id in file order, concatenated as UTF-16 code units; `idEnds[i]` is where the i-th
   * ends. Text travels as a buffer too: a string would be copied in one piece on arrival.
   */
  readonly ids: Uint16Array;
  readonly idEnds: Uint32Array;
  readonly names: Uint16Array;
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

function utf16(text: string): Uint16Array {
  const out = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The text of schools `from` to `to` (exclusive) as one string, and where it starts in `chars`. */
function textOf(chars: Uint16Array, ends: Uint32Array, from: number, to: number): { text: string; base: number } {
  const base = from === 0 ? 0 : (ends[from - 1] as number);
  const end = to === 0 ? 0 : (ends[to - 1] as number);
  const bytes = Buffer.from(chars.buffer, chars.byteOffset + base * 2, (end - base) * 2);
  return { text: bytes.toString('utf16le'), base };
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
    ids: utf16(ids.join('')),
    idEnds,
    names: utf16(names.join('')),
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
  const transfer = [compact.ids, idEnds, compact.names, nameEnds, types, links, place, numbers, hubs, countySchools].map((a) => a.buffer as ArrayBuffer);
  return { compact, transfer };
}

/** Schools rebuilt between two yields of `decodeRegistry`. */
const SCHOOLS_PER_STEP = 1_000;

/** The name of school `i`, straight from the UTF-16 buffer. */
function nameAt(c: CompactRegistry, i: number): string {
  return textOf(c.names, c.nameEnds, i, i + 1).text;
}

/** School `i` as an object. */
function schoolAt(c: CompactRegistry, i: number, ids: readonly string[]): School {
  const p = (c.place[i] as number) * 3;
  const n = i * NUMBERS;
  const hub = c.hubs[i] as number;
  return {
    id: ids[i] as string,
    name: nameAt(c, i),
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
}

/** Whether school `i` is `s` exactly (line included), compared in place: nothing is allocated. */
function unchanged(s: School, c: CompactRegistry, i: number, ids: readonly string[]): boolean {
  const p = (c.place[i] as number) * 3;
  const n = i * NUMBERS;
  const hub = c.hubs[i] as number;
  if (
    s.type !== SCHOOL_TYPES[c.types[i] as number] || s.linkType !== LINK_TYPES[c.links[i] as number] ||
    s.provinceCode !== c.places[p] || s.cityCode !== c.places[p + 1] || s.countyCode !== c.places[p + 2] ||
    s.contractedMbps !== c.numbers[n] || s.students !== c.numbers[n + 1] || s.classrooms !== c.numbers[n + 2] ||
    s.lat !== c.numbers[n + 3] || s.lon !== c.numbers[n + 4] || s.line !== c.numbers[n + 5] ||
    s.hubSchoolId !== (hub < 0 ? null : ids[hub])
  ) {
    return false;
  }
  const start = i === 0 ? 0 : (c.nameEnds[i - 1] as number);
  if (s.name.length !== (c.nameEnds[i] as number) - start) return false;
  for (let k = 0; k < s.name.length; k++) if (s.name.charCodeAt(k) !== c.names[start + k]) return false;
  return true;
}

/** Whether two versions of a school are the same registration (the row's line may differ). */
export function sameSchool(a: School, b: School): boolean {
  return (
    a.name === b.name && a.type === b.type && a.provinceCode === b.provinceCode && a.cityCode === b.cityCode &&
    a.countyCode === b.countyCode && a.linkType === b.linkType && a.contractedMbps === b.contractedMbps &&
    a.students === b.students && a.classrooms === b.classrooms && a.lat === b.lat && a.lon === b.lon &&
    a.hubSchoolId === b.hubSchoolId
  );
}

/** What changed from one registry to the next, in schools. */
export interface RegistryDiff {
  added: number;
  removed: number;
  changed: number;
}

/** A decoded registry and how it differs from the one it replaces. */
export interface Decoded {
  readonly registry: Registry;
  readonly diff: RegistryDiff;
}

/**
 * Rebuilds the registry from its compact form, yielding every few thousand schools so the caller can
 * give the event loop a turn; the generator's return value is the registry and its difference from
 * `previous`. `aliases` is the table the worker parsed with (the main thread's own object: it is
 * not sent). A school identical to its version in `previous` (line included) is that same object:
 * a reload that changes a few rows allocates a few schools, not 250,000 (less garbage to collect).
 */
export function* decodeRegistry(c: CompactRegistry, aliases: AliasTable, previous?: Registry): Generator<void, Decoded> {
  const diff: RegistryDiff = { added: 0, removed: 0, changed: 0 };
  let matched = 0;
  // Ids first (hubs may name a later school), each the string of the registry in force when the
  // school is in it: the freshly decoded one then dies young instead of surviving the whole decode.
  const ids: string[] = new Array<string>(c.count);
  const old: (School | undefined)[] = new Array<School | undefined>(c.count);
  for (let from = 0; from < c.count; from += SCHOOLS_PER_STEP) {
    const to = Math.min(c.count, from + SCHOOLS_PER_STEP);
    const { text, base } = textOf(c.ids, c.idEnds, from, to);
    for (let i = from; i < to; i++) {
      const fresh = text.slice((i === 0 ? 0 : (c.idEnds[i - 1] as number)) - base, (c.idEnds[i] as number) - base);
      const before = previous?.get(fresh);
      old[i] = before;
      ids[i] = before?.id ?? fresh;
    }
    yield;
  }
  const schools = new Map<string, School>();
  for (let from = 0; from < c.count; from += SCHOOLS_PER_STEP) {
    const to = Math.min(c.count, from + SCHOOLS_PER_STEP);
    for (let i = from; i < to; i++) {
      const before = old[i];
      if (before === undefined) diff.added++;
      else matched++;
      if (before !== undefined && unchanged(before, c, i, ids)) {
        schools.set(before.id, before);
        continue;
      }
      const school = schoolAt(c, i, ids);
      if (before !== undefined && !sameSchool(before, school)) diff.changed++;
      schools.set(school.id, school);
    }
    yield;
  }
  old.length = 0;
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
  diff.removed = (previous?.schools.size ?? 0) - matched;
  const registry = new Registry(c.source, schools, nationalLevel(provinces, schools.size), provinces, cities, counties, {
    problems: c.problems,
    problemTotal: c.problemTotal,
    refusedRows: c.refusedRows,
    aliases,
    edition: c.edition,
  });
  return { registry, diff };
}
