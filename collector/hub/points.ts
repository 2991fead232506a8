/**
 * The hub's `rollup` measurement (docs/schema.md): one point per region of a roll-up, at its as-of time,
 * tagged province (2 digits), level and region; counts as integers, the school-hours rate as a float
 * (left out when unknown). Written as line protocol so the counts keep their integer type.
 */
import { fieldKey, type RegionAggregate, type Rollup } from '../../protocol/rollup.js';
import type { Point } from '../sink/sink.js';

/** The measurement's name. */
export const ROLLUP_MEASUREMENT = 'rollup';

/** The fields of one region: integer counts, and the float rate when known. */
export function rollupFields(g: RegionAggregate): { ints: Record<string, number>; floats: Record<string, number> } {
  const ints: Record<string, number> = {
    registered: g.registered,
    online: g.online,
    offline: g.offline,
    never_seen: g.neverSeen,
    tier_unknown: g.tierUnknown,
  };
  for (const [tier, c] of Object.entries(g.tiers)) {
    ints[`tier_${fieldKey(tier)}_measured`] = c.measured;
    ints[`tier_${fieldKey(tier)}_contracted`] = c.contracted;
  }
  for (const [link, n] of Object.entries(g.links)) ints[`link_${fieldKey(link)}`] = n;
  for (const [rule, c] of Object.entries(g.compliance)) {
    const k = fieldKey(rule);
    ints[`compliance_${k}_pass`] = c.pass;
    ints[`compliance_${k}_fail`] = c.fail;
    ints[`compliance_${k}_unknown`] = c.unknown;
  }
  for (const [rule, n] of Object.entries(g.alertsFiring)) ints[`alerts_${fieldKey(rule)}`] = n;
  const floats: Record<string, number> = {};
  if (g.schoolHoursOnlinePct !== null) floats.school_hours_online_pct = g.schoolHoursOnlinePct;
  if (g.schoolHours) {
    floats.school_hours_online_h = g.schoolHours.onlineHours;
    floats.school_hours_h = g.schoolHours.schoolHours;
  }
  return { ints, floats };
}

/**
 * One roll-up's lines, one per region. Nothing needs escaping: the tag values are an enum and digit
 * codes, the field keys `[a-z0-9_]` (fieldKey), the values finite numbers (the schema checked them).
 */
export function rollupLines(r: Rollup): string[] {
  return r.regions.map((g) => {
    const { ints, floats } = rollupFields(g);
    let fields = '';
    for (const [k, v] of Object.entries(floats)) fields += `${fields ? ',' : ''}${k}=${v}`;
    for (const [k, v] of Object.entries(ints)) fields += `${fields ? ',' : ''}${k}=${Math.round(v)}i`;
    return `${ROLLUP_MEASUREMENT},level=${g.level},province=${r.province},region=${g.region} ${fields} ${r.asOf}`;
  });
}

/** The same points as objects (for a sink without line protocol; its numbers are floats). */
export function rollupPoints(r: Rollup): Point[] {
  return r.regions.map((g) => {
    const { ints, floats } = rollupFields(g);
    return { measurement: ROLLUP_MEASUREMENT, tags: { level: g.level, province: r.province, region: g.region }, fields: { ...ints, ...floats }, timestampMs: r.asOf };
  });
}
