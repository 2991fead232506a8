/** Compliance answers: per region (rolled up per rule, with each child) and per school (with evidence). */
import { resolve } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import type { LivenessStore } from '../liveness/store.js';
import type { ViewsSettings } from '../settings.js';
import { judgeSchools, rollupRules, type Judgement, type RuleRollup, type Scope } from './engine.js';
import { loadProfiles, type Profile } from './profile.js';

export interface ComplianceServiceOptions {
  influx: InfluxDB;
  registry: () => Registry;
  store: LivenessStore;
  settings: ViewsSettings;
  log: Logger;
}

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

  constructor(private readonly opts: ComplianceServiceOptions) {}

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

  /** Judges every school of the region; undefined when the region does not exist. */
  async region(profile: Profile, level: ComplianceLevel, code: string | undefined, atMs: number): Promise<RegionCompliance | undefined> {
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
      scope = { tag: level, value: r.code };
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
    const judged = await judgeSchools({ influx: this.opts.influx, profile, schools, scope, atMs, timeoutMs: this.opts.settings.queryTimeoutMs });
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
        return { level: childLevel, code: c, name: childLevel === 'school' ? (reg.get(c)?.name ?? c) : (reg.region(c)?.name ?? c), schools: g.length, rules: rollupRules(profile, g) };
      }),
    };
  }

  /** One school's judgements; undefined when the school is not registered. */
  async school(profile: Profile, id: string, atMs: number): Promise<SchoolCompliance | undefined> {
    const s = this.opts.registry().get(id);
    if (!s) return undefined;
    const [judged] = await judgeSchools({ influx: this.opts.influx, profile, schools: [s], scope: { tag: 'school', value: id }, atMs, timeoutMs: this.opts.settings.queryTimeoutMs });
    return {
      profile: { id: profile.id, name: profile.name, lineage: profile.lineage },
      school: { id: s.id, name: s.name, type: s.type, linkType: s.linkType, county: s.countyCode, hubSchoolId: s.hubSchoolId },
      at: new Date(atMs).toISOString(),
      judgements: judged?.judgements ?? [],
    };
  }
}
