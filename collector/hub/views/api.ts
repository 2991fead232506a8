/**
 * What the national console pages read beyond coverage and compliance: the breadcrumb, the meta, the
 * history (InfluxDB `rollup`) and the national alerts. The provinces' feeds with their staleness are the
 * hub's own `GET /api/v1/hub/feeds` (collector/hub/feeds.ts).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LINK_TYPES } from '../../../protocol/index.js';
import { HISTORY_RANGES, type HistoryRange } from '../../console/api/school.js';
import { sendError } from '../../http/errors.js';
import { parseQuery, sendIfUnavailable } from '../../views/http/respond.js';
import type { RollupStore } from '../store.js';
import { alertJson, type HubAlerts } from './alerts.js';
import { ruleIds } from './coverage.js';
import { hubHistory } from './history.js';
import { NATIONAL, feedsByProvince, levelOf, provinceConsoleLink, provinceKey, regionName, trailOf } from './rows.js';

const region = z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code (000000: national)').default(NATIONAL);
const historyQuery = z.strictObject({ region, range: z.enum(Object.keys(HISTORY_RANGES) as [HistoryRange, ...HistoryRange[]]).default('7d') });

export interface HubApiOptions {
  store: RollupStore;
  influx: InfluxDB;
  alerts: HubAlerts;
  now: () => number;
  staleAfterMs: number;
  queryTimeoutMs: number;
  log: Logger;
}

/** The router. */
export function hubApiRouter(opts: HubApiOptions): Router {
  const router = Router();
  const known = (code: string, res: Response): boolean => {
    if (levelOf(opts.store, code)) return true;
    sendError(res, 'COL_ERR_NOT_FOUND', `no region with code ${code} in the roll-ups received: no province has sent it`);
    return false;
  };

  router.get('/api/v1/console/meta', (_req, res) => {
    res.json({
      role: 'national',
      national: { code: NATIONAL, name: regionName(NATIONAL), schoolCount: opts.store.children('').reduce((n, p) => n + p.registered, 0) },
      provinces: opts.store.children('').map((p) => ({ code: p.region, name: regionName(p.region, p.name) })).sort((a, b) => a.code.localeCompare(b.code)),
      // Each province judges compliance with its own default profile; the hub has the per-rule counts it sent.
      profiles: [{ id: 'provinces', name: "each province's default profile", rules: ruleIds(opts.store).map((id) => ({ id, description: id })) }],
      defaultProfile: 'provinces',
      staleAfterMs: opts.staleAfterMs,
      linkTypes: LINK_TYPES,
      asOf: new Date(opts.now()).toISOString(),
    });
  });

  router.get('/api/v1/console/trail/:code', (req, res) => {
    const p = parseQuery(z.strictObject({ code: region }), { ...req.params }, res);
    if (!p || !known(p.code, res)) return;
    const level = levelOf(opts.store, p.code);
    const feed = feedsByProvince(opts.store).get(provinceKey(p.code));
    res.json({ code: p.code, level, trail: trailOf(opts.store, p.code), ...(p.code !== NATIONAL ? { provinceConsoleUrl: provinceConsoleLink(feed, p.code) } : {}) });
  });

  router.get('/api/v1/console/history', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const q = parseQuery(historyQuery, req.query, res);
      if (!q || !known(q.region, res)) return;
      const level = levelOf(opts.store, q.region) as NonNullable<ReturnType<typeof levelOf>>;
      res.json(await hubHistory({ influx: opts.influx, level, code: q.region, range: q.range, nowMs: opts.now(), timeoutMs: opts.queryTimeoutMs }));
    } catch (e) {
      if (!sendIfUnavailable(res, e, opts.log)) next(e);
    }
  });

  router.get('/api/v1/hub/alerts', (req, res) => {
    if (!parseQuery(z.strictObject({}), req.query, res)) return;
    res.json({ asOf: new Date(opts.now()).toISOString(), firing: opts.alerts.active().map(alertJson), resolved: opts.alerts.recentlyResolved().map(alertJson) });
  });

  return router;
}
