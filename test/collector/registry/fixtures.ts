/** Helpers for the registry tests: valid rows, CSV text from rows, and the problems a text raises. */
import { expect } from 'chai';
import { COLUMN_NAMES, RegistryError, parseRegistry, type ColumnName, type RegistryProblem } from '../../../collector/registry/index.js';

export type Row = Record<string, string>;

/** A valid row of school number `n` (1-999) in 兴庆区, 银川市, 宁夏. */
export function school(n: number, over: Partial<Record<ColumnName, string>> & Row = {}): Row {
  return {
    school_id: `1640104${String(n).padStart(3, '0')}`,
    school_name: `银川市兴庆区第${n}小学`,
    school_type: 'primary',
    province_code: '640000',
    province_name: '宁夏回族自治区',
    city_code: '640100',
    city_name: '银川市',
    county_code: '640104',
    county_name: '兴庆区',
    link_type: 'fiber',
    contracted_mbps: '300',
    students: '1200',
    classrooms: '30',
    lat: '38.47',
    lon: '106.28',
    hub_school_id: '',
    ...over,
  };
}

/** A valid row in another county: 杂多县, 玉树藏族自治州, 青海. */
export function zaduo(n: number, over: Row = {}): Row {
  return school(n, {
    school_id: `1632722${String(n).padStart(3, '0')}`,
    school_name: `杂多县第${n}教学点`,
    school_type: 'teaching-point',
    province_code: '630000',
    province_name: '青海省',
    city_code: '632700',
    city_name: '玉树藏族自治州',
    county_code: '632722',
    county_name: '杂多县',
    link_type: 'sat-geo',
    contracted_mbps: '8',
    students: '15',
    classrooms: '2',
    lat: '32.89',
    lon: '95.30',
    ...over,
  });
}

function quote(v: string): string {
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replaceAll('"', '""')}"` : v;
}

export interface CsvOptions {
  /** Header columns, in order; default every known column. */
  columns?: readonly string[];
  eol?: string;
  bom?: boolean;
}

/** CSV text: a header, then one line per row (a row's missing columns are empty). */
export function toCsv(rows: readonly Row[], opts: CsvOptions = {}): string {
  const columns = opts.columns ?? COLUMN_NAMES;
  const eol = opts.eol ?? '\n';
  const lines = [columns.join(','), ...rows.map((r) => columns.map((c) => quote(r[c] ?? '')).join(','))];
  return `${opts.bom ? '\uFEFF' : ''}${lines.join(eol)}${eol}`;
}

/** The RegistryError that parsing `text` throws (fails the test if it does not throw one). */
export function registryError(text: string, source = 'schools.csv'): RegistryError {
  try {
    parseRegistry(text, { source });
  } catch (e) {
    expect(e).to.be.instanceOf(RegistryError);
    expect((e as RegistryError).code).to.equal('COL_ERR_REGISTRY_INVALID');
    return e as RegistryError;
  }
  expect.fail('parseRegistry() did not throw');
}

/**
 * The problems parsing `text` finds: the refused rows of a registry that loads, or the problems of the
 * RegistryError a file that cannot load throws (as `line column: message` strings are awkward to match).
 */
export function problemsOf(text: string): RegistryProblem[] {
  try {
    const reg = parseRegistry(text, { source: 'schools.csv' });
    expect(reg.extra.problems.length, 'parseRegistry() found no problem').to.be.greaterThan(0);
    return [...reg.extra.problems];
  } catch (e) {
    expect(e).to.be.instanceOf(RegistryError);
    return [...(e as RegistryError).problems];
  }
}
