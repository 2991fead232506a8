/**
 * The hub's `rollup` measurement (docs/schema.md): one point per region of a roll-up, at its as-of time,
 * tagged province (2 digits), level and region; counts as integers, the school-hours rate as a float
 * (left out when unknown). Written as line protocol so the counts keep their integer type.
 */
import { fieldKey, type RegionAggregate, type Rollup } from '../../protocol/rollup.js';
import type { Point } from '../sink/sink.js';

/** The measurement's name. */
export const ROLLUP_MEASUREMENT = 'rollup';

/** fieldKey of the keys seen (rule, tier and link ids repeat in every region of every roll-up). */
const KEYS = new Map<string, string>();
const MAX_CACHED_KEYS = 10_000;
function key(id: string): string {
  let k = KEYS.get(id);
  if (k === undefined) {
    k = fieldKey(id);
    if (KEYS.size < MAX_CACHED_KEYS) KEYS.set(id, k);
  }
  return k;
}

/** The fields of one region: integer counts, and the float rate (and its hours) when known. */
export function rollupFields(g: RegionAggregate): { ints: Record<string, number>; floats: Record<string, number> } {
  const ints: Record<string, number> = {
    registered: g.registered,
    online: g.online,
    offline: g.offline,
    never_seen: g.neverSeen,
    tier_unknown: g.tierUnknown,
  };
  for (const tier in g.tiers) {
    const c = g.tiers[tier] as { measured: number; contracted: number };
    ints[`tier_${key(tier)}_measured`] = c.measured;
    ints[`tier_${key(tier)}_contracted`] = c.contracted;
  }
  for (const link in g.links) ints[`link_${key(link)}`] = g.links[link] as number;
  for (const rule in g.compliance) {
    const c = g.compliance[rule] as { pass: number; fail: number; unknown: number };
    const k = key(rule);
    ints[`compliance_${k}_pass`] = c.pass;
    ints[`compliance_${k}_fail`] = c.fail;
    ints[`compliance_${k}_unknown`] = c.unknown;
  }
  for (const rule in g.alertsFiring) ints[`alerts_${key(rule)}`] = g.alertsFiring[rule] as number;
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
  const out: string[] = [];
  for (const g of r.regions) {
    let line = `${ROLLUP_MEASUREMENT},level=${g.level},province=${r.province},region=${g.region} registered=${g.registered}i,online=${g.online}i,offline=${g.offline}i,never_seen=${g.neverSeen}i,tier_unknown=${g.tierUnknown}i`;
    for (const tier in g.tiers) {
      const c = g.tiers[tier] as { measured: number; contracted: number };
      const k = key(tier);
      line += `,tier_${k}_measured=${c.measured}i,tier_${k}_contracted=${c.contracted}i`;
    }
    for (const link in g.links) line += `,link_${key(link)}=${g.links[link]}i`;
    for (const rule in g.compliance) {
      const c = g.compliance[rule] as { pass: number; fail: number; unknown: number };
      const k = key(rule);
      line += `,compliance_${k}_pass=${c.pass}i,compliance_${k}_fail=${c.fail}i,compliance_${k}_unknown=${c.unknown}i`;
    }
    for (const rule in g.alertsFiring) line += `,alerts_${key(rule)}=${g.alertsFiring[rule]}i`;
    if (g.schoolHoursOnlinePct !== null) line += `,school_hours_online_pct=${g.schoolHoursOnlinePct}`;
    if (g.schoolHours) line += `,school_hours_online_h=${g.schoolHours.onlineHours},school_hours_h=${g.schoolHours.schoolHours}`;
    out.push(`${line} ${r.asOf}`);
  }
  return out;
}

/** The same points as objects (for a sink without line protocol; its numbers are floats). */
export function rollupPoints(r: Rollup): Point[] {
  return r.regions.map((g) => {
    const { ints, floats } = rollupFields(g);
    return { measurement: ROLLUP_MEASUREMENT, tags: { level: g.level, province: r.province, region: g.region }, fields: { ...ints, ...floats }, timestampMs: r.asOf };
  });
}
