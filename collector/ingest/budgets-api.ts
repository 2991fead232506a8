/**
 * The budgets' counters for operators, the console and the fleet dashboard: what each school was
 * refused (429, by budget) and lost (dropped points and fields, by reason), today (China day) and since
 * the collector started. Read side: behind the viewer accounts like every other read API.
 *
 * - `GET /api/v1/ingest/budgets`: the budgets in force and the schools that lost or were refused anything, most first (`?limit=`, default 1000).
 * - `GET /api/v1/ingest/budgets/:school`: one school's counters (zeros when it lost nothing).
 * - the `ingest_budget` measurement (docs/schema.md): once a minute, one point per school that lost or was
 *   refused anything in that minute, for the fleet dashboard; kept and sent with the next when the write fails.
 */
import { Router } from 'express';
import { schoolId } from '../../protocol/report.js';
import { sendError } from '../http/errors.js';
import type { Logger } from 'pino';
import type { CollectorModule } from '../module.js';
import type { Point, Sink } from '../sink/sink.js';
import type { SchoolBudgets, SchoolCounters } from './budgets.js';
import type { RegistryTags } from './points.js';
import type { TokenShares } from './fairness.js';

/** Where the `ingest_budget` points go, and how often. */
export interface BudgetPointsOptions {
  sink: Sink;
  tagsFor(school: string): RegistryTags | undefined;
  log: Logger;
  now?: () => number;
  /** Default 60,000 ms. */
  intervalMs?: number;
}

const snake = (s: string) => s.replace(/([A-Z])/g, '_$1').toLowerCase();
const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/** One `ingest_budget` point per school: totals, and one field per reason (`refused_<budget>`, `dropped_points_<reason>`, `dropped_fields_<reason>`). */
export function budgetPoints(pending: ReadonlyMap<string, SchoolCounters>, tagsFor: BudgetPointsOptions['tagsFor'], timestampMs: number): Point[] {
  const points: Point[] = [];
  for (const [school, c] of pending) {
    const fields: Record<string, number> = { budget_refusals: sum(c.budget_refusals), dropped_points: sum(c.dropped_points), dropped_fields: sum(c.dropped_fields) };
    for (const [k, n] of Object.entries(c.budget_refusals)) fields[`refused_${snake(k)}`] = n;
    for (const [k, n] of Object.entries(c.dropped_points)) fields[`dropped_points_${k}`] = n;
    for (const [k, n] of Object.entries(c.dropped_fields)) fields[`dropped_fields_${k}`] = n;
    points.push({ measurement: 'ingest_budget', tags: { ...(tagsFor(school) ?? { school }) }, fields, timestampMs });
  }
  return points;
}

/** The module serving the counters of `budgets` (and the fairness refusals of `shares`), and writing them as points when given a sink. */
export function createBudgetsModule(budgets: SchoolBudgets, shares?: TokenShares, points?: BudgetPointsOptions): CollectorModule {
  const router = Router();
  router.get('/api/v1/ingest/budgets', (req, res) => {
    const raw = req.query.limit;
    const limit = raw === undefined ? 1000 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      return sendError(res, 'COL_ERR_INVALID_QUERY', 'limit must be an integer 1-100000', [{ path: 'limit', message: 'must be an integer 1-100000' }]);
    }
    res.json({ budgets: budgets.settings, busy_refusals: shares?.refused ?? 0, schools: budgets.offenders(limit) });
  });
  router.get('/api/v1/ingest/budgets/:school', (req, res) => {
    const school = req.params.school;
    if (!schoolId.safeParse(school).success) return sendError(res, 'COL_ERR_INVALID_QUERY', 'school must be a 10-digit school identification code', [{ path: 'school', message: 'must be a 10-digit school identification code' }]);
    const zero = { budget_refusals: {}, dropped_points: {}, dropped_fields: {} };
    const c = budgets.counters(school);
    res.json({ school, budgets: budgets.settings, today: c?.today ?? zero, total: c?.total ?? zero, series_today: c?.series ?? budgets.seriesToday(school) });
  });
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (!points) return;
    const pending = budgets.takePending();
    if (pending.size === 0) return;
    try {
      await points.sink.write(budgetPoints(pending, points.tagsFor, (points.now ?? Date.now)()));
    } catch (e) {
      budgets.giveBack(pending);
      points.log.warn({ err: String((e as Error)?.message ?? e), schools: pending.size }, 'ingest_budget points not written; kept for the next minute');
    }
  };
  const tick = () => {
    flushing ??= flush()
      .catch((e: unknown) => points?.log.error({ err: String(e) }, 'ingest_budget flush failed'))
      .finally(() => (flushing = undefined));
  };
  return {
    name: 'budgets',
    router,
    async start() {
      if (points) timer = setInterval(tick, points.intervalMs ?? 60_000).unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await flushing;
      await flush().catch(() => undefined);
    },
  };
}
