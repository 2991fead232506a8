/**
 * A provincial collector's roll-up: the aggregates of its province, each city and each county, built from
 * what the collector keeps in memory (the coverage model's per-school status and tier, the school-hours
 * region sums, the live compliance table, the alert engine's firing alerts). Nothing is read from
 * InfluxDB and nothing school-level goes into it. The one pass over the province's schools yields to the
 * event loop every `sliceMs`, so a province of 60,000 schools never blocks it.
 */
import type { RegionAggregate } from '../../protocol/rollup.js';
import type { Registry } from '../registry/index.js';
import { ConfigError } from '../../protocol/config.js';
import type { CoverageModel } from '../views/coverage/model.js';
import { RATE_WINDOWS, rateOf } from '../views/coverage/availability.js';
import { TIERS } from '../views/coverage/tiers.js';
import type { SchoolHoursSource } from '../views/coverage/view.js';

/** One rule's counts of a region, as the compliance table gives them. */
export interface RuleCounts {
  rule: string;
  pass: number;
  fail: number;
  unknown: number;
}

/** What a firing alert says about where it is: its rule and the codes of its county, city and province. */
export interface FiringAlert {
  rule: string;
  labels: Readonly<Record<string, string>>;
}

/** Where the aggregates come from (the views and alerts modules). */
export interface RollupSources {
  registry: () => Registry;
  model: () => CoverageModel;
  schoolHours: () => SchoolHoursSource | undefined;
  /** Per-rule counts of a region in the default compliance profile; undefined while the table is not built. */
  compliance: (code: string) => readonly RuleCounts[] | undefined;
  /** The alerts firing now. */
  alerts: () => Iterable<FiringAlert>;
}

/** The window of the school-hours rate sent: the first of RATE_WINDOWS (7 days). */
export const ROLLUP_HOURS_WINDOW_INDEX = 0;

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The 2-digit code of the registry's only province, or `configured`; a ConfigError when it cannot tell. */
export function provinceOfRegistry(registry: Registry, configured?: string): string {
  const codes = [...registry.provinces.keys()].map((c) => c.slice(0, 2));
  if (configured !== undefined) {
    if (!codes.includes(configured)) throw new ConfigError('COL_ERR_CONFIG_INVALID', 'hub.province', [{ path: 'hub.province', message: `province ${configured} has no school in the registry ${registry.source} (it has ${codes.join(', ') || 'none'})` }]);
    return configured;
  }
  if (codes.length === 1) return codes[0] as string;
  throw new ConfigError('COL_ERR_CONFIG_INVALID', 'hub', [{ path: 'hub.province', message: `is required: the registry ${registry.source} holds ${codes.length} provinces (${codes.join(', ') || 'none'}) and a roll-up is of one province` }]);
}

interface Acc {
  g: RegionAggregate;
  parent: string | null;
}

function emptyAggregate(code: string, level: RegionAggregate['level'], name: string): RegionAggregate {
  return { region: code, level, ...(name ? { name: name.slice(0, 64) } : {}), registered: 0, online: 0, offline: 0, neverSeen: 0, schoolHoursOnlinePct: null, tiers: {}, tierUnknown: 0, links: {}, compliance: {}, alertsFiring: {} };
}

function addInto(dst: RegionAggregate, src: RegionAggregate): void {
  dst.registered += src.registered;
  dst.online += src.online;
  dst.offline += src.offline;
  dst.neverSeen += src.neverSeen;
  dst.tierUnknown += src.tierUnknown;
  for (const [t, c] of Object.entries(src.tiers)) {
    const d = (dst.tiers[t] ??= { measured: 0, contracted: 0 });
    d.measured += c.measured;
    d.contracted += c.contracted;
  }
  for (const [l, n] of Object.entries(src.links)) dst.links[l] = (dst.links[l] ?? 0) + n;
}

/** The regions of one province, province first, then its cities, then its counties, each with its parent. */
function regionsOf(reg: Registry, provinceCode: string): Map<string, Acc> {
  const out = new Map<string, Acc>();
  const p = reg.provinces.get(`${provinceCode}0000`);
  if (!p) return out;
  out.set(p.code, { g: emptyAggregate(p.code, 'province', p.name), parent: null });
  for (const c of reg.cities.values()) if (c.parent === p.code) out.set(c.code, { g: emptyAggregate(c.code, 'city', c.name), parent: c.parent });
  for (const c of reg.counties.values()) if (c.code.startsWith(provinceCode)) out.set(c.code, { g: emptyAggregate(c.code, 'county', c.name), parent: c.parent });
  return out;
}

/** Coverage of every county from one pass over its schools (status, tier and where the tier came from, link). */
async function countCoverage(reg: Registry, model: CoverageModel, regions: Map<string, Acc>, nowMs: number, sliceMs: number): Promise<void> {
  let slice = performance.now();
  let n = 0;
  for (const acc of regions.values()) {
    if (acc.g.level !== 'county') continue;
    const county = reg.counties.get(acc.g.region);
    for (const id of county?.children ?? []) {
      const c = model.school(id, nowMs);
      if (!c) continue;
      const g = acc.g;
      g.registered++;
      if (c.status === 'online') g.online++;
      else if (c.status === 'offline') g.offline++;
      else g.neverSeen++;
      if (c.tier < 0) g.tierUnknown++;
      else {
        const t = (g.tiers[(TIERS[c.tier] as (typeof TIERS)[number]).json] ??= { measured: 0, contracted: 0 });
        if (c.tierSource === 'measured') t.measured++;
        else t.contracted++;
      }
      g.links[c.school.linkType] = (g.links[c.school.linkType] ?? 0) + 1;
      if ((++n & 127) === 0 && performance.now() - slice > sliceMs) {
        await yieldNow();
        slice = performance.now();
      }
    }
  }
}

/** The school-hours rate of a region from the latest region sums, or null with the reason. */
function schoolHoursOf(g: RegionAggregate, hours: SchoolHoursSource | undefined): void {
  const snap = hours?.snapshot;
  if (!hours || !snap) {
    g.schoolHoursOnlinePct = null;
    g.schoolHoursUnknownReason = 'the school-hours sums are not computed yet (the first round runs within a minute of start)';
    return;
  }
  const days = RATE_WINDOWS[ROLLUP_HOURS_WINDOW_INDEX];
  const c = snap.byCode.get(g.region)?.[ROLLUP_HOURS_WINDOW_INDEX] ?? { online: 0, school: 0 };
  const rate = rateOf(days, c, hours.availability.sinceDay);
  g.schoolHoursOnlinePct = rate.onlinePct === null ? null : Math.min(100, Math.max(0, rate.onlinePct));
  if (rate.onlinePct === null) g.schoolHoursUnknownReason = rate.reason ?? 'no school hours in the window';
  g.schoolHours = { days, onlineHours: c.online, schoolHours: Math.max(c.school, c.online) };
}

/**
 * Builds the regions of province `provinceCode` (2 digits) at `nowMs`. Counts add up at every level:
 * each school is counted once, in its county, and a city or province is the sum of what is under it.
 */
export async function buildRegionAggregates(src: RollupSources, provinceCode: string, nowMs: number, opts: { sliceMs?: number } = {}): Promise<RegionAggregate[]> {
  const reg = src.registry();
  const regions = regionsOf(reg, provinceCode);
  await countCoverage(reg, src.model(), regions, nowMs, opts.sliceMs ?? 10);
  // Counties into their city (or, folded, their province), then cities into the province.
  for (const level of ['county', 'city'] as const) {
    for (const acc of regions.values()) {
      if (acc.g.level !== level || acc.parent === null) continue;
      const parent = regions.get(acc.parent);
      if (parent) addInto(parent.g, acc.g);
    }
  }
  const hours = src.schoolHours();
  for (const acc of regions.values()) {
    schoolHoursOf(acc.g, hours);
    const rules = src.compliance(acc.g.region);
    if (rules) for (const r of rules) acc.g.compliance[r.rule] = { pass: r.pass, fail: r.fail, unknown: r.unknown };
  }
  let n = 0;
  for (const a of src.alerts()) {
    for (const key of ['county', 'city', 'province'] as const) {
      const code = a.labels[key];
      const acc = code === undefined ? undefined : regions.get(code);
      if (acc) acc.g.alertsFiring[a.rule] = (acc.g.alertsFiring[a.rule] ?? 0) + 1;
    }
    if ((++n & 4095) === 0) await yieldNow();
  }
  return [...regions.values()].map((a) => a.g);
}
