/**
 * Coverage rows of the hub: a region's latest roll-up in the shape of a province's coverage row
 * (docs/views.md#coverage), with where it came from (the province's as-of time) and whether that
 * province is stale. National figures are sums of the provinces' last known figures, stale ones
 * included and named, never counted as zero online.
 */
import { LINK_TYPES } from '../../../protocol/index.js';
import { bundledDivisions } from '../../registry/divisions.js';
import { TIERS } from '../../views/coverage/tiers.js';
import type { ProvinceFeed, RegionRollup, RollupStore } from '../store.js';

/** The national level's code, as in a province's API. */
export const NATIONAL = '000000';

/** The window a roll-up's school-hours online rate covers, days (the province's 7-day rate). */
export const SCHOOL_HOURS_DAYS = 7;

export type HubLevel = 'national' | 'province' | 'city' | 'county';

/** Whether a province's data is current, and if not since when it is not. */
export interface Freshness {
  /** The province's roll-ups stopped for longer than `staleAfterMs` (or never came). */
  stale: boolean;
  /** As-of time of the data shown (the province's clock for its figures), ISO. */
  asOf: string | null;
  /** When the hub received that roll-up, ISO. */
  receivedAt: string | null;
}

export interface HubCoverageRow extends Freshness {
  level: HubLevel;
  code: string;
  name: string;
  /** Two-digit province code of the region (national: null). */
  province: string | null;
  registered: number;
  online: number;
  offline: number;
  neverSeen: number;
  /** online / registered; 0 with no schools. */
  onlineShare: number;
  tiers: Record<string, number>;
  tierSource: { measured: number; contracted: number; unknown: number };
  links: Record<string, number>;
  satellite: number;
  satelliteShare: number;
  /** The province's school-hours online rate (7 days); null with a reason when unknown. */
  schoolHoursOnline: { days: number; onlinePct: number | null; reason?: string }[];
  /** Firing alerts in the province for this region, by rule. */
  alertsFiring: Record<string, number>;
}

/** The national row adds which provinces it is made of and which of them are stale. */
export interface NationalRow extends HubCoverageRow {
  provinces: { reporting: number; stale: number };
  /** Provinces summed with their last known figures: their roll-ups stopped. */
  staleProvinces: { code: string; name: string; asOf: string | null; receivedAt: string | null }[];
}

const iso = (ms: number | undefined | null): string | null => (ms == null || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

/** `32` or `320000` → `32`. */
export function provinceKey(code: string): string {
  return code.slice(0, 2);
}

/** Feeds by two-digit province code. */
export function feedsByProvince(store: RollupStore): Map<string, ProvinceFeed> {
  return new Map(store.feeds().map((f) => [provinceKey(f.province), f]));
}

/** Whether a province's feed is stale at `nowMs`: no feed, or its last roll-up arrived more than `staleAfterMs` ago. */
export function isStale(feed: ProvinceFeed | undefined, nowMs: number, staleAfterMs: number): boolean {
  return !feed || nowMs - feed.receivedAt > staleAfterMs;
}

/** The name of a region: the roll-up's, else the national division list's, else the code. */
export function regionName(code: string, given?: string): string {
  if (given) return given;
  if (code === NATIONAL) return '全国';
  const d = bundledDivisions();
  return d.provinces.get(code) ?? d.cities.get(code) ?? d.counties.get(code)?.name ?? code;
}

function emptyTiers(): Record<string, number> {
  return Object.fromEntries(TIERS.map((t) => [t.json, 0]));
}

function emptyLinks(): Record<string, number> {
  return Object.fromEntries(LINK_TYPES.map((l) => [l, 0]));
}

/** A region's row from its latest roll-up. */
export function rowOf(r: RegionRollup, feed: ProvinceFeed | undefined, nowMs: number, staleAfterMs: number): HubCoverageRow {
  const tiers = emptyTiers();
  let measured = 0;
  let contracted = 0;
  for (const [tier, n] of Object.entries(r.tiers)) {
    tiers[tier] = (tiers[tier] ?? 0) + n.measured + n.contracted;
    measured += n.measured;
    contracted += n.contracted;
  }
  const links = { ...emptyLinks(), ...r.links };
  const satellite = (links['sat-geo'] ?? 0) + (links['sat-leo'] ?? 0);
  return {
    level: r.level,
    code: r.region,
    name: regionName(r.region, r.name),
    province: provinceKey(r.region),
    registered: r.registered,
    online: r.online,
    offline: r.offline,
    neverSeen: r.neverSeen,
    onlineShare: r.registered ? r.online / r.registered : 0,
    tiers,
    tierSource: { measured, contracted, unknown: r.tierUnknown },
    links,
    satellite,
    satelliteShare: r.registered ? satellite / r.registered : 0,
    schoolHoursOnline: [{ days: SCHOOL_HOURS_DAYS, onlinePct: r.schoolHoursOnlinePct, ...(r.schoolHoursOnlinePct === null ? { reason: r.schoolHoursUnknownReason ?? 'the province sent no school-hours rate' } : {}) }],
    alertsFiring: { ...r.alertsFiring },
    stale: isStale(feed, nowMs, staleAfterMs),
    asOf: iso(r.asOf),
    receivedAt: iso(r.receivedAt),
  };
}

/**
 * The national row: the provinces' rows summed. The school-hours rate is the mean of the provinces'
 * rates weighted by registered schools, over the provinces that have one (a province's own rate weighs
 * its schools' hours; the hub has only the rate), and says which provinces it leaves out.
 */
export function nationalRow(provinces: readonly HubCoverageRow[]): NationalRow {
  const tiers = emptyTiers();
  const links = emptyLinks();
  const tierSource = { measured: 0, contracted: 0, unknown: 0 };
  const alertsFiring: Record<string, number> = {};
  let registered = 0, online = 0, offline = 0, neverSeen = 0, satellite = 0;
  let hoursWeighted = 0, hoursSchools = 0;
  const hoursMissing: string[] = [];
  let asOf: number | null = null;
  for (const p of provinces) {
    registered += p.registered;
    online += p.online;
    offline += p.offline;
    neverSeen += p.neverSeen;
    satellite += p.satellite;
    for (const [k, n] of Object.entries(p.tiers)) tiers[k] = (tiers[k] ?? 0) + n;
    for (const [k, n] of Object.entries(p.links)) links[k] = (links[k] ?? 0) + n;
    for (const [k, n] of Object.entries(p.alertsFiring)) alertsFiring[k] = (alertsFiring[k] ?? 0) + n;
    tierSource.measured += p.tierSource.measured;
    tierSource.contracted += p.tierSource.contracted;
    tierSource.unknown += p.tierSource.unknown;
    const pct = p.schoolHoursOnline[0]?.onlinePct;
    if (pct == null) hoursMissing.push(p.name);
    else {
      hoursWeighted += pct * p.registered;
      hoursSchools += p.registered;
    }
    const t = p.asOf ? Date.parse(p.asOf) : NaN;
    // The national figures are as old as the oldest province in them.
    if (Number.isFinite(t)) asOf = asOf === null ? t : Math.min(asOf, t);
  }
  const stale = provinces.filter((p) => p.stale);
  const hours = hoursSchools > 0
    ? { days: SCHOOL_HOURS_DAYS, onlinePct: hoursWeighted / hoursSchools, ...(hoursMissing.length ? { reason: `without ${hoursMissing.join(', ')} (no school-hours rate)` } : {}) }
    : { days: SCHOOL_HOURS_DAYS, onlinePct: null, reason: provinces.length ? 'no province sent a school-hours rate' : 'no province has sent a roll-up yet' };
  return {
    level: 'national',
    code: NATIONAL,
    name: regionName(NATIONAL),
    province: null,
    registered,
    online,
    offline,
    neverSeen,
    onlineShare: registered ? online / registered : 0,
    tiers,
    tierSource,
    links,
    satellite,
    satelliteShare: registered ? satellite / registered : 0,
    schoolHoursOnline: [hours],
    alertsFiring,
    stale: stale.length > 0,
    asOf: iso(asOf),
    receivedAt: null,
    provinces: { reporting: provinces.length - stale.length, stale: stale.length },
    staleProvinces: stale.map((p) => ({ code: p.code, name: p.name, asOf: p.asOf, receivedAt: p.receivedAt })),
  };
}

/** The level of a region code on the hub, or undefined when no province has sent it. */
export function levelOf(store: RollupStore, code: string): HubLevel | undefined {
  if (code === NATIONAL) return 'national';
  return store.latest(code)?.level;
}

/** The breadcrumb of a region: national, then its province, its city (when it has one), then itself. */
export function trailOf(store: RollupStore, code: string): { level: HubLevel; code: string; name: string }[] {
  const out: { level: HubLevel; code: string; name: string }[] = [{ level: 'national', code: NATIONAL, name: regionName(NATIONAL) }];
  const r = store.latest(code);
  if (!r) return out;
  const province = store.latest(`${provinceKey(code)}0000`);
  if (province && province.region !== code) out.push({ level: 'province', code: province.region, name: regionName(province.region, province.name) });
  const city = r.level === 'county' ? store.latest(`${code.slice(0, 4)}00`) : undefined;
  if (city && city.level === 'city' && city.region !== code) out.push({ level: 'city', code: city.region, name: regionName(city.region, city.name) });
  out.push({ level: r.level, code: r.region, name: regionName(r.region, r.name) });
  return out;
}

/**
 * The province console's page of a region, where its school lists are: `<consoleUrl>` names the
 * province's console (".../console" or its root); the overview of a region is its root with `?region=`.
 */
export function provinceConsoleLink(feed: ProvinceFeed | undefined, code: string): string | null {
  if (!feed?.consoleUrl) return null;
  const base = feed.consoleUrl.replace(/\/+$/, '').replace(/\/console$/, '');
  return `${base}/?region=${encodeURIComponent(code)}`;
}
