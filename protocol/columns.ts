/**
 * The columnar form of a batch, the inner layer of `x-campuslink-cols1` (see wire.ts).
 *
 * Reports of one agent repeat the same structure every cycle: the same measurements, tags and field
 * names, with only the numbers changing. So a batch is sent as each distinct structure once (its
 * "shape": the report with every number replaced by 0) and, per shape, one column per number across
 * the reports that have that shape. A column whose values are all equal is one number. A column of
 * decimals is sent as integers with a decimal exponent `e` (0.51 → 51 with e=2). An integer column
 * that is shorter as differences (sequences, timestamps, uptimes, slowly moving RTTs) is sent as its
 * first value and then differences, `d`. Lossless: decoding gives back exactly the reports that were
 * encoded, number for number (the encoder checks each scaled value divides back to the same double).
 *
 * ```json
 * {"c":1,"g":[{"s":{"v":0,"seq":0,…},"r":[0,1,2,3],"v":[1,{"d":[41,1,1,1]},{"e":2,"v":[51,48,50,62]},…]}]}
 * ```
 */

/** Version of the columnar form, the `c` key. */
export const COLUMNS_FORMAT = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A column: one value for all reports of the group; one per report; or integers `v` or differences
 * `d` (first value, then each minus the one before), scaled by 10^`e` when `e` is given.
 */
type Column = number | number[] | { e?: number; v?: number[]; d?: number[] };

/** Most decimals a scaled column may have. */
const MAX_EXPONENT = 9;

interface Group {
  /** The shape: a report with every number replaced by 0. */
  s: Json;
  /** Positions in the batch of the reports with this shape, in order. */
  r: number[];
  /** One column per number of the shape, in the order a depth-first walk of the shape meets them. */
  v: Column[];
}

/** The columnar form of `{ reports }`. */
export interface ColumnarBatch {
  c: typeof COLUMNS_FORMAT;
  g: Group[];
}

/** A body that is not a valid columnar batch. */
export class ColumnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ColumnsError';
  }
}

function shapeOf(value: unknown, numbers: number[]): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'number') return v;
    numbers.push(v);
    return 0;
  });
}

/** Decimals in the shortest representation of v; Infinity for exponent notation. */
function decimals(v: number): number {
  const t = String(v);
  if (t.includes('e')) return Infinity;
  const dot = t.indexOf('.');
  return dot < 0 ? 0 : t.length - dot - 1;
}

function column(values: number[]): Column {
  const first = values[0] as number;
  if (values.every((v) => v === first)) return first;
  let e = 0;
  let ints = values;
  if (!values.every(Number.isSafeInteger)) {
    e = Math.max(...values.map(decimals));
    if (e > MAX_EXPONENT) return values;
    const scale = 10 ** e;
    ints = values.map((v) => Math.round(v * scale));
    if (ints.some((x, i) => !Number.isSafeInteger(x) || x / scale !== values[i] || Object.is(values[i], -0))) return values;
  }
  const d = ints.map((v, i) => (i === 0 ? v : v - (ints[i - 1] as number)));
  const useDelta = d.every(Number.isSafeInteger) && JSON.stringify(d).length < JSON.stringify(ints).length;
  if (e === 0) return useDelta ? { d } : values;
  return useDelta ? { e, d } : { e, v: ints };
}

/** Encodes reports (any JSON values) into the columnar form. */
export function toColumns(reports: readonly unknown[]): ColumnarBatch {
  const groups = new Map<string, { r: number[]; rows: number[][] }>();
  reports.forEach((report, i) => {
    const numbers: number[] = [];
    const shape = shapeOf(report, numbers);
    let g = groups.get(shape);
    if (!g) groups.set(shape, (g = { r: [], rows: [] }));
    g.r.push(i);
    g.rows.push(numbers);
  });
  return {
    c: COLUMNS_FORMAT,
    g: [...groups].map(([shape, { r, rows }]) => ({
      s: JSON.parse(shape) as Json,
      r,
      v: (rows[0] as number[]).map((_, j) => column(rows.map((row) => row[j] as number))),
    })),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What counting a shape finds: its numbers, and the length of its JSON text (JSON.stringify(shape).length). */
interface Counter {
  n: number;
  chars: number;
}

/** JSON.stringify(s).length, without building the string when nothing in it needs escaping. */
function jsonStringLength(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s).length;
  }
  return s.length + 2;
}

/** jsonStringLength of keys seen before: every batch repeats the same few hundred names. */
const KEY_LENGTHS = new Map<string, number>();
const MAX_KEY_LENGTHS = 4096;

function keyLength(k: string): number {
  let n = KEY_LENGTHS.get(k);
  if (n === undefined) {
    n = jsonStringLength(k);
    // Bounded: a body of many distinct keys clears it rather than growing it.
    if (KEY_LENGTHS.size >= MAX_KEY_LENGTHS) KEY_LENGTHS.clear();
    if (k.length <= 64) KEY_LENGTHS.set(k, n);
  }
  return n;
}

/**
 * Counts a shape's numbers (so a group's columns can be checked before anything is built) and its JSON
 * length, walking it in the order `fill` does (a shape is parsed JSON: its keys are its own, in for-in order).
 */
function count(v: unknown, counter: Counter): void {
  if (typeof v === 'number') {
    counter.n++;
    // What JSON.stringify writes for a finite number (JSON.parse gives no other); shapes hold 0s.
    counter.chars += v === 0 ? 1 : String(v).length;
    return;
  }
  if (Array.isArray(v)) {
    counter.chars += v.length > 0 ? v.length + 1 : 2;
    for (let i = 0; i < v.length; i++) count(v[i], counter);
    return;
  }
  if (isPlainObject(v)) {
    let keys = 0;
    for (const key in v) {
      keys++;
      counter.chars += keyLength(key);
      count(v[key], counter);
    }
    // Braces, a colon per key and the commas between them.
    counter.chars += keys > 0 ? 2 * keys + 1 : 2;
    return;
  }
  counter.chars += typeof v === 'string' ? jsonStringLength(v) : JSON.stringify(v).length;
}

/** The cursor of `fill`: the group's columns (a number: the same for every report), the row being built and the next column. */
interface Cursor {
  cols: (number | number[])[];
  row: number;
  j: number;
}

function next(at: Cursor): number {
  const c = at.cols[at.j++] as number | number[];
  return typeof c === 'number' ? c : (c[at.row] as number);
}

/** A copy of the shape with the row's numbers in it. */
function fill(shape: unknown, at: Cursor): unknown {
  if (typeof shape === 'number') return next(at);
  if (Array.isArray(shape)) {
    const out = new Array<unknown>(shape.length);
    for (let i = 0; i < shape.length; i++) out[i] = fill(shape[i], at);
    return out;
  }
  if (isPlainObject(shape)) {
    const out: Record<string, unknown> = {};
    for (const k in shape) {
      const v = fill(shape[k], at);
      // As JSON.parse does: a key named __proto__ is data, never the object's prototype.
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  }
  return shape;
}

/** The shape itself with the row's numbers put in (its last report, when the caller gave up the body). */
function fillInPlace(shape: unknown, at: Cursor): unknown {
  if (typeof shape === 'number') return next(at);
  if (Array.isArray(shape)) {
    for (let i = 0; i < shape.length; i++) {
      const v = shape[i];
      if (typeof v === 'number') shape[i] = next(at);
      else if (typeof v === 'object' && v !== null) fillInPlace(v, at);
    }
  } else if (isPlainObject(shape)) {
    for (const k in shape) {
      const v = shape[k];
      // An own data property (JSON.parse made it so, `__proto__` too): assigning it sets the data.
      if (typeof v === 'number') shape[k] = next(at);
      else if (typeof v === 'object' && v !== null) fillInPlace(v, at);
    }
  }
  return shape;
}

/** Whether every element is a number (a safe integer when `integers`). A loop: this runs for every column of every batch. */
function allNumbers(xs: unknown[], integers: boolean): xs is number[] {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (typeof x !== 'number' || (integers && !Number.isSafeInteger(x))) return false;
  }
  return true;
}

/** A column's values (a number: the same for all). No closure and no string is made unless it is wrong: this runs for every column of every batch. */
function columnValues(c: unknown, n: number, gi: number, j: number): number | number[] {
  if (typeof c === 'number') return c;
  if (Array.isArray(c)) {
    if (c.length !== n || !allNumbers(c, false)) throw new ColumnsError(`g.${gi}.v.${j}: must hold ${n} numbers`);
    return c as number[];
  }
  if (!isPlainObject(c)) throw new ColumnsError(`g.${gi}.v.${j}: must be a number, an array of numbers or {"e", "v" | "d"}`);
  const e = c.e ?? 0;
  if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e > MAX_EXPONENT) throw new ColumnsError(`g.${gi}.v.${j}.e: must be an integer from 0 to ${MAX_EXPONENT}`);
  const key = Array.isArray(c.d) ? 'd' : Array.isArray(c.v) ? 'v' : undefined;
  if (!key) throw new ColumnsError(`g.${gi}.v.${j}: must hold "v" or "d"`);
  const ints = c[key] as unknown[];
  if (ints.length !== n || !allNumbers(ints, true)) throw new ColumnsError(`g.${gi}.v.${j}.${key}: must hold ${n} integers`);
  if (key === 'v' && e === 0) return ints;
  const scale = 10 ** e;
  // One report (most batches): its value, without an array.
  if (n === 1) return e === 0 ? (ints[0] as number) : (ints[0] as number) / scale;
  const values = new Array<number>(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const x = ints[i] as number;
    // Sums of integers, divided once at the end: the same doubles as summing first, then scaling.
    acc = key === 'd' ? (i === 0 ? x : acc + x) : x;
    values[i] = e === 0 ? acc : acc / scale;
  }
  return values;
}

/**
 * Decodes the columnar form back into `{ reports }`. Throws a ColumnsError saying what is wrong for a
 * body that is not one; the reports themselves are validated afterwards like any batch.
 * `maxReports` and `maxBytes` bound what a small body may expand into. `consume`: the caller gives up
 * `body` (e.g. it was just parsed), so each group's last report is its shape with the numbers put in
 * rather than a copy of it.
 */
export function fromColumns(body: unknown, limits: { maxReports: number; maxBytes: number; consume?: boolean }): { reports: unknown[] } {
  if (!isPlainObject(body) || body.c !== COLUMNS_FORMAT) throw new ColumnsError(`"c" must be ${COLUMNS_FORMAT}`);
  if (!Array.isArray(body.g) || body.g.length === 0) throw new ColumnsError('"g" must be a non-empty array of groups');
  const groups = body.g as unknown[];
  const total = groups.reduce((n: number, g) => n + (isPlainObject(g) && Array.isArray(g.r) ? g.r.length : 0), 0);
  if (total > limits.maxReports) throw new ColumnsError(`holds ${total} reports; at most ${limits.maxReports} are allowed`);
  const reports = new Array<unknown>(total);
  let bytes = 0;
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi];
    if (!isPlainObject(g) || !Array.isArray(g.r) || !Array.isArray(g.v) || !('s' in g)) throw new ColumnsError(`g.${gi}: must be {"s", "r", "v"}`);
    const r = g.r as unknown[];
    const n = r.length;
    if (n === 0) throw new ColumnsError(`g.${gi}.r: must not be empty`);
    const counter: Counter = { n: 0, chars: 0 };
    const shape = g.s;
    count(shape, counter);
    const numbers = counter.n;
    if (g.v.length !== numbers) throw new ColumnsError(`g.${gi}.v: the shape has ${numbers} numbers but ${g.v.length} columns were sent`);
    bytes += counter.chars * n;
    if (bytes > limits.maxBytes) throw new ColumnsError(`expands beyond ${limits.maxBytes} bytes`);
    const v = g.v as unknown[];
    const cols = new Array<number | number[]>(v.length);
    for (let j = 0; j < v.length; j++) cols[j] = columnValues(v[j], n, gi, j);
    const at: Cursor = { cols, row: 0, j: 0 };
    for (let row = 0; row < n; row++) {
      const pos = r[row];
      if (typeof pos !== 'number' || !Number.isInteger(pos) || pos < 0 || pos >= total || reports[pos] !== undefined) {
        throw new ColumnsError(`g.${gi}.r.${row}: must be a position in the batch (0…${total - 1}), each once`);
      }
      at.row = row;
      at.j = 0;
      reports[pos] = limits.consume && row === n - 1 ? fillInPlace(shape, at) : fill(shape, at);
    }
  }
  return { reports };
}
