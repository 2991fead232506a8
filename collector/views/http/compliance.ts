/** `GET /api/v1/compliance` and `GET /api/v1/schools/:id/compliance`, JSON or CSV. No authentication yet. */
import { Router } from 'express';
import { z } from 'zod';
import { schoolId } from '../../../protocol/report.js';
import { sendError } from '../../http/errors.js';
import type { Registry } from '../../registry/index.js';
import type { ComplianceService } from '../compliance/service.js';
import { COVERAGE_LEVELS } from '../coverage/model.js';
import type { Logger } from 'pino';
import type { ComplianceSource } from '../compliance/service.js';
import { parseQuery, sendCsv, sendIfUnavailable, sendInvalidQuery, wantsCsv } from './respond.js';

/** A judgement time this close to now is answered live from the evidence; others from raw data. */
export const LIVE_TOLERANCE_MS = 60_000;

const at = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}/.test(s), 'must be an ISO 8601 date or time, e.g. 2026-11-23 or 2026-11-23T08:00:00+08:00')
  .optional();
const format = z.enum(['json', 'csv']).optional();
const profile = z.string().regex(/^[a-z0-9-]+$/, 'must be a profile id like cn-moe').optional();

const regionQuery = z
  .strictObject({ profile, level: z.enum(COVERAGE_LEVELS, { error: `must be one of ${COVERAGE_LEVELS.join(', ')}` }), code: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code').optional(), at, format })
  .superRefine((q, ctx) => {
    if (q.level !== 'national' && q.code === undefined) ctx.addIssue({ code: 'custom', path: ['code'], message: `is required for level ${q.level}` });
  });
const schoolQuery = z.strictObject({ profile, at, format });

export interface ComplianceRoutesOptions {
  registry: () => Registry;
  compliance: ComplianceService;
  now: () => number;
  log?: Logger;
}

const pct = (x: number): number => Math.round(x * 10000) / 100;

export function complianceRouter(opts: ComplianceRoutesOptions): Router {
  const router = Router();
  const { compliance } = opts;

  const pickProfile = (id: string | undefined, res: Parameters<typeof sendInvalidQuery>[0]) => {
    const p = compliance.profile(id);
    if (!p) sendInvalidQuery(res, [{ path: 'profile', message: `no profile ${id}; known: ${compliance.profileIds().join(', ')}` }]);
    return p;
  };

  const when = (at: string | undefined): { atMs: number; source: ComplianceSource } => {
    const nowMs = opts.now();
    const atMs = at ? Date.parse(at) : nowMs;
    return Math.abs(atMs - nowMs) <= LIVE_TOLERANCE_MS ? { atMs: nowMs, source: 'live' } : { atMs, source: "raw" };
  };

  router.get('/api/v1/compliance', async (req, res, next) => {
    try {
      const q = parseQuery(regionQuery, req.query, res);
      if (!q) return;
      const p = pickProfile(q.profile, res);
      if (!p) return;
      const { atMs, source } = when(q.at);
      const answer = await compliance.region(p, q.level, q.code, atMs, source);
      if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `no ${q.level} with code ${q.code} in the registry${q.code ? opts.registry().replacedNote(q.code) : ''}`);
      if (wantsCsv(req, q.format)) {
        const rows: unknown[][] = [];
        for (const [level, code, name, schools, rules] of [[answer.level, answer.code, answer.name, answer.schools, answer.rules] as const, ...answer.children.map((c) => [c.level, c.code, c.name, c.schools, c.rules] as const)]) {
          for (const r of rules) rows.push([answer.profile.id, level, code, name, schools, r.rule, r.pass, r.fail, r.unknown, r.notApplicable, pct(r.passShare), pct(r.knownShare)]);
        }
        return sendCsv(res, `compliance-${answer.profile.id}-${answer.level}-${answer.code}.csv`, ['profile', 'level', 'code', 'name', 'schools', 'rule', 'pass', 'fail', 'unknown', 'not_applicable', 'pass_pct', 'known_pct'], rows);
      }
      res.json(answer);
    } catch (e) {
      if (!sendIfUnavailable(res, e, opts.log)) next(e);
    }
  });

  router.get('/api/v1/schools/:id/compliance', async (req, res, next) => {
    try {
      const id = parseQuery(z.strictObject({ id: schoolId }), { ...req.params }, res);
      if (!id) return;
      const q = parseQuery(schoolQuery, req.query, res);
      if (!q) return;
      const p = pickProfile(q.profile, res);
      if (!p) return;
      const { atMs, source } = when(q.at);
      const answer = await compliance.school(p, id.id, atMs, source);
      if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `school ${id.id} is not in the registry`);
      if (wantsCsv(req, q.format)) {
        const rows = answer.judgements.map((j) => [
          answer.profile.id, answer.school.id, answer.school.name, j.rule, j.status,
          j.value === null ? '' : typeof j.value === 'number' ? j.value : JSON.stringify(j.value), j.unit, j.comparison,
          j.threshold === null ? '' : typeof j.threshold === 'number' ? j.threshold : JSON.stringify(j.threshold),
          j.validFrom ?? '', j.window.description, new Date(j.window.fromMs).toISOString(), new Date(j.window.toMs).toISOString(), j.source, j.reason ?? '',
        ]);
        return sendCsv(res, `compliance-${answer.profile.id}-${answer.school.id}.csv`, ['profile', 'school', 'name', 'rule', 'status', 'value', 'unit', 'comparison', 'threshold', 'valid_from', 'window', 'window_from', 'window_to', 'source', 'reason'], rows);
      }
      res.json(answer);
    } catch (e) {
      if (!sendIfUnavailable(res, e, opts.log)) next(e);
    }
  });

  return router;
}
