/**
 * The alerts page's data: firing alerts (the engine's, in memory), alerts resolved in the last days,
 * and acknowledgements (who, when) by operators. Acknowledgements of firing alerts are kept in
 * `alert_acks`; a resolved alert moves with its acknowledgement to `alert_resolved`, which keeps the
 * newest `MAX_RESOLVED` for `KEEP_RESOLVED_MS`. Writes go through group commits in chunks, so a storm
 * resolving 60,000 alerts never holds the event loop.
 *
 * API: `GET /api/v1/alerts/board?region=&state=firing|resolved|acknowledged|all&limit=` (filtered by
 * the caller's scope: the scope middleware narrows `region`) and `POST /api/v1/alerts/ack` `{ key }`
 * (operator or admin; the alert must lie inside the caller's scope).
 */
import express, { Router, type Response } from 'express';
import { z } from 'zod';
import { NATION, placeRegion, principalOf, schoolInScope } from '../auth/scope.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { Registry } from '../registry/index.js';
import type { Migration, StateDb } from '../state/db.js';
import type { Alert } from './alert.js';
import { badJsonBody } from './maintenance.js';

export const MAX_RESOLVED = 5000;
export const KEEP_RESOLVED_MS = 7 * 86_400_000;
const CHUNK = 500;
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

export const BOARD_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'alerts page: acknowledgements of firing alerts, recently resolved alerts',
    up: `CREATE TABLE alert_acks (key TEXT NOT NULL, starts_ms INTEGER NOT NULL, by TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (key, starts_ms)) WITHOUT ROWID;
CREATE TABLE alert_resolved (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, alert TEXT NOT NULL, acked_by TEXT, acked_at_ms INTEGER);
CREATE INDEX alert_resolved_ends ON alert_resolved (ends_ms);`,
  },
];

/** One row of the alerts page. */
export interface BoardItem {
  key: string;
  rule: string;
  severity: string;
  labels: Readonly<Record<string, string>>;
  summary: string;
  summaryZh: string;
  consoleUrl: string;
  state: 'firing' | 'resolved';
  startsAt: string;
  endsAt: string | null;
  ack: { by: string; at: string } | null;
}

type Ack = { by: string; atMs: number };
const ackKey = (key: string, startsMs: number) => `${key}@${startsMs}`;

/** True when an alert's labels lie inside the scope. */
export function alertInScope(reg: Registry, scope: string, labels: Readonly<Record<string, string>>): boolean {
  if (scope === NATION) return true;
  if (labels.school) return schoolInScope(reg, scope, labels.school) === true;
  const code = labels.region ?? labels.county ?? labels.city ?? labels.province;
  return code !== undefined && placeRegion(reg, scope, code) === 'inside';
}

function matchesRegion(labels: Readonly<Record<string, string>>, region: string): boolean {
  return region === NATION || [labels.school, labels.region, labels.county, labels.city, labels.province].includes(region);
}

/** Acknowledgements and the resolved history. */
export class AlertBoard {
  private acks = new Map<string, Ack>();
  private pending: (() => void)[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly state: StateDb, private readonly active: () => ReadonlyMap<string, Alert>, private readonly now: () => number) {
    state.migrate('alerts.board', BOARD_MIGRATIONS);
    for (const r of state.db.prepare('SELECT key, starts_ms AS startsMs, by, at_ms AS atMs FROM alert_acks').all() as { key: string; startsMs: number; by: string; atMs: number }[]) {
      this.acks.set(ackKey(r.key, r.startsMs), { by: r.by, atMs: r.atMs });
    }
  }

  /** The alerts module's journal hook: resolved alerts move to the history with their acknowledgement. */
  note(_fired: readonly Alert[], resolved: readonly Alert[]): void {
    if (resolved.length === 0) return;
    const rows = resolved.map((a) => {
      const k = ackKey(a.key, a.startsAtMs);
      const ack = this.acks.get(k);
      this.acks.delete(k);
      return { a, ack };
    });
    const nowMs = this.now();
    this.writing = this.writing.then(async () => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const part = rows.slice(i, i + CHUNK);
        await this.state.commit((db) => {
          const ins = db.prepare('INSERT INTO alert_resolved (key, starts_ms, ends_ms, alert, acked_by, acked_at_ms) VALUES (?, ?, ?, ?, ?, ?)');
          const del = db.prepare('DELETE FROM alert_acks WHERE key = ? AND starts_ms = ?');
          for (const { a, ack } of part) {
            ins.run(a.key, a.startsAtMs, a.endsAtMs ?? nowMs, JSON.stringify({ ...a, sweep: undefined }), ack?.by ?? null, ack?.atMs ?? null);
            if (ack) del.run(a.key, a.startsAtMs);
          }
        });
        await yieldNow();
      }
      await this.state.commit((db) => {
        db.prepare('DELETE FROM alert_resolved WHERE ends_ms < ?').run(nowMs - KEEP_RESOLVED_MS);
        db.prepare('DELETE FROM alert_resolved WHERE id <= (SELECT max(id) FROM alert_resolved) - ?').run(MAX_RESOLVED);
      });
    }).catch(() => undefined);
  }

  /** Settles the writes queued so far (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writing;
  }

  /** The firing alert of that key. */
  firing(key: string): Alert | undefined {
    return this.active().get(key);
  }

  /** Acknowledges a firing alert; undefined when no such alert fires. */
  async acknowledge(key: string, by: string): Promise<Alert | undefined> {
    const a = this.active().get(key);
    if (!a) return undefined;
    const atMs = this.now();
    await this.state.commit((db) => db.prepare('INSERT INTO alert_acks (key, starts_ms, by, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key, starts_ms) DO UPDATE SET by = excluded.by, at_ms = excluded.at_ms').run(key, a.startsAtMs, by, atMs));
    this.acks.set(ackKey(key, a.startsAtMs), { by, atMs });
    return a;
  }

  /** The page's rows, newest first: firing (acknowledged or not) then resolved. */
  items(opts: { region: string; state: 'firing' | 'resolved' | 'acknowledged' | 'all'; limit: number; inScope: (labels: Readonly<Record<string, string>>) => boolean }): { firing: number; acknowledged: number; items: BoardItem[]; truncated: boolean } {
    const out: BoardItem[] = [];
    let firing = 0;
    let acknowledged = 0;
    let total = 0;
    const take = (item: BoardItem) => {
      total++;
      if (out.length < opts.limit) out.push(item);
    };
    const wantFiring = opts.state !== 'resolved';
    // Rows are built for the page only; a storm of 60,000 firing alerts is sorted as references by number.
    const shown: { a: Alert; ack: Ack | undefined }[] = [];
    for (const a of this.active().values()) {
      if (!matchesRegion(a.labels, opts.region) || !opts.inScope(a.labels)) continue;
      const ack = this.acks.get(ackKey(a.key, a.startsAtMs));
      firing++;
      if (ack) acknowledged++;
      if (!wantFiring || (opts.state === 'acknowledged' && !ack)) continue;
      shown.push({ a, ack });
    }
    shown.sort((x, y) => y.a.startsAtMs - x.a.startsAtMs);
    for (const { a, ack } of shown) {
      if (out.length >= opts.limit) {
        total += shown.length - out.length;
        break;
      }
      take(row(a, 'firing', ack));
    }
    if (opts.state !== 'firing') {
      const rows = this.state.db.prepare('SELECT alert, acked_by AS by, acked_at_ms AS atMs FROM alert_resolved ORDER BY ends_ms DESC, id DESC LIMIT ?').all(MAX_RESOLVED) as { alert: string; by: string | null; atMs: number | null }[];
      for (const r of rows) {
        const a = JSON.parse(r.alert) as Alert;
        if (!matchesRegion(a.labels, opts.region) || !opts.inScope(a.labels)) continue;
        if (opts.state === 'acknowledged' && r.by === null) continue;
        take(row(a, 'resolved', r.by !== null ? { by: r.by, atMs: r.atMs as number } : undefined));
      }
    }
    return { firing, acknowledged, items: out, truncated: total > out.length };
  }
}

function row(a: Alert, state: 'firing' | 'resolved', ack: Ack | undefined): BoardItem {
  return {
    key: a.key, rule: a.rule, severity: a.severity, labels: a.labels, summary: a.summaryEn, summaryZh: a.summaryZh, consoleUrl: a.consoleUrl, state,
    startsAt: new Date(a.startsAtMs).toISOString(), endsAt: a.endsAtMs !== undefined ? new Date(a.endsAtMs).toISOString() : null,
    ack: ack ? { by: ack.by, at: new Date(ack.atMs).toISOString() } : null,
  };
}

const boardQuery = z.strictObject({
  region: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code (000000: national)').default(NATION),
  state: z.enum(['firing', 'resolved', 'acknowledged', 'all']).default('all'),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});
const ackBody = z.strictObject({ key: z.string().min(1).max(200) });

/** The board's routes. */
export function boardRouter(board: AlertBoard, registry: () => Registry, now: () => number): Router {
  const router = Router();
  const scopeOf = (res: Response) => principalOf(res)?.scope ?? NATION;

  router.get('/api/v1/alerts/board', (req, res) => {
    const q = boardQuery.safeParse(req.query);
    if (!q.success) {
      const issues = q.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return sendError(res, 'COL_ERR_INVALID_QUERY', `invalid query: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    const reg = registry();
    const scope = scopeOf(res);
    res.json({ asOf: new Date(now()).toISOString(), scope, region: q.data.region, ...board.items({ ...q.data, inScope: (l) => alertInScope(reg, scope, l) }) });
  });

  router.post('/api/v1/alerts/ack', express.json({ limit: '4kb' }), async (req, res, next) => {
    try {
      const b = ackBody.safeParse(req.body);
      if (!b.success) return sendError(res, 'COL_ERR_INVALID_PAYLOAD', 'the body must be {"key": "<alert key>"}', [{ path: 'key', message: 'required' }]);
      const p = principalOf(res);
      const a = board.firing(b.data.key);
      if (!a || (p && !alertInScope(registry(), p.scope, a.labels))) return sendError(res, 'COL_ERR_NOT_FOUND', `no firing alert ${b.data.key} in your scope`);
      const by = p ? p.name : 'anonymous';
      await board.acknowledge(b.data.key, by);
      res.json({ key: a.key, ack: { by, at: new Date(now()).toISOString() } });
    } catch (e) {
      next(e);
    }
  });

  router.use('/api/v1/alerts/ack', badJsonBody);
  return router;
}

/** The board as a module; `active` gives the engine's firing alerts (the alerts module is built after it). */
export interface AlertBoardModule extends CollectorModule {
  readonly board: AlertBoard;
  note(fired: readonly Alert[], resolved: readonly Alert[]): void;
}

export function createAlertBoardModule(ctx: ModuleContext, opts: { active: () => ReadonlyMap<string, Alert> }): AlertBoardModule {
  const board = new AlertBoard(ctx.state, opts.active, ctx.now);
  const registry = () => ctx.liveRegistry?.current() ?? ctx.registry;
  return {
    name: 'alert-board',
    router: boardRouter(board, registry, ctx.now),
    board,
    note: (f, r) => board.note(f, r),
    stop: () => board.flushed(),
  };
}
