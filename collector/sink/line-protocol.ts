/**
 * InfluxDB line protocol with millisecond timestamps, as both sinks write it: the general
 * `toLineProtocol(point)` and the escaping pieces the ingest hot path (ingest/points.ts) builds lines
 * from directly. No regular expressions on the hot path: a string is scanned once by char code.
 */
import { SinkError, type Point } from './sink.js';

function invalid(message: string): SinkError {
  return new SinkError(`point not writable: ${message}`, false);
}

const BS = 92; // backslash
const SPACE = 32;
const COMMA = 44;
const EQ = 61;
const LF = 10;
const CR = 13;
const QUOTE = 34;

/**
 * Checks a measurement name, tag key, tag value or field key can be written as line protocol:
 * non-empty, no line breaks, no backslash before a character that must be escaped or at the end
 * (InfluxDB 1.x cannot represent those). `eqSpecial`: `=` must be escaped too (keys and tag values).
 */
function checkName(s: string, what: string, eqSpecial: boolean): void {
  if (typeof s !== 'string' || s.length === 0) throw invalid(`${what} must be a non-empty string`);
  let badBackslash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF || c === CR) throw invalid(`${what} ${JSON.stringify(s)} contains a line break`);
    if (c === BS) {
      const n = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
      if (n === -1 || n === SPACE || n === COMMA || (eqSpecial && n === EQ)) badBackslash = true;
    }
  }
  if (badBackslash) throw invalid(`${what} ${JSON.stringify(s)} has a backslash InfluxDB 1.x cannot store (at the end or before a space, comma or =)`);
}

/** Puts a backslash before every space and comma (and `=` when `eq`). */
function escapeChars(s: string, eq: boolean): string {
  let out: string | undefined;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === SPACE || c === COMMA || (eq && c === EQ)) {
      out = (out ?? '') + s.slice(from, i) + '\\';
      from = i;
    }
  }
  return out === undefined ? s : out + s.slice(from);
}

/** Escapes a measurement name (spaces and commas). */
export const escMeasurement = (s: string): string => escapeChars(s, false);
/** Escapes a tag key, tag value or field key (spaces, commas and `=`). */
export const escKey = (s: string): string => escapeChars(s, true);

/** Escapes the inside of a string field value (backslashes and double quotes). */
export function escString(s: string): string {
  let out: string | undefined;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === BS || c === QUOTE) {
      out = (out ?? '') + s.slice(from, i) + '\\';
      from = i;
    }
  }
  return out === undefined ? s : out + s.slice(from);
}

/**
 * The escaped form of a tag key, tag value or field key when it is plainly writable (non-empty, no
 * backslash, no line break), else undefined: then `toLineProtocol` decides, with its error message.
 */
export function escKeyFast(s: string): string | undefined {
  if (s.length === 0) return undefined;
  let special = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === BS || c === LF || c === CR) return undefined;
    if (c === SPACE || c === COMMA || c === EQ) special = true;
  }
  return special ? escapeChars(s, true) : s;
}

/**
 * The same string, flattened: a line built by concatenation is a tree of V8 cons strings (~25 small
 * objects, ~920 bytes for a 137-character ping line); reading one character makes V8 copy it into one flat
 * string (~175 bytes) and drop the pieces while they are still young. Lines wait in the sink for InfluxDB's
 * answer, often past a scavenge or two: unflattened, every piece was copied by each scavenge and then
 * promoted (the largest share of what survived scavenges in the province soak).
 */
export function flatString(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * One point as a line of InfluxDB line protocol with a millisecond timestamp. Numbers become
 * floats, strings quoted strings; tags are sorted by key, and tags with an empty value are left
 * out (InfluxDB 1.x rejects them; a missing tag and an empty one read the same in InfluxQL).
 * Throws a non-retryable SinkError for a point that cannot be written.
 */
export function toLineProtocol(p: Point): string {
  checkName(p.measurement, 'measurement', false);
  let line = escMeasurement(p.measurement);
  for (const key of Object.keys(p.tags).sort()) {
    const value = p.tags[key];
    if (value === undefined || value === '') continue;
    checkName(key, `tag key of ${p.measurement}`, true);
    if (typeof value !== 'string') throw invalid(`tag ${key} of ${p.measurement} must be a string`);
    checkName(value, `value of tag ${key} of ${p.measurement}`, true);
    line += `,${escKey(key)}=${escKey(value)}`;
  }
  let sep = ' ';
  for (const [key, value] of Object.entries(p.fields)) {
    checkName(key, `field key of ${p.measurement}`, true);
    let v: string;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw invalid(`field ${key} of ${p.measurement} is ${value}; only finite numbers can be stored`);
      v = String(value); // never an `i` suffix: always a float
    } else if (typeof value === 'string') {
      v = `"${escString(value)}"`;
    } else {
      throw invalid(`field ${key} of ${p.measurement} must be a number or a string, got ${value === null ? 'null' : typeof value}`);
    }
    line += `${sep}${escKey(key)}=${v}`;
    sep = ',';
  }
  if (sep === ' ') throw invalid(`point of ${p.measurement} has no fields`);
  if (!Number.isFinite(p.timestampMs)) throw invalid(`timestampMs of ${p.measurement} is ${p.timestampMs}`);
  return `${line} ${Math.round(p.timestampMs)}`;
}

// -------------------------------------------------------------------------------------------------
// Lines as bytes: what the ingest hot path writes an upload into, and the sink posts as it is.

/**
 * An upload's lines as the bytes InfluxDB is sent: each line followed by `\n`, and `ends[i]` the offset just
 * past line i's `\n` (a string field may hold a line break of its own, so lines are not found by scanning).
 */
export interface LineBlock {
  readonly bytes: Buffer;
  readonly ends: Uint32Array;
}

/** Default first size of a LineWriter's buffer, bytes: one large upload's lines (a report is ~4 kB). */
export const LINE_WRITER_BYTES = 256 * 1024;

/**
 * Writes lines of line protocol straight into one reused buffer (grown when a batch needs more), ASCII
 * without any encoder call, and hands them out as a LineBlock of their own. No string is built for a line.
 */
export class LineWriter {
  private buf: Buffer;
  private pos = 0;
  private ends: number[] = [];

  constructor(opts: { initialBytes?: number } = {}) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, opts.initialBytes ?? LINE_WRITER_BYTES));
  }

  /** Lines written since the last take(). */
  get lines(): number {
    return this.ends.length;
  }

  /** Where the writer is, to go back to with rewind() (a report that must take the general path). */
  mark(): number {
    return this.pos;
  }

  /** Drops what was written after `mark` (lines ended since then included). */
  rewind(mark: number): void {
    this.pos = mark;
    const ends = this.ends;
    while (ends.length > 0 && (ends[ends.length - 1] as number) > mark) ends.pop();
  }

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Writes a string as UTF-8 (a char-code loop while it is ASCII). */
  str(s: string): void {
    const n = s.length;
    this.room(n * 3);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = p + buf.write(s.slice(i), p, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** Writes one ASCII byte. */
  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /**
   * Writes a finite number as `String(v)` writes it, without making the string for integers and for
   * decimals of up to 6 fraction digits and 15 significant ones (RTTs, percentages: most of a report).
   */
  num(v: number): void {
    if (Number.isSafeInteger(v)) return this.digits(v, 0);
    const a = Math.abs(v);
    if (a >= 1e-6 && a < 1e9) {
      // The fewest fraction digits k whose decimal reads back as v: with at most 15 significant digits
      // only one such decimal exists, and it is the shortest, which is what String(v) writes.
      for (let k = 1, p = 10; k <= 6; k++, p *= 10) {
        const s = Math.round(a * p);
        if (s > 999_999_999_999_999) break;
        if (s / p === a) {
          if (v < 0) this.byte(45); // '-'
          return this.digits(s, k);
        }
      }
    }
    this.str(String(v));
  }

  /** Writes a safe integer, with a decimal point `point` digits from its end (zero-padded) when point > 0. */
  private digits(v: number, point: number): void {
    this.room(20);
    const buf = this.buf;
    if (v < 0) {
      buf[this.pos++] = 45; // '-'
      v = -v;
    }
    let n = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) n++;
    // A fraction needs at least one digit before the point: 0.05 is 5 with point 2.
    if (point > 0 && n <= point) n = point + 1;
    let p = this.pos + n + (point > 0 ? 1 : 0);
    this.pos = p;
    for (let i = 0; i < n; i++) {
      if (point > 0 && i === point) buf[--p] = 46; // '.'
      buf[--p] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
  }

  /** Ends the line being written. */
  endLine(): void {
    this.byte(LF);
    this.ends.push(this.pos);
  }

  /** The lines written since the last take(), in a buffer of their own; the writer starts over. */
  take(): LineBlock {
    const bytes = Buffer.allocUnsafe(this.pos);
    this.buf.copy(bytes, 0, 0, this.pos);
    const ends = Uint32Array.from(this.ends);
    this.pos = 0;
    this.ends.length = 0;
    return { bytes, ends };
  }
}

/** Lines `from` to `to` (exclusive) of a block, sharing its bytes. */
export function sliceBlock(block: LineBlock, from: number, to = block.ends.length): LineBlock {
  const start = from === 0 ? 0 : (block.ends[from - 1] as number);
  const end = to === 0 ? 0 : (block.ends[to - 1] as number);
  const ends = new Uint32Array(to - from);
  for (let i = from; i < to; i++) ends[i - from] = (block.ends[i] as number) - start;
  return { bytes: block.bytes.subarray(start, end), ends };
}

/** The block's lines as strings (without their `\n`): for the rare paths that rework lines (partial writes). */
export function blockLines(block: LineBlock): string[] {
  const out = new Array<string>(block.ends.length);
  let start = 0;
  for (let i = 0; i < block.ends.length; i++) {
    const end = block.ends[i] as number;
    out[i] = block.bytes.toString('utf8', start, end - 1);
    start = end;
  }
  return out;
}

/** Lines as a block, as LineWriter would have written them. */
export function linesBlock(lines: readonly string[], writer = new LineWriter({ initialBytes: 1024 })): LineBlock {
  for (const l of lines) {
    writer.str(l);
    writer.endLine();
  }
  return writer.take();
}
