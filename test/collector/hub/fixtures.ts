/** Roll-ups for hub tests: a province with cities and counties whose counts add up. */
import type { RegionAggregate, Rollup } from '../../../protocol/rollup.js';

export const T0 = 1_780_000_000_000;

/** One region's aggregates with `registered` schools split into online/offline/never seen. */
export function region(code: string, level: RegionAggregate['level'], online: number, offline = 0, neverSeen = 0, over: Partial<RegionAggregate> = {}): RegionAggregate {
  const registered = online + offline + neverSeen;
  return {
    region: code,
    level,
    registered,
    online,
    offline,
    neverSeen,
    schoolHoursOnlinePct: registered ? 90 : null,
    ...(registered ? {} : { schoolHoursUnknownReason: 'no schools' }),
    tiers: { '100': { measured: online, contracted: offline + neverSeen } },
    tierUnknown: 0,
    links: { fiber: registered },
    compliance: { 'cn-bb-02': { pass: online, fail: offline, unknown: neverSeen } },
    alertsFiring: { 'school-offline': offline },
    ...over,
  };
}

/**
 * A province `pp` with one city `pp01` of two counties (`pp0102`, `pp0103`) and one county folded under the
 * province (`pp9001`); `online[i]` online schools in the i-th county, one offline school in each.
 */
export function makeRollup(pp: string, over: Partial<Rollup> = {}, online: [number, number, number] = [3, 2, 1]): Rollup {
  const [a, b, c] = online;
  const counties = [region(`${pp}0102`, 'county', a, 1), region(`${pp}0103`, 'county', b, 1), region(`${pp}9001`, 'county', c, 1)];
  return {
    v: 1,
    province: pp,
    collector: `prov-${pp}`,
    epoch: 'epoch0001',
    seq: 1,
    asOf: T0,
    sentAt: T0 + 10,
    consoleUrl: `https://collector-${pp}.example/console`,
    regions: [region(`${pp}0000`, 'province', a + b + c, 3), region(`${pp}0100`, 'city', a + b, 2), ...counties],
    ...over,
  };
}
