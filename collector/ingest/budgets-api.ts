/**
 * The budgets' counters for operators, the console and the fleet dashboard: what each school was
 * refused (429, by budget) and lost (dropped points and fields, by reason), today (China day) and since
 * the collector started. Read side: behind the viewer accounts like every other read API.
 *
 * - `GET /api/v1/ingest/budgets`: the budgets in force and the schools that lost or were refused anything, most first (`?limit=`, default 1000).
 * - `GET /api/v1/ingest/budgets/:school`: one school's counters (zeros when it lost nothing).
 */
import { Router } from 'express';
import { schoolId } from '../../protocol/report.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule } from '../module.js';
import type { SchoolBudgets } from './budgets.js';
import type { TokenShares } from './fairness.js';

/** The module serving the counters of `budgets` (and the fairness refusals of `shares`). */
export function createBudgetsModule(budgets: SchoolBudgets, shares?: TokenShares): CollectorModule {
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
  return { name: 'budgets', router };
}
