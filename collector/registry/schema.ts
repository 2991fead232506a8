/**
 * The schools registry CSV: its columns, the rule of each column, and the typed record a row becomes.
 *
 * One row per school. The header row is required; `school_id` must be its first column, the other
 * columns may come in any order. A column the registry does not know is an error (a typo guard:
 * `contracted_mbs` must not silently drop the contracted bandwidth), except columns whose name starts
 * with `x_`, which are ignored so operators can keep their own notes in the file.
 *
 * `docs/registry.md` describes the same columns in prose; a test keeps the two in sync.
 */
import { schoolId as schoolIdSchema } from '../../protocol/report.js';

/** Kinds of school. `teaching-point` is a 教学点: a small remote site, often one or two classrooms. */
export const SCHOOL_TYPES = ['primary', 'secondary', 'nine-year', 'teaching-point', 'other'] as const;
export type SchoolType = (typeof SCHOOL_TYPES)[number];

import { LINK_TYPES, type LinkType } from '../../protocol/index.js';
export { LINK_TYPES, type LinkType };

/** Rough WGS-84 bounding box of China (incl. the South China Sea islands); coordinates outside it are typos. */
export const CHINA_BOUNDS = { latMin: 3, latMax: 54, lonMin: 73, lonMax: 136 } as const;

/** Header names starting with this prefix are ignored: room for the operator's own columns. */
export const EXTRA_COLUMN_PREFIX = 'x_';

/** Longest school or region name accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 100;

/** One school, as a registry row becomes after validation. Region names live in the hierarchy, not here. */
export interface School {
  /** `school_id`: 10-digit national school identification code (学校标识码). */
  readonly id: string;
  /** `school_name`. */
  readonly name: string;
  /** `school_type`; `other` when the column is absent or empty. */
  readonly type: SchoolType;
  /** `province_code`: GB/T 2260, ends in 0000. */
  readonly provinceCode: string;
  /** `city_code`: GB/T 2260, ends in 00, starts with the province's 2 digits. */
  readonly cityCode: string;
  /** `county_code`: GB/T 2260, starts with the city's 4 digits. */
  readonly countyCode: string;
  /** `link_type`. */
  readonly linkType: LinkType;
  /** `contracted_mbps`: the bandwidth the school pays for, Mbit/s, > 0. */
  readonly contractedMbps: number;
  /** `students`: integer ≥ 0. */
  readonly students: number;
  /** `classrooms`: integer ≥ 0. */
  readonly classrooms: number;
  /** `lat`: WGS-84 latitude, degrees. */
  readonly lat: number;
  /** `lon`: WGS-84 longitude, degrees. */
  readonly lon: number;
  /** `hub_school_id`: the hub school for synchronous classes (专递课堂), or null. Always another school of the registry. */
  readonly hubSchoolId: string | null;
  /** The row's 1-based physical line in the source file (header = line 1), for later messages. */
  readonly line: number;
}

/** A value that broke its column's rule; `message` reads "must be …, got "…"". */
export class Invalid {
  constructor(readonly message: string) {}
}

/** One registry column: what the docs say about it and how a cell becomes a value. */
export interface ColumnSpec<T> {
  /** Header name. */
  readonly name: string;
  /** Required columns must be in the header and have a non-empty value in every row. */
  readonly required: boolean;
  /** Type as the docs show it. */
  readonly type: string;
  /** The rule, as a "must …" phrase; used in error messages. Cross-row rules live in `CONSISTENCY_RULES`. */
  readonly rule: string;
  /** An example value. */
  readonly example: string;
  /** Turns a trimmed, non-empty cell into its value, or says why it cannot. Empty cells never reach it. */
  readonly parse: (raw: string) => T | Invalid;
  /** The value of an empty cell (or of an absent optional column); `undefined` for required columns. */
  readonly empty?: T;
}

/** Quotes a raw cell for an error message, shortened if long. */
export function got(raw: string): string {
  return `got ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw)}`;
}

const DIGITS6 = /^\d{6}$/;
const INTEGER = /^\d+$/;
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(rule: string, raw: string): Invalid {
  return new Invalid(`${rule}, ${got(raw)}`);
}

function idColumn(name: string, required: boolean, rule: string, example: string): ColumnSpec<string> {
  return {
    name,
    required,
    type: 'string (10 digits)',
    rule,
    example,
    // The same rule as the wire protocol's `school` field: one definition of a school id.
    parse: (raw) => (schoolIdSchema.safeParse(raw).success ? raw : invalid(rule, raw)),
  };
}

function nameColumn(name: string, example: string): ColumnSpec<string> {
  const rule = `must be a name of 1-${MAX_NAME_LENGTH} characters without tabs, line breaks or control characters`;
  return {
    name,
    required: true,
    type: 'string',
    rule,
    example,
    parse: (raw) => (raw.length <= MAX_NAME_LENGTH && !CONTROL.test(raw) ? raw : invalid(rule, raw)),
  };
}

function enumColumn<T extends string>(name: string, values: readonly T[], required: boolean, example: T): ColumnSpec<T> {
  const rule = `must be one of ${values.join(', ')}`;
  return {
    name,
    required,
    type: 'enum',
    rule: required ? rule : `${rule} (empty means other)`,
    example,
    // Returns the constant from `values`, not the cell: 250,000 copies of "fiber" would cost 8 MB.
    parse: (raw) => {
      const lower = raw.toLowerCase();
      return values.find((v) => v === lower) ?? invalid(rule, raw);
    },
    ...(required ? {} : { empty: 'other' as T }),
  };
}

function codeColumn(name: string, rule: string, example: string, ok: (code: string) => boolean): ColumnSpec<string> {
  return {
    name,
    required: true,
    type: 'string (6 digits)',
    rule,
    example,
    parse: (raw) => (DIGITS6.test(raw) && ok(raw) ? raw : invalid(rule, raw)),
  };
}

function integerColumn(name: string, example: string): ColumnSpec<number> {
  const rule = 'must be an integer >= 0';
  return {
    name,
    required: true,
    type: 'integer',
    rule,
    example,
    parse: (raw) => {
      const n = INTEGER.test(raw) ? Number(raw) : NaN;
      return Number.isSafeInteger(n) ? n : invalid(rule, raw);
    },
  };
}

function degreesColumn(name: string, min: number, max: number, what: string, example: string): ColumnSpec<number> {
  const rule = `must be a WGS-84 ${what} in China, between ${min} and ${max} degrees`;
  return {
    name,
    required: true,
    type: 'number (degrees)',
    rule,
    example,
    parse: (raw) => {
      const n = DECIMAL.test(raw) ? Number(raw) : NaN;
      return n >= min && n <= max ? n : invalid(rule, raw);
    },
  };
}

/**
 * Every column the registry knows, keyed by header name, in the order the docs list them.
 * `school_id` must be the first column of the file; the others may come in any order.
 */
export const COLUMNS = {
  school_id: idColumn('school_id', true, 'must be a 10-digit school identification code', '1640104001'),
  school_name: nameColumn('school_name', '银川市兴庆区第一小学'),
  school_type: enumColumn('school_type', SCHOOL_TYPES, false, 'primary'),
  province_code: codeColumn(
    'province_code',
    'must be a 6-digit GB/T 2260 province code ending in 0000',
    '640000',
    (c) => c.endsWith('0000') && !c.startsWith('00'),
  ),
  province_name: nameColumn('province_name', '宁夏回族自治区'),
  city_code: codeColumn(
    'city_code',
    'must be a 6-digit GB/T 2260 city code ending in 00 (or the province code, civil-affairs style)',
    '640100',
    (c) => c.endsWith('00') && !c.startsWith('00'),
  ),
  city_name: nameColumn('city_name', '银川市'),
  county_code: codeColumn(
    'county_code',
    'must be a 6-digit GB/T 2260 county code not ending in 0000 (a city without counties: the city code)',
    '640104',
    (c) => !c.endsWith('0000') && !c.startsWith('00'),
  ),
  county_name: nameColumn('county_name', '兴庆区'),
  link_type: enumColumn('link_type', LINK_TYPES, true, 'fiber'),
  contracted_mbps: {
    name: 'contracted_mbps',
    required: true,
    type: 'number',
    rule: 'must be a number > 0',
    example: '300',
    parse: (raw: string) => {
      const n = DECIMAL.test(raw) ? Number(raw) : NaN;
      return n > 0 && Number.isFinite(n) ? n : invalid('must be a number > 0', raw);
    },
  },
  students: integerColumn('students', '1850'),
  classrooms: integerColumn('classrooms', '36'),
  lat: degreesColumn('lat', CHINA_BOUNDS.latMin, CHINA_BOUNDS.latMax, 'latitude', '38.4702'),
  lon: degreesColumn('lon', CHINA_BOUNDS.lonMin, CHINA_BOUNDS.lonMax, 'longitude', '106.2862'),
  hub_school_id: idColumn(
    'hub_school_id',
    false,
    'must be a 10-digit school identification code',
    '1632722001',
  ),
} as const satisfies Record<string, ColumnSpec<unknown>>;

/** A header name the registry knows. */
export type ColumnName = keyof typeof COLUMNS;

/** Every known column name, `school_id` first. */
export const COLUMN_NAMES = Object.keys(COLUMNS) as ColumnName[];

/**
 * Rules that look at more than one cell, as the docs list them. Each failure is reported on the
 * line and column named here.
 */
export const CONSISTENCY_RULES: readonly { column: ColumnName; rule: string }[] = [
  { column: 'province_code', rule: 'must be a province of the code list (not 710000, 810000, 820000: no county codes)' },
  { column: 'county_code', rule: 'must be a county of the code list, not an abolished code (the successor is named)' },
  { column: 'city_code', rule: "must be the county's city in the code list, or the province code for a county under a placeholder city" },
  { column: 'province_name', rule: "must match the code list's name (one may hold the other: 宁夏 / 宁夏回族自治区)" },
  { column: 'county_name', rule: "must match the code list's name, as province_name" },
  { column: 'city_name', rule: 'without a code list: the same city code always has the same name' },
  { column: 'school_id', rule: 'must be unique in the file' },
  { column: 'hub_school_id', rule: 'must name another school of the registry (not the school itself)' },
];
