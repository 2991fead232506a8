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
import { LINK_FIELDS, TIERS, bandwidthOf, isSatellite, linkIndex, measuredUntilMs, tierOf, type Bandwidth, type BandwidthSource } from './tiers.js';

/** Counter slots per region. */
export const F = {
  registered: 0,
  online: 1,
  neverSeen: 2,
  tier: 3, // 5 slots, TIERS order
  measured: 8,
  satellite: 9,
  /** Schools with neither a fresh measurement nor a contracted bandwidth: in no tier. */
  tierUnknown: 10,
  link: 11, // 7 slots, LINK_TYPES order
} as const;
export const NF = 11 + LINK_TYPES.length;

/** slotTier of a school in no tier. */
const NO_TIER = 255;

/** Default of how long a throughput measurement decides a school's tier: 7 days, the window of CN-BB-02. */
export const DEFAULT_MEASURED_FRESH_MS = 7 * 86_400_000;

/** The levels a coverage request can name. */
export const COVERAGE_LEVELS = ['national', 'province', 'city', 'county'] as const;
export type CoverageLevel = (typeof COVERAGE_LEVELS)[number];

/** The status of one school. */
export type SchoolStatus = 'online' | 'offline' | 'never_seen';

/** One school's place in the counters, for the school-level rows of a county. */
export interface SchoolCoverage {
  school: School;
  status: SchoolStatus;
  /** Index into TIERS; -1 when the bandwidth is unknown. */
  tier: number;
  tierSource: BandwidthSource;
  /** The speed the tier came from, Mbit/s; null when unknown. */
  speedMbps: number | null;
  /** The bandwidth decision, with its date or reason. */
  bandwidth: Bandwidth;
  liveness: Liveness | undefined;
}

export interface CoverageModelOptions {
  registry: Registry;
  store: LivenessStore;
  onlineWindowMs: number;
  nowMs: number;
  /** How long a throughput measurement decides the tier before the contracted bandwidth does again, ms. Default 7 days. */
  measuredFreshMs?: number;
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
  private readonly freshMs: number;
  private readonly index = new Map<string, number>();
  private readonly schools: School[] = [];
  private readonly county: Int32Array;
  private readonly until: Float64Array;
  private readonly slotTier: Uint8Array;
  private readonly slotMeasured: Uint8Array;
  private readonly slotSeen: Uint8Array;
  private readonly slotOnline: Uint8Array;
  /** The time of the school's pending heap entry (Infinity: none); older entries in the heap are stale. */
  private readonly scheduledAt: Float64Array;
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
    this.freshMs = opts.measuredFreshMs ?? DEFAULT_MEASURED_FRESH_MS;
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
    this.scheduledAt = new Float64Array(n).fill(Infinity);
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
      const facts = { throughputMbps: l?.throughputMbps, throughputAtMs: l?.throughputAtMs, contractedMbps: s.contractedMbps };
      const bw = bandwidthOf(facts, nowMs, this.freshMs);
      this.slotTier[i] = bw.mbps === null ? NO_TIER : tierOf(bw.mbps);
      this.slotMeasured[i] = bw.source === 'measured' ? 1 : 0;
      this.slotSeen[i] = l ? 1 : 0;
      this.until[i] = onlineUntilMs(l, this.windowMs);
      this.slotOnline[i] = (this.until[i] as number) > nowMs ? 1 : 0;
      // The next time the school's place changes by the clock alone: online ends, or its measurement ages out.
      const until = this.until[i] as number;
      const measuredUntil = measuredUntilMs(facts, this.freshMs);
      const next = Math.min(until > nowMs ? until : Infinity, measuredUntil > nowMs ? measuredUntil : Infinity);
      if (next < (this.scheduledAt[i] as number)) this.push(next, i);
    }
    const tier = this.slotTier[i] as number;
    bump(this.counters, base + (tier === NO_TIER ? F.tierUnknown : F.tier + tier), sign);
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
    this.scheduledAt[i] = t;
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

  /** Removes the earliest entry; returns its school (its time is `heapT[0]` before the call). */
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
    return top;
  }

  /** Moves schools whose online time ran out to offline, and those whose measurement aged out to their contracted tier. */
  expire(nowMs: number): void {
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
    while (this.heapT.length > 0 && (this.heapT[0] as number) <= nowMs) {
      const t = this.heapT[0] as number;
      const i = this.pop();
      if (t !== this.scheduledAt[i]) continue; // superseded by an earlier entry
      this.scheduledAt[i] = Infinity;
      this.place(i, undefined, nowMs, -1);
      this.place(i, this.store.get((this.schools[i] as School).id), nowMs, +1);
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
    const bandwidth = bandwidthOf({ throughputMbps: liveness?.throughputMbps, throughputAtMs: liveness?.throughputAtMs, contractedMbps: school.contractedMbps }, nowMs, this.freshMs);
    const tier = this.slotTier[i] as number;
    return {
      school,
      status: this.slotOnline[i] ? 'online' : this.slotSeen[i] ? 'offline' : 'never_seen',
      tier: tier === NO_TIER ? -1 : tier,
      tierSource: bandwidth.source,
      speedMbps: bandwidth.mbps,
      bandwidth,
      liveness,
    };
  }

  /** The counters of one school (registered = 1), in the same layout as a region's. */
  schoolCounters(c: SchoolCoverage): Int32Array {
    const out = new Int32Array(NF);
    out[F.registered] = 1;
    out[F.online] = c.status === 'online' ? 1 : 0;
    out[F.neverSeen] = c.status === 'never_seen' ? 1 : 0;
    out[c.tier < 0 ? F.tierUnknown : F.tier + c.tier] = 1;
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
  /**
   * How many tiers came from a measured throughput (iperf3, fresh), how many from the contracted
   * bandwidth in the registry, and how many schools have neither (in no tier). Never the port speed.
   */
  tierSource: { measured: number; contracted: number; unknown: number };
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
  const unknown = c[F.tierUnknown] as number;
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
    tierSource: { measured, contracted: registered - measured - unknown, unknown },
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
    tier_unknown: k.tierSource.unknown,
    satellite: k.satellite,
    satellite_pct: 100 * k.satelliteShare,
  };
  TIERS.forEach((t, i) => (fields[t.key] = c[F.tier + i] as number));
  LINK_FIELDS.forEach((name, i) => (fields[name] = c[F.link + i] as number));
  return fields;
}
