/**
 * The hub's `GET /api/v1/regions[/:code]`, `GET /api/v1/coverage` and `GET /api/v1/compliance`: the same
 * paths, parameters and shapes as a province's (docs/views.md), answered from the latest roll-ups in the
 * store. No school-level data: a county's schools are a link to its province's console (`schoolsUrl`).
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { sendError } from '../../http/errors.js';
import { LINK_FIELDS, TIERS } from '../../views/coverage/tiers.js';
import { parseQuery, sendCsv, wantsCsv } from '../../views/http/respond.js';
import type { RollupStore } from '../store.js';
import { NATIONAL, feedsByProvince, levelOf, nationalRow, provinceConsoleLink, provinceKey, regionName, rowOf, type HubCoverageRow, type HubLevel } from './rows.js';

const LEVELS = ['national', 'province', 'city', 'county'] as const;
const code6 = z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code');
const format = z.enum(['json', 'csv']).optional();

const regionQuery = (extra: z.ZodRawShape) =>
  z
    .strictObject({ level: z.enum(LEVELS, { error: `must be one of ${LEVELS.join(', ')}` }), code: code6.optional(), format, ...extra })
    .superRefine((q, ctx) => {
      if (q.level !== 'national' && q.code === undefined) ctx.addIssue({ code: 'custom', path: ['code'], message: `is required for level ${q.level}` });
      if (q.level === 'national' && q.code !== undefined && q.code !== NATIONAL) ctx.addIssue({ code: 'custom', path: ['code'], message: `must be empty or ${NATIONAL} for level national` });
    });
const coverageQuery = regionQuery({});
// `profile` and `at` are accepted for the province API's sake: a hub has each province's judgement as it sent it, now.
const complianceQuery = regionQuery({ profile: z.string().regex(/^[a-z0-9-]+$/, 'must be a profile id like cn-moe').optional() });

export interface HubReadOptions {
  store: RollupStore;
  now: () => number;
  staleAfterMs: number;
}

/** A coverage answer: the region's row and each child's; a county's schools are at the province. */
export interface HubCoverageAnswer extends HubCoverageRow {
  staleAfterMs: number;
  children: HubCoverageRow[];
  /** The province console's page of this region, with its school lists (national: null). */
  schoolsUrl: string | null;
}

/** The coverage of a region at `level`, or undefined when no province sent it. */
export function hubCoverage(opts: HubReadOptions, level: HubLevel, code: string | undefined): HubCoverageAnswer | undefined {
  const nowMs = opts.now();
  const feeds = feedsByProvince(opts.store);
  const row = (r: Parameters<typeof rowOf>[0]) => rowOf(r, feeds.get(provinceKey(r.region)), nowMs, opts.staleAfterMs);
  if (level === 'national') {
    const provinces = opts.store.children('').map(row).sort((a, b) => a.code.localeCompare(b.code));
    return { ...nationalRow(provinces), staleAfterMs: opts.staleAfterMs, children: provinces, schoolsUrl: null };
  }
  const r = code === undefined ? undefined : opts.store.latest(code);
  if (!r || r.level !== level) return undefined;
  const children = r.level === 'county' ? [] : opts.store.children(r.region).map(row).sort((a, b) => a.code.localeCompare(b.code));
  return { ...row(r), staleAfterMs: opts.staleAfterMs, children, schoolsUrl: provinceConsoleLink(feeds.get(provinceKey(r.region)), r.region) };
}

export const HUB_COVERAGE_CSV_COLUMNS = [
  'level', 'code', 'name', 'registered', 'online', 'offline', 'never_seen', 'online_pct',
  ...TIERS.map((t) => t.key), 'measured_speed', 'satellite', 'satellite_pct', ...LINK_FIELDS,
  'tier_unknown', 'school_hours_online_7d_pct', 'as_of', 'stale',
] as const;

const round = (x: number): number => Math.round(x * 100) / 100;

function csvRow(r: HubCoverageRow): unknown[] {
  const pct = r.schoolHoursOnline[0]?.onlinePct;
  return [
    r.level, r.code, r.name, r.registered, r.online, r.offline, r.neverSeen, round(100 * r.onlineShare),
    ...TIERS.map((t) => r.tiers[t.json] ?? 0), r.tierSource.measured, r.satellite, round(100 * r.satelliteShare),
    ...LINK_FIELDS.map((f) => r.links[f.slice(5).replace('_', '-')] ?? 0),
    r.tierSource.unknown, pct == null ? '' : round(pct), r.asOf ?? '', r.stale ? 1 : 0,
  ];
}

/** Per-rule counts of a row as a province's compliance answer has them. */
function rulesOf(opts: HubReadOptions, code: string, ruleIds: readonly string[]) {
  const c = code === NATIONAL ? undefined : opts.store.latest(code)?.compliance;
  const sum = (id: string) => {
    if (c) return c[id] ?? { pass: 0, fail: 0, unknown: 0 };
    const out = { pass: 0, fail: 0, unknown: 0 };
    for (const p of opts.store.children('')) {
      const x = p.compliance[id];
      if (x) (out.pass += x.pass), (out.fail += x.fail), (out.unknown += x.unknown);
    }
    return out;
  };
  return ruleIds.map((rule) => {
    const { pass, fail, unknown } = sum(rule);
    const applicable = pass + fail + unknown;
    return { rule, pass, fail, unknown, passShare: applicable ? pass / applicable : 0, knownShare: applicable ? (pass + fail) / applicable : 0 };
  });
}

/** The rule ids any province sent, sorted. */
export function ruleIds(store: RollupStore): string[] {
  const ids = new Set<string>();
  for (const p of store.children('')) for (const id of Object.keys(p.compliance)) ids.add(id);
  return [...ids].sort();
}

/** The per-rule counts of a region and each child, or undefined when no province sent it. */
export function hubCompliance(opts: HubReadOptions, level: HubLevel, code: string | undefined) {
  const cov = hubCoverage(opts, level, code);
  if (!cov) return undefined;
  const ids = ruleIds(opts.store);
  return {
    // Each province judges with its own default profile; the hub has the counts it sent, as of its as-of time.
    profile: { id: 'provinces', name: "each province's default profile" },
    level: cov.level, code: cov.code, name: cov.name, schools: cov.registered, asOf: cov.asOf, stale: cov.stale,
    rules: rulesOf(opts, cov.code, ids),
    children: cov.children.map((c) => ({ level: c.level, code: c.code, name: c.name, schools: c.registered, asOf: c.asOf, stale: c.stale, rules: rulesOf(opts, c.code, ids) })),
    ...(cov.level === 'national' ? { staleProvinces: (cov as { staleProvinces?: unknown }).staleProvinces } : {}),
  };
}

function notFound(res: Response, level: string, code: string | undefined): void {
  sendError(res, 'COL_ERR_NOT_FOUND', `no ${level} with code ${code} in the roll-ups received: no province has sent it`);
}

/** The router of the three endpoints. */
export function hubCoverageRouter(opts: HubReadOptions): Router {
  const router = Router();

  const regionAnswer = (code: string): object | undefined => {
    if (code === NATIONAL) {
      const provinces = opts.store.children('');
      return {
        level: 'national', code: NATIONAL, name: regionName(NATIONAL), parent: null, childLevel: 'province', schoolCount: provinces.reduce((n, p) => n + p.registered, 0),
        children: provinces.map((p) => ({ level: 'province', code: p.region, name: regionName(p.region, p.name), schoolCount: p.registered })).sort((a, b) => a.code.localeCompare(b.code)),
      };
    }
    const r = opts.store.latest(code);
    if (!r) return undefined;
    const parent = r.level === 'province' ? NATIONAL : r.level === 'city' ? `${provinceKey(code)}0000` : (opts.store.latest(`${code.slice(0, 4)}00`)?.level === 'city' ? `${code.slice(0, 4)}00` : `${provinceKey(code)}0000`);
    const children = r.level === 'county' ? [] : opts.store.children(code).map((c) => ({ level: c.level, code: c.region, name: regionName(c.region, c.name), schoolCount: c.registered })).sort((a, b) => a.code.localeCompare(b.code));
    const feed = feedsByProvince(opts.store).get(provinceKey(code));
    return { level: r.level, code, name: regionName(code, r.name), parent, childLevel: r.level === 'county' ? 'school' : r.level === 'province' ? 'city' : 'county', schoolCount: r.registered, children, ...(r.level === 'county' ? { schoolsUrl: provinceConsoleLink(feed, code) } : {}) };
  };

  router.get('/api/v1/regions', (_req, res) => {
    res.json(regionAnswer(NATIONAL));
  });

  router.get('/api/v1/regions/:code', (req, res) => {
    const p = parseQuery(z.strictObject({ code: code6 }), { ...req.params }, res);
    if (!p) return;
    if (Object.keys(req.query).length > 0) return void parseQuery(z.strictObject({}), req.query, res);
    const answer = regionAnswer(p.code);
    if (!answer) return notFound(res, 'region', p.code);
    res.json(answer);
  });

  router.get('/api/v1/coverage', (req, res) => {
    const q = parseQuery(coverageQuery, req.query, res);
    if (!q) return;
    const answer = hubCoverage(opts, q.level, q.code);
    if (!answer) return notFound(res, q.level, q.code);
    if (wantsCsv(req, q.format)) {
      return sendCsv(res, `coverage-${q.level}-${answer.code}.csv`, HUB_COVERAGE_CSV_COLUMNS, [csvRow(answer), ...answer.children.map(csvRow)]);
    }
    res.json(answer);
  });

  router.get('/api/v1/compliance', (req, res) => {
    const q = parseQuery(complianceQuery, req.query, res);
    if (!q) return;
    const answer = hubCompliance(opts, q.level, q.code);
    if (!answer) return notFound(res, q.level, q.code);
    if (wantsCsv(req, q.format)) {
      const rows: unknown[][] = [];
      for (const r of [answer, ...answer.children]) for (const x of r.rules) rows.push([r.level, r.code, r.name, r.schools, x.rule, x.pass, x.fail, x.unknown, round(100 * x.passShare), round(100 * x.knownShare), r.asOf ?? '', r.stale ? 1 : 0]);
      return sendCsv(res, `compliance-${answer.level}-${answer.code}.csv`, ['level', 'code', 'name', 'schools', 'rule', 'pass', 'fail', 'unknown', 'pass_pct', 'known_pct', 'as_of', 'stale'], rows);
    }
    res.json(answer);
  });

  return router;
}

export { levelOf };
