/**
 * The schools of a region with a given status on one compliance rule, with each school's evidence, a
 * page at a time. With the views' live evidence, the statuses come from its rollup table and only the
 * page's schools are judged in full; without it, the engine judges the region from raw data.
 */
import type { InfluxDB } from 'influx';
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import { judgeSchool, judgeSchools, type Judgement, type Scope, type Status } from '../../views/compliance/engine.js';
import type { LiveCompliance } from '../../views/compliance/live.js';
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

function item(reg: Registry, s: School, judgement: Judgement): RuleSchoolItem {
  return { id: s.id, name: s.name, linkType: s.linkType, county: { code: s.countyCode, name: placeOf(reg, s).county }, judgement };
}

async function fromTable(reg: Registry, live: LiveCompliance, q: RuleSchoolsQuery, k: number): Promise<Page<RuleSchoolItem> | undefined> {
  const table = live.table(q.profile.id);
  if (!table) return undefined;
  await table.refresh(q.atMs);
  const from = (q.page - 1) * q.pageSize;
  const onPage: School[] = [];
  let total = 0;
  let n = 0;
  let sliceStart = performance.now();
  for (const s of schoolsUnder(reg, q.region)) {
    if (table.statusOf(s.id, k) === q.status) {
      if (total >= from && onPage.length < q.pageSize) onPage.push(s);
      total++;
    }
    // 250,000 schools nationally: yield now and then so ingest keeps its latency.
    if ((++n & 4095) === 0 && performance.now() - sliceStart > 15) {
      await new Promise((r) => setImmediate(r));
      sliceStart = performance.now();
    }
  }
  const plans = live.plans(table.profile, q.atMs);
  const data = live.evidence.source(q.atMs);
  return {
    total,
    page: q.page,
    pageSize: q.pageSize,
    pages: Math.max(1, Math.ceil(total / q.pageSize)),
    items: onPage.map((s) => item(reg, s, judgeSchool(plans, s, data, live.pending(s.id))[k] as Judgement)),
  };
}

/** undefined when the rule is not in the profile or the region does not exist. */
export async function schoolsByRule(reg: Registry, influx: InfluxDB, q: RuleSchoolsQuery, timeoutMs: number, live?: LiveCompliance): Promise<Page<RuleSchoolItem> | undefined> {
  const k = q.profile.rules.findIndex((r) => r.id === q.rule);
  const region = q.region === NATIONAL ? undefined : reg.region(q.region);
  if (k < 0 || (q.region !== NATIONAL && !region)) return undefined;
  const answer = live && (await fromTable(reg, live, q, k));
  if (answer) return answer;
  const scope: Scope = region ? { tag: region.level, value: region.code, values: reg.historyCodes(region.code) } : { tag: null };
  const schools = [...schoolsUnder(reg, q.region)];
  const judged = await judgeSchools({ influx, profile: q.profile, schools, scope, atMs: q.atMs, timeoutMs, windows: live?.windows });
  const hits = judged.filter((j) => j.judgements[k]?.status === q.status);
  const from = (q.page - 1) * q.pageSize;
  return {
    total: hits.length,
    page: q.page,
    pageSize: q.pageSize,
    pages: Math.max(1, Math.ceil(hits.length / q.pageSize)),
    items: hits.slice(from, from + q.pageSize).map(({ school: s, judgements }) => item(reg, s, judgements[k] as Judgement)),
  };
}
