/**
 * The coverage history: every `coverageIntervalS` the collector writes one `coverage` point per region
 * (national, each province, city and county), so a year of history is a query over a few thousand
 * series instead of a group-by over raw per-school data.
 */
import type { Point } from '../../sink/sink.js';
import { coverageFields, type CoverageModel } from './model.js';
import { NATIONAL_CODE } from './view.js';

/** The `coverage` points of every region at `nowMs`, stamped `timestampMs`. */
export function coveragePoints(model: CoverageModel, nowMs: number, timestampMs: number): Point[] {
  const reg = model.registry;
  const roll = model.rollup(nowMs);
  const points: Point[] = [{ measurement: 'coverage', tags: { level: 'national', region: NATIONAL_CODE }, fields: coverageFields(roll.national), timestampMs }];
  const levels = [
    ['province', reg.provinces],
    ['city', reg.cities],
    ['county', reg.counties],
  ] as const;
  for (const [level, map] of levels) {
    for (const code of map.keys()) {
      const c = roll.byCode.get(code);
      if (c) points.push({ measurement: 'coverage', tags: { level, region: code }, fields: coverageFields(c), timestampMs });
    }
  }
  return points;
}
