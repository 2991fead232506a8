/**
 * Per-point failure: finds the measurements of a valid report that InfluxDB 1.x could not store, so
 * they are left out and counted instead of costing the whole report (line protocol would refuse the
 * batch, and the agent quarantine it). What the schema lets through but line protocol cannot hold:
 * a tag value with a backslash at its end or before a space, comma or `=` (an `ifName` ending in `\`),
 * and a measurement without fields (`modem` with none mapped).
 */
import type { Measurement } from '../../protocol/index.js';

const SPACE = 32;
const COMMA = 44;
const EQ = 61;

/** Why a point cannot be stored, as counted in `dropped_points`. */
export type UnwritableReason = 'unencodable_tag' | 'no_fields';

/** True when `s` has a backslash InfluxDB 1.x cannot store in a tag (at the end, or before a space, comma or `=`). */
export function hasBadBackslash(s: string): boolean {
  let i = s.indexOf('\\');
  while (i >= 0) {
    const n = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
    if (n === -1 || n === SPACE || n === COMMA || n === EQ) return true;
    // Every backslash is judged alone, as line-protocol.ts's checkName does (`\\ ` fails on its second one).
    i = s.indexOf('\\', i + 1);
  }
  return false;
}

/** Why this (schema-valid) measurement cannot be stored, or undefined when it can. Allocates nothing. */
export function unwritable(m: Measurement): UnwritableReason | undefined {
  const tags = m.tags as Record<string, string>;
  for (const k in tags) {
    const v = tags[k] as string;
    if (v.indexOf('\\') >= 0 && hasBadBackslash(v)) return 'unencodable_tag';
  }
  for (const _ in m.fields) return undefined;
  return 'no_fields';
}
