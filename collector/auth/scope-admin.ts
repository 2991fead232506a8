/**
 * The admin API beside the CLI (which stays the main path): read-only tokens and the audit log for
 * accounts with role admin. `GET|POST /api/v1/read-tokens`, `DELETE /api/v1/read-tokens/:id`,
 * `GET /api/v1/audit`. An admin issues tokens inside its own scope only; changes are audited as
 * `api:<account>`. The scope middleware refuses these routes to any other role.
 */
import express, { Router } from 'express';
import { z } from 'zod';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { Registry } from '../registry/index.js';
import type { StateDb } from '../state/db.js';
import { badJsonBody } from '../alerts/maintenance.js';
import { listAudit } from './audit.js';
import { NATION, placeRegion, principalOf } from './scope.js';
import { issueReadToken, listReadTokens, revokeReadToken } from './scope-tokens.js';

const issueBody = z.strictObject({
  label: z.string().min(1).max(100),
  scope: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 region code (000000: the nation)').optional(),
  expiresDays: z.number().positive().max(3650).optional(),
});
const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(100), subject: z.string().max(200).optional() });

/** The admin routes. */
export function adminRouter(state: StateDb, registry: () => Registry, now: () => number): Router {
  const router = Router();
  const inScope = (adminScope: string, scope: string) => adminScope === NATION || placeRegion(registry(), adminScope, scope) === 'inside';

  router.get('/api/v1/read-tokens', (_req, res) => {
    const p = principalOf(res);
    res.json({ tokens: listReadTokens(state).filter((t) => !p || inScope(p.scope, t.scope)) });
  });

  router.post('/api/v1/read-tokens', express.json({ limit: '4kb' }), (req, res) => {
    const b = issueBody.safeParse(req.body);
    if (!b.success) {
      const issues = b.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return sendError(res, 'COL_ERR_INVALID_PAYLOAD', `invalid token request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    const p = principalOf(res);
    const scope = b.data.scope ?? p?.scope ?? NATION;
    if (scope !== NATION && placeRegion(registry(), NATION, scope) === 'unknown') return sendError(res, 'COL_ERR_NOT_FOUND', `no school of the registry is under region ${scope}`);
    if (p && !inScope(p.scope, scope)) return sendError(res, 'COL_ERR_SCOPE_FORBIDDEN', `scope ${scope} is outside the scope ${p.scope} of ${p.name}`);
    try {
      const { token, record } = issueReadToken({ state, label: b.data.label, scope, by: `api:${p?.name ?? 'anonymous'}`, now, ...(b.data.expiresDays !== undefined && { expiresAtMs: now() + b.data.expiresDays * 86_400_000 }) });
      res.status(201).json({ ...record, token });
    } catch (e) {
      sendError(res, 'COL_ERR_INVALID_PAYLOAD', String((e as Error).message));
    }
  });

  router.delete('/api/v1/read-tokens/:id', (req, res) => {
    const p = principalOf(res);
    const t = listReadTokens(state).find((x) => x.id === req.params.id && x.revokedAt === null);
    if (!t || (p && !inScope(p.scope, t.scope))) return sendError(res, 'COL_ERR_NOT_FOUND', `no read token ${req.params.id} in force in your scope`);
    revokeReadToken({ state, id: t.id, by: `api:${p?.name ?? 'anonymous'}`, now });
    res.json({ id: t.id, revoked: true });
  });

  router.get('/api/v1/audit', (req, res) => {
    const q = auditQuery.safeParse(req.query);
    if (!q.success) return sendError(res, 'COL_ERR_INVALID_QUERY', `invalid query: ${q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    res.json({ entries: listAudit(state, { limit: q.data.limit, ...(q.data.subject !== undefined && { subject: q.data.subject }) }) });
  });

  router.use('/api/v1/read-tokens', badJsonBody);
  return router;
}

/** The admin API as a module. */
export function createAdminModule(ctx: ModuleContext): CollectorModule {
  return { name: 'auth-admin', router: adminRouter(ctx.state, () => ctx.liveRegistry?.current() ?? ctx.registry, ctx.now) };
}
