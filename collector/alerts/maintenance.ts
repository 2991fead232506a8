/**
 * Maintenance windows per school or region: while one is in force, the alert engine raises no new
 * alert whose labels name that school or region (school, county, city, province, region). Kept in the
 * `maintenance_windows` table of the state database and in memory, by target, so the engine's check
 * is a few map lookups per new alert.
 *
 * API (docs/alerts.md#maintenance-windows): `GET /api/v1/maintenance` (windows in the caller's scope),
 * `POST /api/v1/maintenance` `{ target, startsAt, endsAt, reason }` and `DELETE /api/v1/maintenance/:id`
 * (operator or admin, target inside the caller's scope; the scope middleware checks the role).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { NATION, placeRegion, principalOf, schoolInScope, type Principal } from '../auth/scope.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { Registry } from '../registry/index.js';
import type { Migration, StateDb } from '../state/db.js';

/** What the engine asks before it raises an alert. */
export interface MaintenanceCheck {
  /** True when a window in force at `atMs` covers the school or region the labels name. */
  isInMaintenance(labels: Readonly<Record<string, string>>, atMs: number): boolean;
}

/** One window. Times in ms since the epoch. */
export interface MaintenanceWindow {
  id: number;
  /** A 10-digit school id or a 6-digit region code (`000000`: everything). */
  target: string;
  startsMs: number;
  endsMs: number;
  reason: string;
  createdBy: string;
  createdAtMs: number;
}

/** Most windows not yet ended; a province planning works county by county needs a few hundred. */
export const MAX_OPEN_WINDOWS = 5000;
/** Longest window: a summer holiday's works, not a way to switch alerts off for good. */
export const MAX_WINDOW_MS = 92 * 86_400_000;
/** Ended windows are listed, then purged, after this long. */
export const KEEP_ENDED_MS = 30 * 86_400_000;

export const MAINTENANCE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'maintenance windows per school or region',
    up: 'CREATE TABLE maintenance_windows (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms INTEGER NOT NULL); CREATE INDEX maintenance_ends ON maintenance_windows (ends_ms);',
  },
];

const LABEL_KEYS = ['school', 'county', 'city', 'province', 'region'] as const;

/** The windows, in the state database and by target in memory. */
export class MaintenanceStore implements MaintenanceCheck {
  private byTarget = new Map<string, MaintenanceWindow[]>();
  private open = 0;

  constructor(private readonly state: StateDb, private readonly now: () => number) {
    state.migrate('alerts.maintenance', MAINTENANCE_MIGRATIONS);
    this.reload();
  }

  /** Reads the windows not ended long ago (and purges the rest). */
  reload(): void {
    const nowMs = this.now();
    this.state.db.prepare('DELETE FROM maintenance_windows WHERE ends_ms < ?').run(nowMs - KEEP_ENDED_MS);
    const rows = this.state.db
      .prepare('SELECT id, target, starts_ms AS startsMs, ends_ms AS endsMs, reason, created_by AS createdBy, created_at_ms AS createdAtMs FROM maintenance_windows ORDER BY starts_ms')
      .all() as MaintenanceWindow[];
    this.byTarget = new Map();
    this.open = 0;
    for (const w of rows) this.index(w, nowMs);
  }

  private index(w: MaintenanceWindow, nowMs: number): void {
    const list = this.byTarget.get(w.target) ?? [];
    list.push(w);
    this.byTarget.set(w.target, list);
    if (w.endsMs > nowMs) this.open++;
  }

  isInMaintenance(labels: Readonly<Record<string, string>>, atMs: number): boolean {
    if (this.byTarget.size === 0) return false;
    const hit = (t: string | undefined) => t !== undefined && (this.byTarget.get(t)?.some((w) => w.startsMs <= atMs && atMs < w.endsMs) ?? false);
    return hit(NATION) || LABEL_KEYS.some((k) => hit(labels[k]));
  }

  /** Every window known (ended ones for KEEP_ENDED_MS), newest start first. */
  list(): MaintenanceWindow[] {
    return [...this.byTarget.values()].flat().sort((a, b) => b.startsMs - a.startsMs || b.id - a.id);
  }

  get(id: number): MaintenanceWindow | undefined {
    for (const list of this.byTarget.values()) for (const w of list) if (w.id === id) return w;
    return undefined;
  }

  /** Adds a window; throws when MAX_OPEN_WINDOWS are open. */
  add(w: Omit<MaintenanceWindow, 'id' | 'createdAtMs'>): MaintenanceWindow {
    const nowMs = this.now();
    if (this.open >= MAX_OPEN_WINDOWS) this.reload();
    if (this.open >= MAX_OPEN_WINDOWS) throw new Error(`there are already ${this.open} maintenance windows not ended (at most ${MAX_OPEN_WINDOWS}); end some first`);
    const id = Number(
      this.state.transaction((db) => db.prepare('INSERT INTO maintenance_windows (target, starts_ms, ends_ms, reason, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)').run(w.target, w.startsMs, w.endsMs, w.reason, w.createdBy, nowMs).lastInsertRowid),
    );
    const full = { ...w, id, createdAtMs: nowMs };
    this.index(full, nowMs);
    return full;
  }

  /** Ends a window now (one not started yet is deleted); false when there is no such open window. */
  end(id: number): boolean {
    const w = this.get(id);
    const nowMs = this.now();
    if (!w || w.endsMs <= nowMs) return false;
    if (w.startsMs > nowMs) {
      this.state.transaction((db) => db.prepare('DELETE FROM maintenance_windows WHERE id = ?').run(id));
      const list = this.byTarget.get(w.target) ?? [];
      list.splice(list.indexOf(w), 1);
      if (list.length === 0) this.byTarget.delete(w.target);
    } else {
      this.state.transaction((db) => db.prepare('UPDATE maintenance_windows SET ends_ms = ? WHERE id = ?').run(nowMs, id));
      w.endsMs = nowMs;
    }
    this.open--;
    return true;
  }
}

const iso = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time with a zone, e.g. 2026-12-05T18:00:00+08:00');
const createBody = z.strictObject({
  target: z.string().regex(/^(\d{6}|\d{10})$/, 'must be a 10-digit school id or a 6-digit region code (000000: everything)'),
  startsAt: iso.optional(),
  endsAt: iso,
  reason: z.string().min(1).max(500),
});

/** Error handler for express.json(): a body that is not JSON (or too big) is the client's mistake, not a 500. */
export function badJsonBody(err: { type?: string; message?: string }, _req: Request, res: Response, next: NextFunction): void {
  if (!err?.type) return next(err);
  sendError(res, 'COL_ERR_INVALID_PAYLOAD', `the body must be a small JSON object: ${err.message}`);
}

/** True when the principal's scope covers the window's target (no principal: an open collector). */
function covers(reg: Registry, p: Principal | undefined, target: string): boolean {
  if (!p || p.scope === NATION) return true;
  return target.length === 10 ? schoolInScope(reg, p.scope, target) === true : placeRegion(reg, p.scope, target) === 'inside';
}

const shown = (w: MaintenanceWindow, nowMs: number) => ({
  id: w.id,
  target: w.target,
  startsAt: new Date(w.startsMs).toISOString(),
  endsAt: new Date(w.endsMs).toISOString(),
  inForce: w.startsMs <= nowMs && nowMs < w.endsMs,
  reason: w.reason,
  createdBy: w.createdBy,
  createdAt: new Date(w.createdAtMs).toISOString(),
});

/** The routes of the maintenance windows. */
export function maintenanceRouter(store: MaintenanceStore, registry: () => Registry, now: () => number): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });

  router.get('/api/v1/maintenance', (_req, res) => {
    const reg = registry();
    const p = principalOf(res);
    const nowMs = now();
    res.json({ asOf: new Date(nowMs).toISOString(), windows: store.list().filter((w) => covers(reg, p, w.target)).map((w) => shown(w, nowMs)) });
  });

  router.post('/api/v1/maintenance', json, (req, res) => {
    const parsed = createBody.safeParse(req.body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return sendError(res, 'COL_ERR_INVALID_PAYLOAD', `invalid maintenance window: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    const b = parsed.data;
    const reg = registry();
    const p = principalOf(res);
    const known = b.target === NATION || (b.target.length === 10 ? reg.get(b.target) !== undefined : reg.region(b.target) !== undefined || reg.region(reg.resolve(b.target)) !== undefined);
    if (!known) return sendError(res, 'COL_ERR_NOT_FOUND', `no school or region ${b.target} in the registry`);
    if (!covers(reg, p, b.target)) return sendError(res, 'COL_ERR_SCOPE_FORBIDDEN', `${b.target} is outside the scope ${p?.scope} of ${p?.name}`);
    const startsMs = b.startsAt ? Date.parse(b.startsAt) : now();
    const endsMs = Date.parse(b.endsAt);
    const bad = endsMs <= startsMs ? 'must be after startsAt' : endsMs - startsMs > MAX_WINDOW_MS ? `makes the window longer than ${MAX_WINDOW_MS / 86_400_000} days` : endsMs <= now() ? 'is already past' : '';
    if (bad) return sendError(res, 'COL_ERR_INVALID_PAYLOAD', `invalid maintenance window: endsAt ${bad}`, [{ path: 'endsAt', message: bad }]);
    try {
      const w = store.add({ target: b.target, startsMs, endsMs, reason: b.reason, createdBy: p ? `api:${p.name}` : 'api:anonymous' });
      res.status(201).json(shown(w, now()));
    } catch (e) {
      sendError(res, 'COL_ERR_INVALID_PAYLOAD', String((e as Error).message));
    }
  });

  router.delete('/api/v1/maintenance/:id', (req, res) => {
    const id = Number(req.params.id);
    const w = Number.isInteger(id) ? store.get(id) : undefined;
    const reg = registry();
    const p = principalOf(res);
    if (!w || !covers(reg, p, w.target)) return sendError(res, 'COL_ERR_NOT_FOUND', `no maintenance window ${req.params.id} in your scope`);
    if (!store.end(id)) return sendError(res, 'COL_ERR_NOT_FOUND', `maintenance window ${id} has already ended`);
    res.json(shown(w, now()));
  });

  router.use('/api/v1/maintenance', badJsonBody);
  return router;
}

/** The module: store + routes, and the check the alerts module hands to its engine. */
export interface MaintenanceModule extends CollectorModule, MaintenanceCheck {
  readonly store: MaintenanceStore;
}

export function createMaintenanceModule(ctx: ModuleContext): MaintenanceModule {
  const store = new MaintenanceStore(ctx.state, ctx.now);
  const registry = () => ctx.liveRegistry?.current() ?? ctx.registry;
  return {
    name: 'maintenance',
    router: maintenanceRouter(store, registry, ctx.now),
    store,
    isInMaintenance: (labels, atMs) => store.isInMaintenance(labels, atMs),
  };
}
