/** The JSON answer of `GET /api/v1/coverage`: a region's counts and each child's. */
import { RATE_WINDOWS, rateOf, type Availability, type AvailabilitySnapshot, type SchoolHoursRate } from './availability.js';
import { NF, countsOf, type CoverageCounts, type CoverageLevel, type CoverageModel } from './model.js';
import { TIERS } from './tiers.js';

/** One row of the answer: a region (or, under a county, a school) and its counts. */
export interface CoverageRow extends CoverageCounts {
  level: CoverageLevel | 'school';
  /** GB/T 2260 code (`000000` for national), or the school id. */
  code: string;
  name: string;
  /**
   * Share of school hours online over the last 7 and 30 days (school calendar); null until the first
   * region sums are computed after a start (a minute at most). School rows are always computed.
   */
  schoolHoursOnline: SchoolHoursRate[] | null;
}

/** A school row adds what the school itself looks like. */
export interface SchoolCoverageRow extends CoverageRow {
  level: 'school';
  status: 'online' | 'offline' | 'never_seen';
  schoolType: string;
  linkType: string;
  contractedMbps: number;
  /** Download rate of the last throughput test (iperf3), Mbit/s; null if never measured. */
  measuredMbps: number | null;
  /** When that test ran; null if never. */
  measuredAt: string | null;
  /** WAN port speed (ifHighSpeed) last polled, Mbit/s, shown as "port speed" only; null if never. Decides nothing. */
  portSpeedMbps: number | null;
  /** Where the school's tier came from: a fresh measurement, the contracted bandwidth, or neither. */
  tierFrom: 'measured' | 'contracted' | 'unknown';
  /** The bandwidth the tier came from, Mbit/s; null when unknown. */
  tierMbps: number | null;
  /** Why the tier is not from a measurement (absent when it is). */
  tierReason?: string;
  lastReportAt: string | null;
}

export interface CoverageAnswer extends CoverageRow {
  asOf: string;
  onlineWindowMin: number;
  /** When the region sums of `schoolHoursOnline` were computed, and since which day hours are counted. */
  schoolHours: { asOf: string | null; since: string | null };
  /** How tiers are decided, with the source of each boundary. */
  tierRules: { tier: string; minMbps: number; source: string }[];
  children: CoverageRow[];
}

/** The code the national level is known by in the `coverage` measurement and the API. */
export const NATIONAL_CODE = '000000';

const EMPTY = new Int32Array(NF);

/** The school-hours data a coverage answer reads. */
export interface SchoolHoursSource {
  availability: Availability;
  /** The latest region sums; undefined before the first. */
  snapshot: AvailabilitySnapshot | undefined;
}

function regionRates(hours: SchoolHoursSource | undefined, code: string): SchoolHoursRate[] | null {
  const counts = hours?.snapshot?.byCode.get(code);
  if (!hours?.snapshot) return null;
  return RATE_WINDOWS.map((d, k) => rateOf(d, counts?.[k] ?? { online: 0, school: 0 }, hours.availability.sinceDay));
}

/** Builds the answer; `undefined` when the region does not exist at that level. */
export function coverageAnswer(model: CoverageModel, level: CoverageLevel, code: string | undefined, nowMs: number, hours?: SchoolHoursSource): CoverageAnswer | undefined {
  const reg = model.registry;
  const roll = model.rollup(nowMs);
  const row = (lvl: CoverageLevel, c: string, name: string): CoverageRow => ({ level: lvl, code: c, name, ...countsOf(roll.byCode.get(c) ?? EMPTY), schoolHoursOnline: regionRates(hours, c) });
  let head: CoverageRow;
  let children: CoverageRow[];
  if (level === 'national') {
    head = { level, code: NATIONAL_CODE, name: reg.national.name, ...countsOf(roll.national), schoolHoursOnline: regionRates(hours, NATIONAL_CODE) };
    children = reg.national.children.map((c) => row('province', c, reg.provinces.get(c)?.name ?? c));
  } else {
    const region = code === undefined ? undefined : level === 'province' ? reg.provinces.get(code) : level === 'city' ? reg.cities.get(code) : reg.counties.get(code);
    if (!region) return undefined;
    head = row(level, region.code, region.name);
    if (region.level === 'county') {
      children = region.children.map((id) => schoolRow(model, id, nowMs, hours)).filter((r): r is SchoolCoverageRow => r !== undefined);
    } else {
      // A province's children may be folded counties (municipal districts, 仙桃, 东莞): each row has its own level.
      children = region.children.map((c) => {
        const child = reg.region(c);
        return row(child?.level ?? region.childLevel, c, child?.name ?? c);
      });
    }
  }
  return {
    ...head,
    asOf: new Date(nowMs).toISOString(),
    onlineWindowMin: model.onlineWindowMs / 60_000,
    schoolHours: {
      asOf: hours?.snapshot ? new Date(hours.snapshot.atMs).toISOString() : null,
      since: hours ? new Date(dayStartMs(hours.availability.sinceDay)).toISOString() : null,
    },
    tierRules: TIERS.map((t) => ({ tier: t.json, minMbps: t.minMbps, source: t.source })),
    children,
  };
}

/** China midnight of a China day number, ms. */
function dayStartMs(day: number): number {
  return day * 86_400_000 - 8 * 3_600_000;
}

function schoolRow(model: CoverageModel, id: string, nowMs: number, hours: SchoolHoursSource | undefined): SchoolCoverageRow | undefined {
  const c = model.school(id, nowMs);
  if (!c) return undefined;
  const l = c.liveness;
  return {
    level: 'school',
    code: id,
    name: c.school.name,
    ...countsOf(model.schoolCounters(c)),
    schoolHoursOnline: hours ? hours.availability.rates(id, c.school.provinceCode, nowMs) : null,
    status: c.status,
    schoolType: c.school.type,
    linkType: c.school.linkType,
    contractedMbps: c.school.contractedMbps,
    measuredMbps: l?.throughputMbps ?? null,
    measuredAt: l?.throughputAtMs != null ? new Date(l.throughputAtMs).toISOString() : null,
    portSpeedMbps: l?.wanSpeedBps != null ? l.wanSpeedBps / 1e6 : null,
    tierFrom: c.tierSource,
    tierMbps: c.speedMbps,
    ...(c.bandwidth.reason !== undefined && { tierReason: c.bandwidth.reason }),
    lastReportAt: l ? new Date(l.lastReportMs).toISOString() : null,
  };
}
