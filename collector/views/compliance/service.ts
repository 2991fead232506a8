/** Compliance answers: per region (rolled up per rule, with each child) and per school (with evidence). */
import { resolve } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import type { LivenessStore } from '../liveness/store.js';
import type { ViewsSettings } from '../settings.js';
import { RulePlans, judgeSchool, judgeSchools, rollupRules, type Judgement, type RuleRollup, type Scope } from './engine.js';
import type { LiveCompliance } from './live.js';
import { loadProfiles, type Profile } from './profile.js';
import { NATIONAL } from './rollup.js';
import { defaultWindows, type SchoolWindows } from './windows.js';

export interface ComplianceServiceOptions {
  influx: InfluxDB;
  registry: () => Registry;
  store: LivenessStore;
  settings: ViewsSettings;
  log: Logger;
  /** The live evidence and rollups (set once the module started); without it every answer reads raw data. */
  live?: () => LiveCompliance | undefined;
  /** The school calendar the windows are on (default: chinese-days without term breaks). */
  windows?: SchoolWindows;
}

/** How an answer is computed: `live` from the evidence (a judgement now), `raw` from InfluxDB (any time). */
export type ComplianceSource = 'live' | 'raw';

export type ComplianceLevel = 'national' | 'province' | 'city' | 'county';

export interface RegionCompliance {
  profile: { id: string; name: string; lineage: string[] };
  level: ComplianceLevel;
  code: string;
  name: string;
  at: string;
  schools: number;
  rules: RuleRollup[];
  children: { level: string; code: string; name: string; schools: number; rules: RuleRollup[] }[];
}

export interface SchoolCompliance {
  profile: { id: string; name: string; lineage: string[] };
  school: { id: string; name: string; type: string; linkType: string; county: string; hubSchoolId: string | null };
  at: string;
  judgements: Judgement[];
}

export class ComplianceService {
  private profiles = new Map<string, Profile>();
  /** Raw-data answers in flight, by request: identical requests share one set of queries. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: ComplianceServiceOptions) {}

  /** The school calendar the rule windows are on. */
  get windows(): SchoolWindows {
    return this.opts.windows ?? defaultWindows();
  }

  /** Loads the profiles directory; throws ProfileError listing every problem. */
  async loadProfiles(): Promise<void> {
    this.profiles = loadProfiles(resolve(this.opts.settings.complianceProfilesDir));
    this.opts.log.info({ profiles: [...this.profiles.keys()] }, 'compliance profiles loaded');
  }

  profile(id: string | undefined): Profile | undefined {
    return this.profiles.get(id ?? this.opts.settings.defaultProfile);
  }

  profileIds(): string[] {
    return [...this.profiles.keys()];
  }

  /** The loaded profiles by id. */
  loaded(): ReadonlyMap<string, Profile> {
    return this.profiles;
  }

  private shared<T>(key: string, make: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<T>;
    const p = make().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  /** The live evidence when `source` is live and it is there. */
  private liveFor(source: ComplianceSource): LiveCompliance | undefined {
    return source === 'live' ? this.opts.live?.() : undefined;
  }

  /**
   * Judges every school of the region; undefined when the region does not exist. `live`: from the
   * rollup tables (the judgement time must be now); `raw`: from InfluxDB (rejects with
   * QueryUnavailableError when it cannot answer).
   */
  async region(profile: Profile, level: ComplianceLevel, code: string | undefined, atMs: number, source: ComplianceSource = 'raw'): Promise<RegionCompliance | undefined> {
    const live = this.liveFor(source);
    const table = live?.table(profile.id);
    if (table) return this.regionLive(profile, table, level, code, atMs);
    return this.shared(`region|${profile.id}|${level}|${code}|${atMs}`, () => this.regionRaw(profile, level, code, atMs));
  }

  private async regionLive(profile: Profile, table: NonNullable<ReturnType<LiveCompliance['table']>>, level: ComplianceLevel, code: string | undefined, atMs: number): Promise<RegionCompliance | undefined> {
    const reg = this.opts.registry();
    const r = level === 'national' ? undefined : code === undefined ? undefined : reg.region(code);
    if (level !== 'national' && (!r || r.level !== level)) return undefined;
    await table.refresh(atMs);
    const regionCode = r?.code ?? NATIONAL;
    const childLevel = r ? r.childLevel : 'province';
    const childCodes = r ? r.children : reg.national.children;
    const plans = new RulePlans(profile, atMs, this.windows);
    return {
      profile: { id: profile.id, name: profile.name, lineage: profile.lineage },
      level,
      code: level === 'national' ? NATIONAL : (code as string),
      name: r?.name ?? reg.national.name,
      at: new Date(atMs).toISOString(),
      schools: table.schoolCount(regionCode),
      rules: table.rollup(regionCode),
      children: childCodes.map((c) => {
        if (childLevel === 'school') {
          const s = reg.get(c);
          const judged = s ? [{ school: s, judgements: judgeSchool(plans, s, this.opts.live?.()?.evidence.source(atMs) ?? (() => undefined), this.opts.live?.()?.pending(s.id)) }] : [];
          return { level: childLevel, code: c, name: s?.name ?? c, schools: judged.length, rules: rollupRules(profile, judged) };
        }
        return { level: reg.region(c)?.level ?? childLevel, code: c, name: reg.region(c)?.name ?? c, schools: table.schoolCount(c), rules: table.rollup(c) };
      }),
    };
  }

  private async regionRaw(profile: Profile, level: ComplianceLevel, code: string | undefined, atMs: number): Promise<RegionCompliance | undefined> {
    const reg = this.opts.registry();
    let scope: Scope;
    let name: string;
    let childCodes: readonly string[];
    let childLevel: string;
    if (level === 'national') {
      scope = { tag: null };
      name = reg.national.name;
      childCodes = reg.national.children;
      childLevel = 'province';
    } else {
      const r = code === undefined ? undefined : reg.region(code);
      if (!r || r.level !== level) return undefined;
      scope = { tag: level, value: r.code, values: reg.historyCodes(r.code) };
      name = r.name;
      childCodes = r.children;
      childLevel = r.childLevel;
    }
    const schools: School[] = [];
    for (const s of reg.schools.values()) {
      if (scope.tag === null || (scope.tag === 'province' && s.provinceCode === scope.value) || (scope.tag === 'city' && s.cityCode === scope.value) || (scope.tag === 'county' && s.countyCode === scope.value)) {
        schools.push(s);
      }
    }
    const judged = await judgeSchools({ influx: this.opts.influx, profile, schools, scope, atMs, timeoutMs: this.opts.settings.queryTimeoutMs, windows: this.windows });
    const childOf = (s: School): string => (childLevel === 'province' ? s.provinceCode : childLevel === 'city' ? s.cityCode : childLevel === 'county' ? s.countyCode : s.id);
    const groups = new Map<string, typeof judged>(childCodes.map((c) => [c, []]));
    for (const j of judged) groups.get(childOf(j.school))?.push(j);
    return {
      profile: { id: profile.id, name: profile.name, lineage: profile.lineage },
      level,
      code: level === 'national' ? '000000' : (code as string),
      name,
      at: new Date(atMs).toISOString(),
      schools: schools.length,
      rules: rollupRules(profile, judged),
      children: childCodes.map((c) => {
        const g = groups.get(c) ?? [];
        return { level: childLevel === 'school' ? childLevel : (reg.region(c)?.level ?? childLevel), code: c, name: childLevel === 'school' ? (reg.get(c)?.name ?? c) : (reg.region(c)?.name ?? c), schools: g.length, rules: rollupRules(profile, g) };
      }),
    };
  }

  /** One school's judgements; undefined when the school is not registered. */
  async school(profile: Profile, id: string, atMs: number, source: ComplianceSource = 'raw'): Promise<SchoolCompliance | undefined> {
    const s = this.opts.registry().get(id);
    if (!s) return undefined;
    const live = this.liveFor(source);
    const judged = live
      ? { school: s, judgements: judgeSchool(new RulePlans(profile, atMs, this.windows), s, live.evidence.source(atMs), live.pending(id)) }
      : (await this.shared(`school|${profile.id}|${id}|${atMs}`, () => judgeSchools({ influx: this.opts.influx, profile, schools: [s], scope: { tag: 'school', value: id }, atMs, timeoutMs: this.opts.settings.queryTimeoutMs, windows: this.windows })))[0];
    return {
      profile: { id: profile.id, name: profile.name, lineage: profile.lineage },
      school: { id: s.id, name: s.name, type: s.type, linkType: s.linkType, county: s.countyCode, hubSchoolId: s.hubSchoolId },
      at: new Date(atMs).toISOString(),
      judgements: judged?.judgements ?? [],
    };
  }
}
