/**
 * Per-region compliance rollups maintained incrementally: the status of every registered school for
 * every rule of one profile, and pass/fail/unknown/not-applicable counts per rule for the nation and
 * each province, city and county. A school whose evidence changed is re-judged (the counts of its
 * four regions move by the difference); every school is re-judged when the rule windows move to
 * other day buckets (China midnight, the start of school hours) or a rule version comes into force —
 * the only moments a status can change without new data. Long passes yield to the event loop.
 */
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import { RulePlans, planSignature, statusesOf, type DataSource, type RulePlan, type RuleRollup, type Status } from './engine.js';
import type { Profile } from './profile.js';
import type { SchoolWindows } from './windows.js';

const STATUSES: readonly Status[] = ['pass', 'fail', 'unknown', 'not_applicable'];
const CODE: Record<Status, number> = { pass: 0, fail: 1, unknown: 2, not_applicable: 3 };
/** Longest stretch of judging between two yields to the event loop, ms. */
const SLICE_MS = 15;

export const NATIONAL = '000000';

/** What a table reads: the registry, the evidence and which schools are still being rebuilt. */
export interface RollupSource {
  /** The school calendar the windows are on. */
  windows: SchoolWindows;
  registry: () => Registry;
  /** The evidence as a data source at `atMs`. */
  source: (atMs: number) => DataSource;
  /** Whether the school has evidence at all (the others are judged on no data, by a shared shortcut). */
  has: (school: string) => boolean;
  /** Whether the school's evidence is still being rebuilt from InfluxDB. */
  pending: (school: string) => boolean;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Which day buckets and rule versions the profile's windows use at `atMs`: equal signatures, equal statuses. */
export function windowSignature(plans: readonly RulePlan[] | RulePlans): string {
  return plans instanceof RulePlans ? plans.signature() : planSignature(plans);
}

interface TableState {
  registry: Registry;
  schools: School[];
  index: Map<string, number>;
  statuses: Uint8Array;
  /** region code → schools, then per rule 4 counts (pass, fail, unknown, not applicable). */
  counts: Map<string, Int32Array>;
  signature: string;
}

/** The rollup table of one profile. */
export class ComplianceTable {
  private state: TableState | undefined;
  private dirty = new Set<string>();
  private running: Promise<void> | undefined;
  private readonly rules: number;
  /** The data time of the last finished pass. */
  private refreshedAtMs = -Infinity;

  /**
   * `maxStaleMs`: a request may be answered from counts this much older than its time (the refresh
   * timer keeps them fresher), as long as the windows have not moved; 0: always up to date.
   */
  constructor(
    readonly profile: Profile,
    private readonly src: RollupSource,
    private readonly maxStaleMs = 0,
  ) {
    this.rules = profile.rules.length;
  }

  /** A school's evidence changed: re-judge it on the next refresh. */
  touch(school: string): void {
    this.dirty.add(school);
  }

  /** The registry was replaced: the next refresh rebuilds the table. */
  invalidate(): void {
    this.state = undefined;
  }

  /**
   * Brings the table up to date for `nowMs`: concurrent callers share one pass. Resolves when every
   * change known before the call is in the counts.
   */
  async refresh(nowMs: number, maxStaleMs = this.maxStaleMs): Promise<void> {
    const current = (): boolean => this.state !== undefined && this.state.registry === this.src.registry() && this.state.signature === windowSignature(new RulePlans(this.profile, nowMs, this.src.windows));
    if (maxStaleMs > 0 && nowMs - this.refreshedAtMs <= maxStaleMs && current()) return;
    while (this.running) await this.running;
    if (this.dirty.size === 0 && current()) return;
    this.running = this.pass(nowMs).finally(() => (this.running = undefined));
    await this.running;
  }

  private async pass(nowMs: number): Promise<void> {
    const plans = new RulePlans(this.profile, nowMs, this.src.windows);
    const signature = windowSignature(plans);
    const reg = this.src.registry();
    if (!this.state || this.state.registry !== reg || this.state.signature !== signature) {
      this.dirty.clear();
      this.state = await this.full(reg, plans, signature, nowMs);
    }
    await this.judgeDirty(this.state, plans, nowMs);
    this.refreshedAtMs = nowMs;
  }

  private regionsOf(s: School): string[] {
    // A folded county (municipal district, 东莞) is its own city level: count it once.
    return s.cityCode === s.countyCode ? [NATIONAL, s.provinceCode, s.countyCode] : [NATIONAL, s.provinceCode, s.cityCode, s.countyCode];
  }

  private async full(reg: Registry, plans: RulePlans, signature: string, nowMs: number): Promise<TableState> {
    const schools = [...reg.schools.values()];
    const state: TableState = { registry: reg, schools, index: new Map(), statuses: new Uint8Array(schools.length * this.rules), counts: new Map(), signature };
    const data = this.src.source(nowMs);
    // Schools without evidence (most of a fresh province) are judged once per kind of school.
    const noData = new Map<string, Status[]>();
    let sliceStart = performance.now();
    for (let i = 0; i < schools.length; i++) {
      const s = schools[i] as School;
      state.index.set(s.id, i);
      let st: Status[];
      if (this.src.has(s.id) && !this.src.pending(s.id)) st = statusesOf(plans, s, data);
      else {
        // The contracted bandwidth and the students decide the bandwidth rules without data, so they are part of the kind.
        const pending = this.src.pending(s.id);
        const kind = `${s.type}|${s.linkType}|${s.hubSchoolId === null ? 0 : 1}|${s.contractedMbps}|${s.students}|${pending ? 1 : 0}|${this.src.windows.group(s.provinceCode)}`;
        let cached = noData.get(kind);
        if (!cached) noData.set(kind, (cached = statusesOf(plans, s, () => undefined, pending)));
        st = cached;
      }
      this.put(state, i, s, st, 1);
      if ((i & 255) === 255 && performance.now() - sliceStart > SLICE_MS) {
        await yieldNow();
        sliceStart = performance.now();
      }
    }
    return state;
  }

  /** Writes a school's statuses and adds `sign` × them to its regions' counts. */
  private put(state: TableState, i: number, s: School, st: readonly Status[], sign: 1 | -1): void {
    const base = i * this.rules;
    for (const code of this.regionsOf(s)) {
      let c = state.counts.get(code);
      if (!c) state.counts.set(code, (c = new Int32Array(1 + this.rules * 4)));
      c[0] = (c[0] as number) + sign;
      for (let k = 0; k < this.rules; k++) {
        const v = sign === 1 ? CODE[st[k] as Status] : (state.statuses[base + k] as number);
        c[1 + k * 4 + v] = (c[1 + k * 4 + v] as number) + sign;
      }
    }
    if (sign === 1) for (let k = 0; k < this.rules; k++) state.statuses[base + k] = CODE[st[k] as Status];
  }

  private async judgeDirty(state: TableState, plans: RulePlans, nowMs: number): Promise<void> {
    if (this.dirty.size === 0) return;
    const todo = this.dirty;
    this.dirty = new Set();
    const data = this.src.source(nowMs);
    let sliceStart = performance.now();
    let n = 0;
    for (const id of todo) {
      const i = state.index.get(id);
      if (i === undefined) continue;
      const s = state.schools[i] as School;
      const st = statusesOf(plans, s, data, this.src.pending(id));
      this.put(state, i, s, [], -1);
      this.put(state, i, s, st, 1);
      if ((++n & 127) === 0 && performance.now() - sliceStart > SLICE_MS) {
        await yieldNow();
        sliceStart = performance.now();
      }
    }
  }

  /** Schools in the region (by code; NATIONAL for all), or undefined before the first refresh. */
  schoolCount(code: string): number {
    return this.state?.counts.get(code)?.[0] ?? 0;
  }

  /** The per-rule rollup of a region from the counts (same shape as rollupRules). */
  rollup(code: string): RuleRollup[] {
    const c = this.state?.counts.get(code);
    return this.profile.rules.map((rule, k) => {
      const [pass, fail, unknown, notApplicable] = [0, 1, 2, 3].map((v) => (c ? (c[1 + k * 4 + v] as number) : 0)) as [number, number, number, number];
      const applicable = pass + fail + unknown;
      return {
        rule: rule.id,
        description: rule.description,
        pass,
        fail,
        unknown,
        notApplicable,
        passShare: applicable ? pass / applicable : 0,
        knownShare: applicable ? (pass + fail) / applicable : 0,
      };
    });
  }

  /** A school's status for rule `k` in the table (after a refresh); undefined when not registered. */
  statusOf(school: string, k: number): Status | undefined {
    const state = this.state;
    const i = state?.index.get(school);
    if (!state || i === undefined) return undefined;
    return STATUSES[state.statuses[i * this.rules + k] as number];
  }

  /** Status names, for tests. */
  static readonly statuses = STATUSES;
}
