/**
 * A simulated province: N schools with ids, registry rows and link types, and for each the upload
 * schedule the agent's own delivery policy gives its link type (agent/transport/policy.ts): terrestrial
 * links upload every 1-minute cycle (1 report a batch), cellular and LEO every 2 minutes (2 reports),
 * GEO every 4 minutes (4 reports). Deterministic in N, so the seeder and the load generator agree.
 */
import { UPLOAD_INTERVAL_MS } from '../../agent/transport/policy.js';
import type { LinkType } from '../../protocol/index.js';

/** The agent's collection cycle in the simulation, ms. */
export const CYCLE_MS = 60_000;
/** Province code of the simulated province (Yunnan). */
const PROVINCE = 53;
/** Link types in the proportions the project's other benchmarks use: 3/8 fiber, then one each. */
const LINKS: readonly LinkType[] = ['fiber', 'fiber', 'fiber', 'dsl', 'cellular', 'microwave', 'sat-geo', 'sat-leo'];
const CONTRACTED: Record<LinkType, number> = { fiber: 100, dsl: 20, cellular: 10, microwave: 50, 'sat-geo': 2, 'sat-leo': 20, other: 10 };

/** One simulated school and its agent. */
export interface FleetSchool {
  index: number;
  id: string;
  countyCode: string;
  linkType: LinkType;
  /** Upload interval of its agent, ms. */
  uploadIntervalMs: number;
  /** Reports in each of its batches (interval ÷ cycle). */
  reportsPerBatch: number;
  /** Offset of its uploads within its interval, ms: agents start at random moments. */
  phaseMs: number;
}

/** 16 cities × 10 counties; a school's id is its county code and a 4-digit number. */
function placeOf(i: number): { city: string; county: string } {
  const c = 1 + (i % 16);
  const k = 1 + (Math.floor(i / 16) % 10);
  const city = `${PROVINCE}${String(c).padStart(2, '0')}`;
  return { city, county: `${city}${String(k).padStart(2, '0')}` };
}

/** Deterministic pseudo-random in [0, 1). */
export function rnd(seed: number): number {
  const x = Math.sin(seed * 12.9898 + 78.233) * 43758.5453;
  return x - Math.floor(x);
}

/** The fleet of `schools` schools (at most 1,600,000: 160 counties × 10,000). */
export function makeFleet(schools: number): FleetSchool[] {
  if (!Number.isInteger(schools) || schools < 1 || schools > 1_600_000) throw new Error(`schools must be an integer 1..1600000, got ${schools}`);
  const out: FleetSchool[] = [];
  for (let i = 0; i < schools; i++) {
    const { county } = placeOf(i);
    const linkType = LINKS[i % LINKS.length] as LinkType;
    const uploadIntervalMs = Math.max(CYCLE_MS, UPLOAD_INTERVAL_MS[linkType]);
    out.push({
      index: i,
      id: `${county}${String(Math.floor(i / 160)).padStart(4, '0')}`,
      countyCode: county,
      linkType,
      uploadIntervalMs,
      reportsPerBatch: uploadIntervalMs / CYCLE_MS,
      phaseMs: Math.floor(rnd(i + 0.5) * uploadIntervalMs),
    });
  }
  return out;
}

/** The registry CSV of the fleet (columns as collector/registry/schema.ts wants them). */
export function registryCsv(fleet: readonly FleetSchool[]): string {
  const lines = ['school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon'];
  for (const s of fleet) {
    const { city, county } = placeOf(s.index);
    lines.push(`${s.id},学校${s.index},primary,${PROVINCE}0000,云南省,${city}00,市${city},${county},县${county},${s.linkType},${CONTRACTED[s.linkType]},500,12,25.04,102.71`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reports per second the fleet offers at steady state (every school one report per cycle). */
export function offeredReportsPerSec(fleet: readonly FleetSchool[]): number {
  return (fleet.length * 1000) / CYCLE_MS;
}

/** Batches per second the fleet offers at steady state. */
export function offeredBatchesPerSec(fleet: readonly FleetSchool[]): number {
  return fleet.reduce((a, s) => a + 1000 / s.uploadIntervalMs, 0);
}

/** How long after collecting its last report an agent uploads, ms (its cycle's own duration). */
export const UPLOAD_DELAY_MS = 1000;

/**
 * Collection time of a school's last seeded report, when the live load is planned to start at
 * `liveStartMs`: chosen so that its first live batch is due at `liveStartMs + phaseMs`. The seeder
 * and the generator both use it, so the gap detector sees one unbroken series from seed to live.
 */
export function seededLastCollectedAt(s: FleetSchool, liveStartMs: number): number {
  return liveStartMs + s.phaseMs - s.uploadIntervalMs - UPLOAD_DELAY_MS;
}
