/**
 * The coverage history: every `coverageIntervalS` the collector writes one `coverage` point per region
 * (national, each province, city and county), so a year of history is a query over a few thousand
 * series instead of a group-by over raw per-school data.
 */
import type { Point } from '../../sink/sink.js';
import { RATE_WINDOWS, type AvailabilitySnapshot } from './availability.js';
import { coverageFields, type CoverageModel } from './model.js';
import { NATIONAL_CODE } from './view.js';

/** `school_hours_online_7d_pct` / `_30d_pct` of a region, when its school hours are known and not 0. */
function schoolHoursFields(snapshot: AvailabilitySnapshot | undefined, code: string): Record<string, number> {
  const out: Record<string, number> = {};
  const counts = snapshot?.byCode.get(code);
  RATE_WINDOWS.forEach((d, k) => {
    const c = counts?.[k];
    if (c && c.school > 0) out[`school_hours_online_${d}d_pct`] = (100 * c.online) / c.school;
  });
  return out;
}

/** The `coverage` points of every region at `nowMs`, stamped `timestampMs` (with the school-hours rate of `snapshot`, if given). */
export function coveragePoints(model: CoverageModel, nowMs: number, timestampMs: number, snapshot?: AvailabilitySnapshot): Point[] {
  const reg = model.registry;
  const roll = model.rollup(nowMs);
  const points: Point[] = [{ measurement: 'coverage', tags: { level: 'national', region: NATIONAL_CODE }, fields: { ...coverageFields(roll.national), ...schoolHoursFields(snapshot, NATIONAL_CODE) }, timestampMs }];
  const levels = [
    ['province', reg.provinces],
    ['city', reg.cities],
    ['county', reg.counties],
  ] as const;
  for (const [level, map] of levels) {
    for (const code of map.keys()) {
      const c = roll.byCode.get(code);
      if (c) points.push({ measurement: 'coverage', tags: { level, region: code }, fields: { ...coverageFields(c), ...schoolHoursFields(snapshot, code) }, timestampMs });
    }
  }
  return points;
}
