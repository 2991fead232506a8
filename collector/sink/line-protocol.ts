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
