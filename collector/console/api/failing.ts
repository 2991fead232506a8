/**
 * The schools of a region with a given status on one compliance rule, with each school's evidence, a
 * page at a time. Judging uses the views' engine over the region (the same queries as the region's
 * compliance answer); only the page's rows are sent.
 */
import type { InfluxDB } from 'influx';
import type { Registry } from '../../registry/index.js';
import { judgeSchools, type Judgement, type Scope, type Status } from '../../views/compliance/engine.js';
import type { Profile } from '../../views/compliance/profile.js';
import { NATIONAL, placeOf, schoolsUnder } from './scope.js';
import type { Page } from './schools.js';

export interface RuleSchoolsQuery {
  profile: Profile;
  region: string;
  rule: string;
  status: Status;
  page: number;
  pageSize: number;
  atMs: number;
}

export interface RuleSchoolItem {
  id: string;
  name: string;
  linkType: string;
  county: { code: string; name: string };
  judgement: Judgement;
}

/** undefined when the rule is not in the profile or the region does not exist. */
export async function schoolsByRule(reg: Registry, influx: InfluxDB, q: RuleSchoolsQuery, timeoutMs: number): Promise<Page<RuleSchoolItem> | undefined> {
  const k = q.profile.rules.findIndex((r) => r.id === q.rule);
  const region = q.region === NATIONAL ? undefined : reg.region(q.region);
  if (k < 0 || (q.region !== NATIONAL && !region)) return undefined;
  const scope: Scope = region ? { tag: region.level, value: region.code } : { tag: null };
  const schools = [...schoolsUnder(reg, q.region)];
  const judged = await judgeSchools({ influx, profile: q.profile, schools, scope, atMs: q.atMs, timeoutMs });
  const hits = judged.filter((j) => j.judgements[k]?.status === q.status);
  const from = (q.page - 1) * q.pageSize;
  return {
    total: hits.length,
    page: q.page,
    pageSize: q.pageSize,
    pages: Math.max(1, Math.ceil(hits.length / q.pageSize)),
    items: hits.slice(from, from + q.pageSize).map(({ school: s, judgements }) => ({
      id: s.id,
      name: s.name,
      linkType: s.linkType,
      county: { code: s.countyCode, name: placeOf(reg, s).county },
      judgement: judgements[k] as Judgement,
    })),
  };
}
