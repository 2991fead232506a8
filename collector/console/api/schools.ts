/**
 * School lists for the console, paged on the server: a search within a region, and the schools offline
 * now, longest first. Status comes from the views' coverage model (in memory, O(1) per school), so a
 * page costs one walk over the region's schools and nothing over the rest of the registry.
 */
import { LINK_TYPES } from '../../../protocol/index.js';
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';
import type { AgentKind } from '../../../protocol/report.js';
import type { CoverageModel, SchoolStatus } from '../../views/coverage/model.js';
import type { AgentsOf } from './deps.js';
import { placeOf, schoolsUnder } from './scope.js';

/** Largest page a client may ask for. */
export const MAX_PAGE_SIZE = 200;

export interface SchoolListQuery {
  /** Region code (`000000` national). */
  region: string;
  /** Name substring or id prefix; empty: any. */
  q?: string;
  status?: SchoolStatus;
  link?: (typeof LINK_TYPES)[number];
  /** 1-based. */
  page: number;
  pageSize: number;
}

/** One row of a school list. */
export interface SchoolListItem {
  id: string;
  name: string;
  type: string;
  linkType: string;
  contractedMbps: number;
  county: { code: string; name: string };
  city: { code: string; name: string };
  status: SchoolStatus;
  lastReportAt: string | null;
  /** Latest internet answer time, and its loss (null: none yet); for a school watched by a county proxy, its gateway's answer to the proxy. */
  internetAt: string | null;
  internetLossPct: number | null;
  /** The agents that report the school and their kind (full, tiny, proxy), those heard from since kinds are recorded. */
  agents: { agent: string; kind: AgentKind }[];
  /** The county proxy whose report gave the latest reachability, or null. */
  seenBy: string | null;
}

/** The agents of a school with a recorded kind. */
export function kindsOf(agentsOf: AgentsOf | undefined, school: string): { agent: string; kind: AgentKind }[] {
  if (!agentsOf) return [];
  const out: { agent: string; kind: AgentKind }[] = [];
  for (const a of agentsOf(school)) if (a.kind !== null) out.push({ agent: a.agent, kind: a.kind });
  return out;
}

/** `kind:agent` pairs joined by `;` (the CSV column `agent_kind`), e.g. `proxy:proxy-xq;full:ag-1a2b`. */
export const kindsText = (agents: readonly { agent: string; kind: AgentKind }[]): string => agents.map((a) => `${a.kind}:${a.agent}`).join(';');

export interface Page<T> {
  total: number;
  page: number;
  pageSize: number;
  pages: number;
  items: T[];
}

function item(reg: Registry, model: CoverageModel, s: School, nowMs: number, agentsOf?: AgentsOf): SchoolListItem {
  const c = model.school(s.id, nowMs);
  const l = c?.liveness;
  const place = placeOf(reg, s);
  return {
    id: s.id,
    name: s.name,
    type: s.type,
    linkType: s.linkType,
    contractedMbps: s.contractedMbps,
    county: { code: s.countyCode, name: place.county },
    city: { code: s.cityCode, name: place.city },
    status: c?.status ?? 'never_seen',
    lastReportAt: l ? new Date(l.lastReportMs).toISOString() : null,
    internetAt: l?.internetAtMs != null ? new Date(l.internetAtMs).toISOString() : null,
    internetLossPct: l?.internetLossPct ?? null,
    agents: kindsOf(agentsOf, s.id),
    seenBy: l?.via ?? null,
  };
}

function pageOf<T>(all: { total: number; slice: T[] }, page: number, pageSize: number): Page<T> {
  return { total: all.total, page, pageSize, pages: Math.max(1, Math.ceil(all.total / pageSize)), items: all.slice };
}

/** A page of the region's schools matching the filters, in registry order. */
export function listSchools(reg: Registry, model: CoverageModel, q: SchoolListQuery, nowMs: number, agentsOf?: AgentsOf): Page<SchoolListItem> {
  const needle = q.q?.trim().toLowerCase() ?? '';
  const from = (q.page - 1) * q.pageSize;
  const slice: SchoolListItem[] = [];
  let total = 0;
  for (const s of schoolsUnder(reg, q.region)) {
    if (q.link && s.linkType !== q.link) continue;
    if (needle && !s.id.startsWith(needle) && !s.name.toLowerCase().includes(needle)) continue;
    if (q.status && (model.school(s.id, nowMs)?.status ?? 'never_seen') !== q.status) continue;
    if (total >= from && slice.length < q.pageSize) slice.push(item(reg, model, s, nowMs, agentsOf));
    total++;
  }
  return pageOf({ total, slice }, q.page, q.pageSize);
}

/**
 * Why a school counts as offline, from what the collector knows in memory. For a school watched by a
 * county proxy: `link_down` (the proxy reports, the school's gateway does not answer it) or
 * `proxy_silent` (the proxy itself stopped reporting).
 */
export type OfflineReason = 'agent_silent' | 'internet_unreachable' | 'no_internet_target' | 'link_down' | 'proxy_silent';

/** One row of the offline list. */
export interface OfflineItem extends SchoolListItem {
  /** The last time the school was seen online (an internet target answered), or, failing that, its last report. */
  since: string;
  /** now − since, seconds. */
  offlineForS: number;
  reason: OfflineReason;
}

/**
 * The region's offline schools (reported at least once, not online now), longest first. Sorting needs
 * every offline school of the region; the rows themselves are built only for the page.
 */
export function listOffline(reg: Registry, model: CoverageModel, q: Omit<SchoolListQuery, 'status' | 'q'>, nowMs: number, agentsOf?: AgentsOf): Page<OfflineItem> {
  const found: { s: School; sinceMs: number; reason: OfflineReason }[] = [];
  for (const s of schoolsUnder(reg, q.region)) {
    if (q.link && s.linkType !== q.link) continue;
    const c = model.school(s.id, nowMs);
    if (c?.status !== 'offline' || !c.liveness) continue;
    const l = c.liveness;
    const answered = l.internetAtMs !== null && l.internetLossPct !== null && l.internetLossPct < 100;
    const silent = nowMs - l.lastReportMs > model.onlineWindowMs;
    const reason: OfflineReason = l.via ? (silent ? 'proxy_silent' : 'link_down') : silent ? 'agent_silent' : l.internetAtMs === null ? 'no_internet_target' : 'internet_unreachable';
    found.push({ s, sinceMs: answered ? (l.internetAtMs as number) : l.lastReportMs, reason });
  }
  found.sort((a, b) => a.sinceMs - b.sinceMs || (a.s.id < b.s.id ? -1 : 1));
  const from = (q.page - 1) * q.pageSize;
  const slice = found.slice(from, from + q.pageSize).map(({ s, sinceMs, reason }) => ({
    ...item(reg, model, s, nowMs, agentsOf),
    since: new Date(sinceMs).toISOString(),
    offlineForS: Math.max(0, Math.round((nowMs - sinceMs) / 1000)),
    reason,
  }));
  return pageOf({ total: found.length, slice }, q.page, q.pageSize);
}
