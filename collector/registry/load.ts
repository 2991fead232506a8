/**
 * Reads the schools registry CSV (columns in schema.ts, prose in docs/registry.md) into a `Registry`.
 *
 * The whole file is checked before anything is returned: every problem of every row is collected
 * and thrown as one `RegistryError` (`COL_ERR_REGISTRY_INVALID`), each with its 1-based physical
 * line (header = line 1) and column. Rows whose cells are all empty (spreadsheets append them)
 * are skipped.
 */
import { readFileSync } from 'node:fs';
import { AliasTable, BUILT_IN_ALIASES } from './aliases.js';
import { readCsv, type CsvProblem } from './csv.js';
import type { DivisionList } from './divisions.js';
import { placeFromList, placeFromStructure, type Place, type PlaceInput, type PlaceProblem } from './place.js';
import { MAX_KEPT_PROBLEMS, RegistryError, type RegistryProblem } from './errors.js';
import { Registry, nationalLevel, type RegistryExtra, type City, type County, type Province } from './registry.js';
import {
  CHINA_BOUNDS,
  COLUMN_NAMES,
  COLUMNS,
  EXTRA_COLUMN_PREFIX,
  Invalid,
  got,
  type ColumnName,
  type ColumnSpec,
  type School,
} from './schema.js';

export interface ParseRegistryOptions {
  /** The name problems are reported against, e.g. `schools.csv`; default `<registry>`. */
  source?: string;
  /**
   * The official code list to validate and name regions from (`bundledDivisions()`); null or absent:
   * only the code structure is checked and names come from the rows (synthetic registries).
   */
  divisions?: DivisionList | null;
  /** Declared code changes; default the built-in table. */
  aliases?: AliasTable;
}

/** Problems found so far: all counted, the first `MAX_KEPT_PROBLEMS` kept. */
class Problems {
  readonly kept: RegistryProblem[] = [];
  total = 0;
  add(line: number | null, column: string | null, message: string): void {
    this.total++;
    if (this.kept.length < MAX_KEPT_PROBLEMS) this.kept.push({ line, column, message });
  }
}

/** A region while the file is read: first line seen, and children in file order. */
interface RegionDraft {
  readonly code: string;
  readonly name: string;
  /** The line that first named this code. */
  readonly line: number;
  readonly parent: string | null;
  /** A county directly under its province (placeholder city, or a city without counties). */
  readonly folded: boolean;
  /** School ids, for a county; filled from `parent` links for cities and provinces. */
  readonly children: string[];
}

/** What the header row says. */
interface Header {
  readonly line: number;
  /** Number of fields every row must have. */
  readonly width: number;
  /** Trimmed header cells, by field index (for naming the column of a syntax problem). */
  readonly names: readonly string[];
  /** Field index of each known column present. */
  readonly pos: Partial<Record<ColumnName, number>>;
  /** Every required column is present: rows can become schools. */
  complete: boolean;
}

/** Strings of 13+ characters sliced from the file keep the whole file text alive; copy them. */
function own(s: string): string {
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}

function isBlank(fields: readonly string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

/** Edit distance, for "did you mean" on unknown header names. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function suggest(name: string): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of COLUMN_NAMES) {
    const d = distance(name, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4)) ? ` (did you mean ${best}?)` : '';
}

function readHeader(fields: readonly string[], line: number, problems: Problems): Header {
  const names = fields.map((f) => f.trim().toLowerCase());
  const pos: Partial<Record<ColumnName, number>> = {};
  const header: Header = { line, width: fields.length, names, pos, complete: false };
  if (names.length === 1) {
    const sep = ['\t', ';', '|'].find((s) => names[0]?.includes(s));
    if (sep !== undefined) {
      problems.add(line, null, `the header has a single column split by ${JSON.stringify(sep)}: save the file as comma-separated CSV`);
      return header;
    }
  }
  names.forEach((name, i) => {
    if (name === '') {
      problems.add(line, null, `header column ${i + 1} has no name (delete the empty column, or name it ${EXTRA_COLUMN_PREFIX}something to keep it)`);
    } else if (name.startsWith(EXTRA_COLUMN_PREFIX)) {
      // The operator's own column: ignored.
    } else if (!Object.hasOwn(COLUMNS, name)) {
      problems.add(line, name, `unknown column${suggest(name)}; columns starting with ${EXTRA_COLUMN_PREFIX} are ignored, others must be known`);
    } else if (pos[name as ColumnName] !== undefined) {
      problems.add(line, name, `appears twice in the header (columns ${(pos[name as ColumnName] ?? 0) + 1} and ${i + 1})`);
    } else {
      pos[name as ColumnName] = i;
    }
  });
  for (const name of COLUMN_NAMES) {
    if (COLUMNS[name].required && pos[name] === undefined) problems.add(line, name, 'required column is missing from the header');
  }
  if (pos.school_id !== undefined && pos.school_id !== 0) {
    problems.add(line, 'school_id', `must be the first column of the header, it is column ${pos.school_id + 1}`);
  }
  header.complete = COLUMN_NAMES.every((name) => !COLUMNS[name].required || pos[name] !== undefined);
  return header;
}

/**
 * Parses registry CSV text. Throws one `RegistryError` listing every problem if anything is wrong.
 * A leading BOM and CRLF line ends are accepted.
 */
export function parseRegistry(text: string, opts: ParseRegistryOptions = {}): Registry {
  const source = opts.source ?? '<registry>';
  const problems = new Problems();
  const schools = new Map<string, School>();
  /** Valid ids of rows that had problems: still count for duplicate and hub checks. */
  const badRowIds = new Map<string, number>();
  const hubRefs: { line: number; id: string; hub: string }[] = [];
  const provinces = new Map<string, RegionDraft>();
  const cities = new Map<string, RegionDraft>();
  const counties = new Map<string, RegionDraft>();
  let header: Header | undefined;

  // The row being read; `cell` and `value` read from it.
  let fields: string[] = [];
  let line = 0;

  const cell = (name: ColumnName): string | undefined => {
    const p = header?.pos[name];
    return p === undefined ? undefined : (fields[p] ?? '').trim();
  };

  /** The column's value, or undefined after reporting a problem (or when a required column is absent). */
  const value = <T>(spec: ColumnSpec<T>): T | undefined => {
    const raw = cell(spec.name as ColumnName);
    if (raw === undefined || raw === '') {
      if (raw === '' && spec.required) problems.add(line, spec.name, 'must not be empty');
      return spec.empty;
    }
    const v = spec.parse(raw);
    if (v instanceof Invalid) {
      problems.add(line, spec.name, v.message);
      return undefined;
    }
    return v;
  };

  /** The latitude and longitude, with a hint when the two look swapped. */
  const coordinates = (): [number | undefined, number | undefined] => {
    const rawLat = cell('lat');
    const rawLon = cell('lon');
    const latN = Number(rawLat);
    const lonN = Number(rawLon);
    if (
      rawLat && rawLon &&
      !(latN >= CHINA_BOUNDS.latMin && latN <= CHINA_BOUNDS.latMax) &&
      latN >= CHINA_BOUNDS.lonMin && latN <= CHINA_BOUNDS.lonMax &&
      lonN >= CHINA_BOUNDS.latMin && lonN <= CHINA_BOUNDS.latMax
    ) {
      problems.add(line, 'lat', `${COLUMNS.lat.rule}, ${got(rawLat)} (lat and lon look swapped: lon is ${rawLon})`);
      return [undefined, undefined];
    }
    return [value(COLUMNS.lat), value(COLUMNS.lon)];
  };

  /** Reports a name that differs from the one a loaded row gave the code (without a code list names come from rows). */
  const sameName = (map: Map<string, RegionDraft>, code: string, name: string, column: ColumnName): void => {
    const existing = map.get(code);
    if (existing !== undefined && existing.name !== name) {
      problems.add(line, column, `code ${code} is named ${JSON.stringify(existing.name)} on line ${existing.line}, ${got(name)}`);
    }
  };
  /** Finds or creates a region of a row without problems. */
  const region = (map: Map<string, RegionDraft>, code: string, name: string, parent: string | null, folded = false): RegionDraft => {
    const existing = map.get(code);
    if (existing !== undefined) return existing;
    const draft: RegionDraft = { code: own(code), name: own(name), line, parent, folded, children: [] };
    map.set(draft.code, draft);
    return draft;
  };
  const aliases = opts.aliases ?? new AliasTable(BUILT_IN_ALIASES);
  const divisions = opts.divisions ?? null;
  const locate = (row: PlaceInput): Place | PlaceProblem[] => (divisions ? placeFromList(row, divisions, aliases) : placeFromStructure(row, aliases));

  let refusedRows = 0;
  const rememberBadId = (id: string | undefined): void => {
    refusedRows++;
    if (id !== undefined && !schools.has(id) && !badRowIds.has(id)) badRowIds.set(id, line);
  };
  /** For a row that could not be split into columns: `school_id` is the first field, if the header is right. */
  const rememberFirstFieldId = (): void => {
    if (header?.pos.school_id !== 0) return;
    const id = COLUMNS.school_id.parse((fields[0] ?? '').trim());
    if (typeof id === 'string') rememberBadId(id);
    else refusedRows++;
  };

  const readRow = (syntax: CsvProblem | null): void => {
    if (!header) return;
    if (syntax !== null) {
      problems.add(syntax.line, header.names[syntax.field] || null, syntax.message);
      rememberFirstFieldId();
      return;
    }
    if (fields.length !== header.width) {
      const hint = fields.length > header.width ? ' (a value containing a comma must be in double quotes)' : '';
      problems.add(line, null, `has ${fields.length} fields, the header has ${header.width}${hint}`);
      rememberFirstFieldId();
      return;
    }
    const before = problems.total;
    const id = value(COLUMNS.school_id);
    const name = value(COLUMNS.school_name);
    const type = value(COLUMNS.school_type);
    const pc = value(COLUMNS.province_code);
    const pn = value(COLUMNS.province_name);
    const cc = value(COLUMNS.city_code);
    const cn = value(COLUMNS.city_name);
    const kc = value(COLUMNS.county_code);
    const kn = value(COLUMNS.county_name);
    const linkType = value(COLUMNS.link_type);
    const mbps = value(COLUMNS.contracted_mbps);
    const students = value(COLUMNS.students);
    const classrooms = value(COLUMNS.classrooms);
    const [lat, lon] = coordinates();
    let hub = value(COLUMNS.hub_school_id);

    if (id !== undefined) {
      const first = schools.get(id)?.line ?? badRowIds.get(id);
      if (first !== undefined) problems.add(line, 'school_id', `duplicate school id ${id}, first on line ${first}`);
    }
    if (hub !== undefined) {
      if (hub === id) {
        problems.add(line, 'hub_school_id', `must name another school, not the school itself, ${got(hub)}`);
        hub = undefined;
      } else {
        hub = own(hub);
        if (id !== undefined) hubRefs.push({ line, id, hub });
      }
    }

    const place = pc !== undefined && pn !== undefined && cc !== undefined && cn !== undefined && kc !== undefined && kn !== undefined
      ? locate({ pc, pn, cc, cn, kc, kn })
      : undefined;
    if (Array.isArray(place)) for (const p of place) problems.add(line, p.column, p.message);
    else if (place) {
      sameName(provinces, place.provinceCode, place.provinceName, 'province_name');
      if (!place.folded) sameName(cities, place.cityCode, place.cityName, 'city_name');
      sameName(counties, place.countyCode, place.countyName, 'county_name');
      // One county, one parent: a row must not put it under a city when another folded it (structure mode).
      const prev = counties.get(place.countyCode);
      const parent = place.folded ? place.provinceCode : place.cityCode;
      if (prev !== undefined && prev.parent !== parent) {
        problems.add(line, 'city_code', `county ${place.countyCode} is under ${prev.parent} on line ${prev.line}, this row puts it under ${parent}`);
      }
    }

    if (problems.total !== before || !header.complete || place === undefined || Array.isArray(place)) {
      rememberBadId(id);
      return;
    }
    const province = region(provinces, place.provinceCode, place.provinceName, null);
    if (!place.folded) region(cities, place.cityCode, place.cityName, place.provinceCode);
    const county = region(counties, place.countyCode, place.countyName, place.folded ? place.provinceCode : place.cityCode, place.folded);
    // No problem in this row, so every value is defined.
    const school: School = {
      id: id!,
      name: own(name!),
      type: type!,
      provinceCode: province.code,
      cityCode: place.folded ? county.code : place.cityCode,
      countyCode: county.code,
      linkType: linkType!,
      contractedMbps: mbps!,
      students: students!,
      classrooms: classrooms!,
      lat: lat!,
      lon: lon!,
      hubSchoolId: hub ?? null,
      line,
    };
    schools.set(school.id, school);
    county!.children.push(school.id);
  };

  readCsv(text, (f, l, syntax) => {
    if (syntax === null && isBlank(f)) return;
    fields = f;
    line = l;
    if (header === undefined) header = readHeader(f, l, problems);
    else readRow(syntax);
  });

  if (header === undefined) {
    problems.add(null, null, 'the file is empty: expected a header row starting with school_id');
  } else if (problems.total === 0 && schools.size === 0) {
    problems.add(null, null, 'the file has a header but no schools');
  }
  // A hub that is not loaded costs the hub link only: the school stays, without it.
  for (const { line: l, id, hub } of hubRefs) {
    const s = schools.get(id);
    if (!s || schools.has(hub)) continue;
    const refused = badRowIds.get(hub);
    const message = refused !== undefined
      ? `names school ${hub}, whose row on line ${refused} was refused: the school is kept without its hub`
      : `must name a school of the registry, ${got(hub)} which is not in it: the school is kept without its hub`;
    problems.add(l, 'hub_school_id', message);
    schools.set(id, { ...s, hubSchoolId: null });
  }
  const sorted = [...problems.kept].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  // Problems of the file itself (header, encoding, nothing loadable) stop it; a bad row costs that row.
  const fileLevel = header === undefined || !header.complete || sorted.some((p) => p.line === null || p.line === header?.line);
  if (fileLevel || schools.size === 0) throw new RegistryError(source, sorted, problems.total);
  return build(source, schools, provinces, cities, counties, {
    problems: sorted,
    problemTotal: problems.total,
    refusedRows,
    aliases,
    edition: divisions?.edition ?? null,
  });
}

const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Every region was created by a valid row, so each has schools; cities and provinces get their children here. */
function build(
  source: string,
  schools: Map<string, School>,
  provinceDrafts: Map<string, RegionDraft>,
  cityDrafts: Map<string, RegionDraft>,
  countyDrafts: Map<string, RegionDraft>,
  extra: RegistryExtra,
): Registry {
  for (const d of countyDrafts.values()) (d.folded ? provinceDrafts : cityDrafts).get(d.parent ?? '')?.children.push(d.code);
  for (const d of cityDrafts.values()) provinceDrafts.get(d.parent ?? '')?.children.push(d.code);
  const counties = new Map<string, County>();
  for (const d of [...countyDrafts.values()].sort((a, b) => byCode(a.code, b.code))) {
    const children = Object.freeze(d.children.sort(byCode));
    counties.set(d.code, Object.freeze({ level: 'county', code: d.code, name: d.name, parent: d.parent ?? '', childLevel: 'school', children, schoolCount: children.length }));
  }
  const cities = new Map<string, City>();
  for (const d of [...cityDrafts.values()].sort((a, b) => byCode(a.code, b.code))) {
    const children = Object.freeze(d.children.sort(byCode));
    const schoolCount = children.reduce((n, c) => n + (counties.get(c)?.schoolCount ?? 0), 0);
    cities.set(d.code, Object.freeze({ level: 'city', code: d.code, name: d.name, parent: d.parent ?? '', childLevel: 'county', children, schoolCount }));
  }
  const provinces = new Map<string, Province>();
  for (const d of [...provinceDrafts.values()].sort((a, b) => byCode(a.code, b.code))) {
    const children = Object.freeze(d.children.sort(byCode));
    const schoolCount = children.reduce((n, c) => n + (cities.get(c)?.schoolCount ?? counties.get(c)?.schoolCount ?? 0), 0);
    provinces.set(d.code, Object.freeze({ level: 'province', code: d.code, name: d.name, parent: null, childLevel: 'city', children, schoolCount }));
  }
  return new Registry(source, schools, nationalLevel(provinces, schools.size), provinces, cities, counties, extra);
}

/** The line (1-based) of the first byte sequence that is not valid UTF-8. */
function firstBadUtf8Line(buf: Buffer): number {
  const text = buf.toString('utf8');
  const at = text.indexOf('\uFFFD');
  let line = 1;
  for (let i = 0; i < at; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) line++;
  }
  return line;
}

/** Reads the registry file's bytes; an unreadable file is a `RegistryError` naming `path`. */
export function readRegistryFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new RegistryError(path, [{ line: null, column: null, message: `cannot read the file: ${(e as Error).message}` }], 1, { cause: e });
  }
}

/**
 * Parses the bytes of a registry file (UTF-8, BOM optional), reporting problems against `source`.
 * A file that is not UTF-8 is a `RegistryError` naming the line of the first bad byte.
 */
export function parseRegistryBytes(buf: Buffer, source: string, opts: Omit<ParseRegistryOptions, 'source'> = {}): Registry {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (e) {
    const message =
      'is not valid UTF-8 (spreadsheets on Chinese Windows save "CSV" as GBK: save as "CSV UTF-8" instead)';
    throw new RegistryError(source, [{ line: firstBadUtf8Line(buf), column: null, message }], 1, { cause: e });
  }
  return parseRegistry(text, { ...opts, source });
}

/**
 * Reads and parses the registry file at `path` (UTF-8, BOM optional). Synchronous: it runs once
 * at start-up, before the collector listens (a running collector reloads in a worker thread:
 * `LiveRegistry.refresh()`). Problems are reported against `path` as given.
 * An unreadable or non-UTF-8 file is a `RegistryError` too.
 */
export function loadRegistry(path: string, opts: Omit<ParseRegistryOptions, 'source'> = {}): Registry {
  return parseRegistryBytes(readRegistryFile(path), path, opts);
}
