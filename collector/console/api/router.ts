/**
 * The console's own read API under `/api/v1/console/`: what the pages need beyond the views API.
 * Read-only, no authentication yet (as the views API). Every list is paged on the server and every
 * InfluxDB read is bounded (docs/console.md#api).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { LINK_TYPES } from '../../../protocol/index.js';
import { schoolId } from '../../../protocol/report.js';
import { sendError } from '../../http/errors.js';
import { isQueryUnavailable } from '../../views/influxql.js';
import { QUERY_RETRY_AFTER_S, parseQuery, sendCsv, wantsCsv } from '../../views/http/respond.js';
import type { ConsoleDeps } from './deps.js';
import { schoolsByRule } from './failing.js';
import { mapAnswer, type BBox } from './map.js';
import { HISTORY_RANGES, SERIES_RANGES, coverageHistory, schoolDetail, schoolSeries, type HistoryRange, type SeriesRange } from './school.js';
import { MAX_PAGE_SIZE, kindsText, listOffline, listSchools } from './schools.js';
import { NATIONAL, levelOf, trail } from './scope.js';
import { evidenceFor, type SchoolEvidence } from './evidence.js';
import { profileTextsRouter } from './texts.js';

const region = z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code (000000: national)').default(NATIONAL);
const page = z.coerce.number().int().min(1).max(1_000_000).default(1);
const pageSize = z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(50);
const link = z.enum(LINK_TYPES).optional();
const format = z.enum(['json', 'csv']).optional();

const schoolsQuery = z.strictObject({ region, q: z.string().max(100).optional(), status: z.enum(['online', 'offline', 'never_seen']).optional(), link, page, pageSize });
const offlineQuery = z.strictObject({ region, link, page, pageSize, format });
const seriesQuery = z.strictObject({ range: z.enum(Object.keys(SERIES_RANGES) as [SeriesRange, ...SeriesRange[]]).default('24h') });
const historyQuery = z.strictObject({ region, range: z.enum(Object.keys(HISTORY_RANGES) as [HistoryRange, ...HistoryRange[]]).default('7d') });
const bbox = z
  .string()
  .transform((s, ctx) => {
    const n = s.split(',').map(Number);
    if (n.length !== 4 || n.some((x) => !Number.isFinite(x)) || (n[0] as number) > (n[2] as number) || (n[1] as number) > (n[3] as number)) {
      ctx.addIssue({ code: 'custom', message: 'must be minLon,minLat,maxLon,maxLat' });
      return z.NEVER;
    }
    return n as BBox;
  })
  .optional();
const mapQuery = z.strictObject({ region, bbox, maxPoints: z.coerce.number().int().min(10).max(20_000).default(3000) });
const ruleQuery = z.strictObject({
  profile: z.string().regex(/^[a-z0-9-]+$/, 'must be a profile id like cn-moe').optional(),
  region,
  rule: z.string().min(1).max(64),
  status: z.enum(['pass', 'fail', 'unknown', 'not_applicable']).default('fail'),
  page,
  pageSize,
});
const idParams = z.strictObject({ id: schoolId });

/** The console API router. */
export function consoleApiRouter(deps: ConsoleDeps): Router {
  const router = Router();
  router.use(profileTextsRouter(deps));

  // An InfluxDB read that failed or timed out: retryable, never a 500 that reads like a bug.
  const guard =
    (fn: (req: Request, res: Response) => Promise<void> | void) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      try {
        await fn(req, res);
      } catch (e) {
        const msg = String((e as Error)?.message ?? e);
        if (!isQueryUnavailable(e) && !/InfluxDB|ECONNREFUSED|ETIMEDOUT|socket|fetch failed/i.test(msg)) return next(e);
        deps.log.warn({ path: req.path, err: msg }, 'console read from InfluxDB failed');
        res.set('Retry-After', String(QUERY_RETRY_AFTER_S));
        sendError(res, 'COL_ERR_QUERY_UNAVAILABLE', `the time-series database did not answer: ${msg}`);
      }
    };

  const knownRegion = (code: string, res: Response): boolean => {
    const reg = deps.registry();
    if (levelOf(reg, code)) return true;
    sendError(res, 'COL_ERR_NOT_FOUND', `no region with code ${code} in the registry${reg.replacedNote(code)}`);
    return false;
  };

  router.get('/api/v1/console/meta', (_req, res) => {
    const reg = deps.registry();
    res.json({
      national: { code: NATIONAL, name: reg.national.name, schoolCount: reg.national.schoolCount },
      provinces: reg.national.children.map((c) => ({ code: c, name: reg.provinces.get(c)?.name ?? c })),
      profiles: deps.profileIds().map((id) => ({ id, name: deps.profile(id)?.name ?? id, rules: deps.profile(id)?.rules.map((r) => ({ id: r.id, description: r.description })) ?? [] })),
      defaultProfile: deps.defaultProfile,
      onlineWindowMin: deps.model().onlineWindowMs / 60_000,
      linkTypes: LINK_TYPES,
      asOf: new Date(deps.now()).toISOString(),
    });
  });

  router.get('/api/v1/console/trail/:code', (req, res) => {
    const p = parseQuery(z.strictObject({ code: region }), { ...req.params }, res);
    if (!p || !knownRegion(p.code, res)) return;
    res.json({ code: p.code, level: levelOf(deps.registry(), p.code), trail: trail(deps.registry(), p.code) });
  });

  router.get('/api/v1/console/schools', (req, res) => {
    const q = parseQuery(schoolsQuery, req.query, res);
    if (!q || !knownRegion(q.region, res)) return;
    res.json(listSchools(deps.registry(), deps.model(), q, deps.now(), deps.agentsOf));
  });

  router.get(
    '/api/v1/console/offline',
    guard(async (req, res) => {
      const q = parseQuery(offlineQuery, req.query, res);
      if (!q || !knownRegion(q.region, res)) return;
      const nowMs = deps.now();
      const csv = wantsCsv(req, q.format);
      // The CSV is the whole list (an official's export), the JSON one page.
      const answer = listOffline(deps.registry(), deps.model(), csv ? { ...q, page: 1, pageSize: Number.MAX_SAFE_INTEGER } : q, nowMs, deps.agentsOf);
      const ev = new Map<string, SchoolEvidence | null>();
      for (let i = 0; i < answer.items.length; i += MAX_PAGE_SIZE) {
        const ids = answer.items.slice(i, i + MAX_PAGE_SIZE).map((x) => x.id);
        for (const [id, e] of await evidenceFor({ influx: deps.influx, schools: ids, nowMs, windowMs: 7 * 86_400_000, timeoutMs: deps.queryTimeoutMs })) ev.set(id, e);
      }
      // Liveness keeps only the newest internet answer; for a school still reporting with every target
      // lost (or, watched by a proxy, its gateway silent), InfluxDB knows when it last answered, which is
      // when it really went offline.
      const items = answer.items.map((i) => {
        const e = ev.get(i.id) ?? null;
        const ok = i.reason === 'internet_unreachable' ? e?.internetOkAt : i.reason === 'link_down' ? e?.gatewayOkAt : undefined;
        const okMs = ok ? Date.parse(ok) : NaN;
        if (!(okMs < Date.parse(i.since))) return { ...i, evidence: e };
        return { ...i, since: new Date(okMs).toISOString(), offlineForS: Math.max(0, Math.round((nowMs - okMs) / 1000)), evidence: e };
      });
      if (csv) {
        return sendCsv(
          res,
          `offline-${q.region}.csv`,
          ['school', 'name', 'county', 'city', 'link_type', 'since', 'offline_for_s', 'reason', 'last_gap_cause', 'last_gap_at', 'modem_unlocked_since', 'agent_kind', 'seen_by'],
          items.map((i) => [i.id, i.name, i.county.name, i.city.name, i.linkType, i.since, i.offlineForS, i.reason, i.evidence?.lastGap?.cause ?? '', i.evidence?.lastGap?.at ?? '', i.evidence?.modemUnlockedSince ?? '', kindsText(i.agents), i.seenBy ?? '']),
        );
      }
      res.json({ ...answer, items, asOf: new Date(nowMs).toISOString() });
    }),
  );

  router.get(
    '/api/v1/console/schools/:id',
    guard(async (req, res) => {
      const p = parseQuery(idParams, { ...req.params }, res);
      if (!p) return;
      if (Object.keys(req.query).length > 0 && !parseQuery(z.strictObject({}), req.query, res)) return;
      const answer = await schoolDetail({ registry: deps.registry(), model: deps.model(), influx: deps.influx, id: p.id, nowMs: deps.now(), timeoutMs: deps.queryTimeoutMs, ...(deps.agentsOf && { agentsOf: deps.agentsOf }) });
      if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `school ${p.id} is not in the registry`);
      res.json(answer);
    }),
  );

  router.get(
    '/api/v1/console/schools/:id/series',
    guard(async (req, res) => {
      const p = parseQuery(idParams, { ...req.params }, res);
      const q = p && parseQuery(seriesQuery, req.query, res);
      if (!p || !q) return;
      if (!deps.registry().get(p.id)) return sendError(res, 'COL_ERR_NOT_FOUND', `school ${p.id} is not in the registry`);
      res.json(await schoolSeries({ influx: deps.influx, id: p.id, range: q.range, nowMs: deps.now(), timeoutMs: deps.queryTimeoutMs }));
    }),
  );

  router.get(
    '/api/v1/console/history',
    guard(async (req, res) => {
      const q = parseQuery(historyQuery, req.query, res);
      if (!q) return;
      // A recoded region's old code leads to the code in force; its history includes the old code's points.
      const reg = deps.registry();
      const code = q.region === NATIONAL ? q.region : reg.resolve(q.region);
      if (!knownRegion(code, res)) return;
      const level = levelOf(reg, code) as string;
      const history = await coverageHistory({ influx: deps.influx, level, code, codes: reg.historyCodes(code), range: q.range, nowMs: deps.now(), timeoutMs: deps.queryTimeoutMs });
      res.json({ ...history, historyCodes: reg.historyCodes(code), ...(code !== q.region ? { replaced: q.region } : {}) });
    }),
  );

  router.get('/api/v1/console/map', (req, res) => {
    const q = parseQuery(mapQuery, req.query, res);
    if (!q || !knownRegion(q.region, res)) return;
    res.json(mapAnswer(deps.registry(), deps.model(), q, deps.now()));
  });

  router.get(
    '/api/v1/console/compliance/schools',
    guard(async (req, res) => {
      const q = parseQuery(ruleQuery, req.query, res);
      if (!q || !knownRegion(q.region, res)) return;
      const profile = deps.profile(q.profile);
      if (!profile) {
        sendError(res, 'COL_ERR_INVALID_QUERY', `invalid query: profile: no profile ${q.profile}; known: ${deps.profileIds().join(', ')}`, [{ path: 'profile', message: `no profile ${q.profile}` }]);
        return;
      }
      const answer = await schoolsByRule(deps.registry(), deps.influx, { ...q, profile, atMs: deps.now() }, deps.queryTimeoutMs, deps.live?.());
      if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `no rule ${q.rule} in profile ${profile.id}`);
      res.json({ profile: { id: profile.id, name: profile.name }, rule: q.rule, status: q.status, region: q.region, ...answer });
    }),
  );

  return router;
}
