/**
 * What to do with InfluxDB 1.x's partial writes: `partial write: field type conflict: input field "in_bps"
 * on measurement "iface" is type float, already exists as type integer dropped=4`. The batch is stored
 * except the points named; for a type conflict the loss can be narrowed to the value: the same points
 * written again without the conflicting field keep their other fields (a conflict costs that value, not
 * the point). Line-protocol handling here is for lines as line-protocol.ts writes them.
 */
import type { PartialWrite } from './sink.js';

const PARTIAL_REASONS: readonly [RegExp, string][] = [
  [/field type conflict/i, 'type_conflict'],
  [/max-values-per-tag/i, 'tag_values_limit'],
  [/max-series-per-database/i, 'series_limit'],
  [/invalid field name|invalid field format/i, 'invalid_field'],
  [/beyond retention/i, 'beyond_retention'],
];

/**
 * A 400 `partial write: … dropped=N` read as what it is: InfluxDB stored the batch except N points.
 * Undefined for any other answer (a batch InfluxDB refused whole).
 */
export function parsePartialWrite(status: number, text: string): PartialWrite | undefined {
  // Unparseable lines are not in InfluxDB's `dropped` count: what was lost is unknown, so it is a refusal.
  if (status !== 400 || !/^partial write\b/i.test(text) || /unable to parse/i.test(text)) return undefined;
  const n = /\bdropped=(\d+)\s*$/.exec(text);
  if (!n) return undefined;
  const reason = PARTIAL_REASONS.find(([re]) => re.test(text))?.[1] ?? 'refused';
  return { droppedPoints: Number(n[1]), droppedFields: 0, reason, message: text };
}

/** The measurement and field a type-conflict message names, when it names them. */
export function conflictingField(message: string): { measurement: string; field: string } | undefined {
  const m = /input field "((?:[^"\\]|\\.)*)" on measurement "((?:[^"\\]|\\.)*)" is type/.exec(message);
  return m ? { field: m[1] as string, measurement: m[2] as string } : undefined;
}

/** Index of the first space not escaped by a backslash, from `from`. */
function unescapedSpace(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 32) return i;
  }
  return -1;
}

/** The measurement of a line: up to the first unescaped comma or space. */
function measurementOf(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (ch === '\\') {
      out += line[++i] ?? '';
      continue;
    }
    if (ch === ',' || ch === ' ') return out;
    out += ch;
  }
  return out;
}

/** The fields of a line's field set (`k=v,k="s, with \"quotes\""`), split at commas outside strings. */
function splitFields(fields: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < fields.length; i++) {
    const c = fields[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(fields.slice(start, i));
      start = i + 1;
    }
  }
  out.push(fields.slice(start));
  return out;
}

/**
 * The lines with `field` removed from every point of `measurement`: `lines` to write again (the points
 * that had it, with their other fields), and how many points lost only that value (`stripped`) or had
 * nothing else (`emptied`, lost whole).
 */
export function withoutField(lines: readonly string[], target: { measurement: string; field: string }): { lines: string[]; stripped: number; emptied: number } {
  const out: string[] = [];
  let stripped = 0;
  let emptied = 0;
  const key = target.field.replace(/([ ,=])/g, '\\$1');
  for (const line of lines) {
    if (measurementOf(line) !== target.measurement) continue;
    const head = unescapedSpace(line, 0);
    const tail = line.lastIndexOf(' ');
    if (head < 0 || tail <= head) continue;
    const fields = splitFields(line.slice(head + 1, tail));
    const kept = fields.filter((f) => !f.startsWith(`${key}=`));
    if (kept.length === fields.length) continue;
    if (kept.length === 0) {
      emptied++;
      continue;
    }
    stripped++;
    out.push(`${line.slice(0, head)} ${kept.join(',')}${line.slice(tail)}`);
  }
  return { lines: out, stripped, emptied };
}
