/**
 * The coverage model: per-county counters kept up to date as liveness changes, rolled up to city,
 * province and national level on request.
 *
 * Why incremental: at 250,000 schools a request must not walk every school. Each school's
 * contribution (status, tier, link) sits in its county's counters; a liveness update moves it in
 * O(1). "Online" also ends by the clock alone, so each online school has one entry in a min-heap of
 * "online until" times; `expire(now)` pops the entries that ran out (O(log n) each). A rollup then
 * costs O(counties × fields), about 50,000 additions nationally, and is cached until a counter changes.
 */
import { LINK_TYPES, type LinkType } from '../../../protocol/index.js';
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import { onlineUntilMs, type Liveness, type LivenessStore } from '../liveness/store.js';
import { LINK_FIELDS, TIERS, isSatellite, linkIndex, tierOf } from './tiers.js';

/** Counter slots per region. */
export const F = {
  registered: 0,
  online: 1,
  neverSeen: 2,
  tier: 3, // 5 slots, TIERS order
  measured: 8,
  satellite: 9,
  link: 10, // 7 slots, LINK_TYPES order
} as const;
export const NF = 10 + LINK_TYPES.length;

/** The levels a coverage request can name. */
export const COVERAGE_LEVELS = ['national', 'province', 'city', 'county'] as const;
export type CoverageLevel = (typeof COVERAGE_LEVELS)[number];

/** The status of one school. */
export type SchoolStatus = 'online' | 'offline' | 'never_seen';

/** One school's place in the counters, for the school-level rows of a county. */
export interface SchoolCoverage {
  school: School;
  status: SchoolStatus;
  /** Index into TIERS. */
  tier: number;
  tierSource: 'measured' | 'contracted';
  /** The speed the tier came from, Mbit/s. */
  speedMbps: number;
  liveness: Liveness | undefined;
}

export interface CoverageModelOptions {
  registry: Registry;
  store: LivenessStore;
  onlineWindowMs: number;
  nowMs: number;
}

/** Counters of every region, from one rollup. */
export interface Rollup {
  national: Int32Array;
  byCode: Map<string, Int32Array>;
}

function bump(a: Int32Array, i: number, d: number): void {
  a[i] = (a[i] as number) + d;
}

export class CoverageModel {
  readonly registry: Registry;
  private readonly store: LivenessStore;
  private readonly windowMs: number;
  private readonly index = new Map<string, number>();
  private readonly schools: School[] = [];
  private readonly county: Int32Array;
  private readonly until: Float64Array;
  private readonly slotTier: Uint8Array;
  private readonly slotMeasured: Uint8Array;
  private readonly slotSeen: Uint8Array;
  private readonly slotOnline: Uint8Array;
  private readonly scheduled: Uint8Array;
  private readonly countyCodes: string[];
  private readonly counters: Int32Array;
  private readonly heapT: number[] = [];
  private readonly heapI: number[] = [];
  private version = 0;
  private cached: { version: number; rollup: Rollup } | undefined;
  private lastNowMs: number;

  constructor(opts: CoverageModelOptions) {
    this.registry = opts.registry;
    this.store = opts.store;
    this.windowMs = opts.onlineWindowMs;
    this.lastNowMs = opts.nowMs;
    this.countyCodes = [...opts.registry.counties.keys()];
    const countyIndex = new Map(this.countyCodes.map((c, i) => [c, i]));
    const n = opts.registry.schools.size;
    this.county = new Int32Array(n);
    this.until = new Float64Array(n).fill(-Infinity);
    this.slotTier = new Uint8Array(n);
    this.slotMeasured = new Uint8Array(n);
    this.slotSeen = new Uint8Array(n);
    this.slotOnline = new Uint8Array(n);
    this.scheduled = new Uint8Array(n);
    this.counters = new Int32Array(this.countyCodes.length * NF);
    let i = 0;
    for (const s of opts.registry.schools.values()) {
      this.index.set(s.id, i);
      this.schools.push(s);
      const c = countyIndex.get(s.countyCode) ?? 0;
      this.county[i] = c;
      const base = c * NF;
      bump(this.counters, base + F.registered, 1);
      bump(this.counters, base + F.link + linkIndex(s.linkType), 1);
      if (isSatellite(s.linkType)) bump(this.counters, base + F.satellite, 1);
      this.place(i, opts.store.get(s.id), opts.nowMs, +1);
      i++;
    }
  }

  /** The window a school stays online after its last internet answer, ms. */
  get onlineWindowMs(): number {
    return this.windowMs;
  }

  /** Adds (+1) or removes (-1) the liveness-dependent part of school `i`. */
  private place(i: number, l: Liveness | undefined, nowMs: number, sign: 1 | -1): void {
    const base = (this.county[i] as number) * NF;
    if (sign === 1) {
      const s = this.schools[i] as School;
      const measured = l?.wanSpeedBps != null && l.wanSpeedBps > 0;
      this.slotTier[i] = tierOf(measured ? (l.wanSpeedBps as number) / 1e6 : s.contractedMbps);
      this.slotMeasured[i] = measured ? 1 : 0;
      this.slotSeen[i] = l ? 1 : 0;
      this.until[i] = onlineUntilMs(l, this.windowMs);
      this.slotOnline[i] = (this.until[i] as number) > nowMs ? 1 : 0;
      if (this.slotOnline[i] && !this.scheduled[i]) this.push(this.until[i] as number, i);
    }
    bump(this.counters, base + F.tier + (this.slotTier[i] as number), sign);
    bump(this.counters, base + F.measured, sign * (this.slotMeasured[i] as number));
    bump(this.counters, base + F.neverSeen, sign * (1 - (this.slotSeen[i] as number)));
    bump(this.counters, base + F.online, sign * (this.slotOnline[i] as number));
  }

  /** A school's liveness changed (the store already holds the new value). Unknown schools are ignored. */
  update(schoolId: string, nowMs: number): void {
    const i = this.index.get(schoolId);
    if (i === undefined) return;
    this.expire(nowMs);
    this.place(i, undefined, nowMs, -1);
    this.place(i, this.store.get(schoolId), nowMs, +1);
    this.version++;
  }

  private push(t: number, i: number): void {
    const hT = this.heapT;
    const hI = this.heapI;
    let k = hT.length;
    hT.push(t);
    hI.push(i);
    this.scheduled[i] = 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if ((hT[p] as number) <= t) break;
      hT[k] = hT[p] as number;
      hI[k] = hI[p] as number;
      k = p;
    }
    hT[k] = t;
    hI[k] = i;
  }

  private pop(): number {
    const hT = this.heapT;
    const hI = this.heapI;
    const top = hI[0] as number;
    const lastT = hT.pop() as number;
    const lastI = hI.pop() as number;
    const n = hT.length;
    if (n > 0) {
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= n) break;
        if (c + 1 < n && (hT[c + 1] as number) < (hT[c] as number)) c++;
        if ((hT[c] as number) >= lastT) break;
        hT[k] = hT[c] as number;
        hI[k] = hI[c] as number;
        k = c;
      }
      hT[k] = lastT;
      hI[k] = lastI;
    }
    this.scheduled[top] = 0;
    return top;
  }

  /** Moves schools whose online time ran out to offline. */
  expire(nowMs: number): void {
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
    while (this.heapT.length > 0 && (this.heapT[0] as number) <= nowMs) {
      const i = this.pop();
      if (!this.slotOnline[i]) continue;
      const until = this.until[i] as number;
      if (until > nowMs) {
        this.push(until, i); // a newer report moved it on
        continue;
      }
      this.slotOnline[i] = 0;
      bump(this.counters, (this.county[i] as number) * NF + F.online, -1);
      this.version++;
    }
  }

  /** Counters of every region at `nowMs` (cached while nothing changed). */
  rollup(nowMs: number): Rollup {
    this.expire(nowMs);
    if (this.cached?.version === this.version) return this.cached.rollup;
    const byCode = new Map<string, Int32Array>();
    const national = new Int32Array(NF);
    const add = (code: string, src: Int32Array, off: number): void => {
      let dst = byCode.get(code);
      if (!dst) byCode.set(code, (dst = new Int32Array(NF)));
      for (let f = 0; f < NF; f++) dst[f] = (dst[f] as number) + (src[off + f] as number);
    };
    this.countyCodes.forEach((code, c) => {
      const county = this.registry.counties.get(code);
      if (!county) return;
      add(code, this.counters, c * NF);
      add(county.parent, this.counters, c * NF);
      const city = this.registry.cities.get(county.parent);
      if (city) add(city.parent, this.counters, c * NF);
      for (let f = 0; f < NF; f++) national[f] = (national[f] as number) + (this.counters[c * NF + f] as number);
    });
    const rollup = { national, byCode };
    this.cached = { version: this.version, rollup };
    return rollup;
  }

  /** One school's coverage facts, or undefined if it is not registered. */
  school(id: string, nowMs: number): SchoolCoverage | undefined {
    const i = this.index.get(id);
    if (i === undefined) return undefined;
    this.expire(nowMs);
    const school = this.schools[i] as School;
    const liveness = this.store.get(id);
    const measured = this.slotMeasured[i] === 1;
    return {
      school,
      status: this.slotOnline[i] ? 'online' : this.slotSeen[i] ? 'offline' : 'never_seen',
      tier: this.slotTier[i] as number,
      tierSource: measured ? 'measured' : 'contracted',
      speedMbps: measured ? (liveness?.wanSpeedBps ?? 0) / 1e6 : school.contractedMbps,
      liveness,
    };
  }

  /** The counters of one school (registered = 1), in the same layout as a region's. */
  schoolCounters(c: SchoolCoverage): Int32Array {
    const out = new Int32Array(NF);
    out[F.registered] = 1;
    out[F.online] = c.status === 'online' ? 1 : 0;
    out[F.neverSeen] = c.status === 'never_seen' ? 1 : 0;
    out[F.tier + c.tier] = 1;
    out[F.measured] = c.tierSource === 'measured' ? 1 : 0;
    out[F.satellite] = isSatellite(c.school.linkType) ? 1 : 0;
    out[F.link + linkIndex(c.school.linkType)] = 1;
    return out;
  }
}

/** Named counts of one region, as the API and the `coverage` measurement show them. */
export interface CoverageCounts {
  registered: number;
  online: number;
  offline: number;
  neverSeen: number;
  /** online / registered (0 with no schools). */
  onlineShare: number;
  /** Schools per bandwidth tier, keyed by the tier's lower bound in Mbit/s (`lt2`: below 2). */
  tiers: Record<string, number>;
  /** How many tiers came from measured WAN speed and how many from the contracted bandwidth. */
  tierSource: { measured: number; contracted: number };
  /** Schools per link type. */
  links: Record<LinkType, number>;
  satellite: number;
  satelliteShare: number;
}

export function countsOf(c: Int32Array): CoverageCounts {
  const registered = c[F.registered] as number;
  const online = c[F.online] as number;
  const neverSeen = c[F.neverSeen] as number;
  const measured = c[F.measured] as number;
  const satellite = c[F.satellite] as number;
  const tiers: Record<string, number> = {};
  TIERS.forEach((t, k) => (tiers[t.json] = c[F.tier + k] as number));
  const links = {} as Record<LinkType, number>;
  LINK_TYPES.forEach((t, k) => (links[t] = c[F.link + k] as number));
  return {
    registered,
    online,
    offline: registered - online - neverSeen,
    neverSeen,
    onlineShare: registered ? online / registered : 0,
    tiers,
    tierSource: { measured, contracted: registered - measured },
    links,
    satellite,
    satelliteShare: registered ? satellite / registered : 0,
  };
}

/** The float fields of the `coverage` measurement (docs/views.md). */
export function coverageFields(c: Int32Array): Record<string, number> {
  const k = countsOf(c);
  const fields: Record<string, number> = {
    registered: k.registered,
    online: k.online,
    offline: k.offline,
    never_seen: k.neverSeen,
    online_pct: 100 * k.onlineShare,
    measured_speed: k.tierSource.measured,
    satellite: k.satellite,
    satellite_pct: 100 * k.satelliteShare,
  };
  TIERS.forEach((t, i) => (fields[t.key] = c[F.tier + i] as number));
  LINK_FIELDS.forEach((name, i) => (fields[name] = c[F.link + i] as number));
  return fields;
}
