/** Bandwidth tiers and link-type keys of the coverage view, with where each tier boundary comes from. */
import { LINK_TYPES, type LinkType } from '../../../protocol/index.js';

/** Tiers, highest first: a school is in the first tier whose `minMbps` its speed reaches. */
export const TIERS = [
  { key: 'tier_1000', json: '1000', minMbps: 1000, source: 'CN-BB-05: gigabit to school (China Telecom 千兆进校, 2020)' },
  { key: 'tier_100', json: '100', minMbps: 100, source: 'CN-BB-02: ≥ 100 Mbps uplink (MoE + MIIT school-networking campaign 2019; Ten-Year Plan 2011-2020)' },
  { key: 'tier_20', json: '20', minMbps: 20, source: 'INT-01 / INT-04: 20 Mbps per school (ITU / Giga global benchmark)' },
  { key: 'tier_2', json: '2', minMbps: 2, source: 'CN-BB-03: ≥ 2 Mbps for remote schools and teaching points (Ten-Year Plan 2011-2020)' },
  { key: 'tier_lt2', json: 'lt2', minMbps: 0, source: 'below every target' },
] as const;

/** Index into TIERS of a speed in Mbit/s. */
export function tierOf(mbps: number): number {
  for (let i = 0; i < TIERS.length - 1; i++) if (mbps >= (TIERS[i] as (typeof TIERS)[number]).minMbps) return i;
  return TIERS.length - 1;
}

/** The measurement field (and JSON key) of each link type: `sat-geo` → `link_sat_geo`. */
export const LINK_FIELDS = LINK_TYPES.map((t) => `link_${t.replace('-', '_')}`);

const LINK_INDEX = new Map<string, number>(LINK_TYPES.map((t, i) => [t, i]));

export function linkIndex(t: LinkType): number {
  return LINK_INDEX.get(t) ?? LINK_TYPES.length - 1;
}

/** Satellite links (GEO and LEO). */
export function isSatellite(t: LinkType): boolean {
  return t === 'sat-geo' || t === 'sat-leo';
}

/** Where a school's bandwidth for its tier came from. Never the WAN port speed (ifHighSpeed). */
export type BandwidthSource = 'measured' | 'contracted' | 'unknown';

/** A school's bandwidth as the tiers and capacity rules use it. */
export interface Bandwidth {
  source: BandwidthSource;
  /** Mbit/s; null when unknown. */
  mbps: number | null;
  /** When it was measured (source `measured`), ms. */
  atMs?: number;
  /** Why it is not measured, for the answer. */
  reason?: string;
}

/** Facts the decision reads: the last measured throughput and the registry's contracted bandwidth. */
export interface BandwidthFacts {
  throughputMbps?: number | null;
  throughputAtMs?: number | null;
  contractedMbps: number;
}

/**
 * The bandwidth of a school at `nowMs`: its measured throughput (iperf3 download) when measured within
 * `freshMs`, else its contracted bandwidth from the registry, else unknown. The port speed is no
 * bandwidth: a 10 Mbit/s GEO contract behind a 1 Gbit/s port is 10 Mbit/s.
 */
export function bandwidthOf(f: BandwidthFacts, nowMs: number, freshMs: number): Bandwidth {
  const at = f.throughputAtMs ?? null;
  const mbps = f.throughputMbps ?? null;
  if (mbps !== null && at !== null && at > nowMs - freshMs) return { source: 'measured', mbps, atMs: at };
  const why = mbps === null ? 'no throughput test yet' : `last throughput test ${new Date(at ?? 0).toISOString()} is older than ${Math.round(freshMs / 86_400_000)} days`;
  if (Number.isFinite(f.contractedMbps) && f.contractedMbps > 0) return { source: 'contracted', mbps: f.contractedMbps, reason: `${why}; contracted bandwidth from the registry` };
  return { source: 'unknown', mbps: null, reason: `${why}, and the registry has no contracted bandwidth` };
}

/** Until when a measured bandwidth counts (then the contracted one does), ms; -Infinity if never measured. */
export function measuredUntilMs(f: BandwidthFacts, freshMs: number): number {
  return f.throughputMbps != null && f.throughputAtMs != null ? f.throughputAtMs + freshMs : -Infinity;
}
