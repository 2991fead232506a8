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
import { NATION, principalOf } from '../auth/scope.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { Registry } from '../registry/index.js';
import type { Migration, StateDb } from '../state/db.js';
import { alertRecord, alertUnder, type Alert } from './alert.js';
import { badJsonBody } from './maintenance.js';

export const MAX_RESOLVED = 5000;
export const KEEP_RESOLVED_MS = 7 * 86_400_000;
// Rows of the history per group commit: each is an alert's JSON, so 100 keep a commit's work to a few ms.
const CHUNK = 100;
// Acknowledgements of alerts not kept, deleted per commit (one primary-key delete each).
const ACK_CHUNK = 1000;
/** Longest stretch of work between two yields while building a page, ms. */
const SLICE_MS = 8;
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

export const BOARD_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'alerts page: acknowledgements of firing alerts, recently resolved alerts',
    up: `CREATE TABLE alert_acks (key TEXT NOT NULL, starts_ms INTEGER NOT NULL, by TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (key, starts_ms)) WITHOUT ROWID;
CREATE TABLE alert_resolved (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, alert TEXT NOT NULL, acked_by TEXT, acked_at_ms INTEGER);
CREATE INDEX alert_resolved_ends ON alert_resolved (ends_ms);`,
  },
  // The codes an alert lies under, so the history is filtered by region and scope in SQL, not by parsing every row.
  { version: 2, description: 'alerts page: the places of a resolved alert', up: `ALTER TABLE alert_resolved ADD COLUMN place TEXT NOT NULL DEFAULT '';` },
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

type Ack = { startsMs: number; by: string; atMs: number };
type Labels = Readonly<Record<string, string>>;

/** True when the labels name `code` as the school or one of the regions the alert lies under (any code for the nation). */
export function labelsUnder(labels: Labels, code: string): boolean {
  return code === NATION || labels.school === code || labels.county === code || labels.city === code || labels.province === code || labels.region === code;
}

/** `labelsUnder` for an account's scope, resolved once (a recoded scope leads to its code in force). */
export function scopeFilter(reg: Registry, scope: string): (a: Alert) => boolean {
  if (scope === NATION) return () => true;
  const code = reg.region(scope) ? scope : reg.resolve(scope);
  return (a) => alertUnder(a, code);
}

/** The codes an alert lies under, as stored in `alert_resolved.place`: ` school county city province region `. */
const placeOf = (l: Labels) => ` ${[l.school, l.county, l.city, l.province, l.region].filter(Boolean).join(' ')} `;

/** The `limit` alerts of latest start, kept in a min-heap as they stream by. */
class Newest {
  readonly heap: { a: Alert; ack: Ack | undefined }[] = [];
  constructor(private readonly limit: number) {}
  offer(a: Alert, ack: Ack | undefined): void {
    const h = this.heap;
    if (h.length < this.limit) {
      h.push({ a, ack });
      for (let i = h.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if ((h[p] as { a: Alert }).a.startsAtMs <= (h[i] as { a: Alert }).a.startsAtMs) break;
        [h[p], h[i]] = [h[i] as (typeof h)[number], h[p] as (typeof h)[number]];
        i = p;
      }
      return;
    }
    if (this.limit === 0 || a.startsAtMs <= (h[0] as { a: Alert }).a.startsAtMs) return;
    h[0] = { a, ack };
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && (h[l] as { a: Alert }).a.startsAtMs < (h[m] as { a: Alert }).a.startsAtMs) m = l;
      if (r < h.length && (h[r] as { a: Alert }).a.startsAtMs < (h[m] as { a: Alert }).a.startsAtMs) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i] as (typeof h)[number], h[m] as (typeof h)[number]];
      i = m;
    }
  }
}

/** Acknowledgements and the resolved history. */
export class AlertBoard {
  /** Acknowledgements of firing alerts by alert key (with the start of the alert they were given to). */
  private acks = new Map<string, Ack>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly state: StateDb, private readonly active: () => ReadonlyMap<string, Alert>, private readonly now: () => number) {
    state.migrate('alerts.board', BOARD_MIGRATIONS);
    for (const r of state.db.prepare('SELECT key, starts_ms AS startsMs, by, at_ms AS atMs FROM alert_acks').all() as ({ key: string } & Ack)[]) {
      this.acks.set(r.key, { startsMs: r.startsMs, by: r.by, atMs: r.atMs });
    }
  }

  private ackOf(a: Alert): Ack | undefined {
    const ack = this.acks.get(a.key);
    return ack && ack.startsMs === a.startsAtMs ? ack : undefined;
  }

  /**
   * The alerts module's journal hook: resolved alerts move to the history with their acknowledgement.
   * Of a storm, only the newest MAX_RESOLVED are written (the history keeps no more). The work is cut
   * so no piece holds the event loop: acknowledgements of alerts not kept are deleted ACK_CHUNK to a
   * commit; each chunk of kept rows is serialized in its own slice, then inserted in a commit that only
   * binds them; the history is pruned once at the end.
   */
  note(_fired: readonly Alert[], resolved: readonly Alert[]): void {
    if (resolved.length === 0) return;
    const nowMs = this.now();
    this.writing = this.writing.then(() => this.write(resolved, nowMs)).catch(() => undefined);
  }

  private async write(resolved: readonly Alert[], nowMs: number): Promise<void> {
    const firstKept = Math.max(0, resolved.length - MAX_RESOLVED);
    let t0 = performance.now();
    const pause = async () => {
      if (performance.now() - t0 > SLICE_MS) {
        await yieldNow();
        t0 = performance.now();
      }
    };
    const dropped: [string, number][] = [];
    for (let i = 0; i < firstKept; i++) {
      const a = resolved[i] as Alert;
      if (this.acks.size && this.ackOf(a)) {
        this.acks.delete(a.key);
        dropped.push([a.key, a.startsAtMs]);
      }
      if ((i & 255) === 0) await pause();
    }
    for (let i = 0; i < dropped.length; i += ACK_CHUNK) {
      const part = dropped.slice(i, i + ACK_CHUNK);
      await this.state.commit((db) => {
        const del = db.prepare('DELETE FROM alert_acks WHERE key = ? AND starts_ms = ?');
        for (const [key, startsMs] of part) del.run(key, startsMs);
      });
      t0 = performance.now();
    }
    for (let i = firstKept; i < resolved.length; i += CHUNK) {
      await pause();
      const rows: [string, number, number, string, string | null, number | null, string, boolean][] = [];
      for (const a of resolved.slice(i, i + CHUNK)) {
        const ack = this.acks.size ? this.ackOf(a) : undefined;
        if (ack) this.acks.delete(a.key);
        rows.push([a.key, a.startsAtMs, a.endsAtMs ?? nowMs, JSON.stringify(alertRecord(a)), ack?.by ?? null, ack?.atMs ?? null, placeOf(a.labels), ack !== undefined]);
      }
      await yieldNow();
      await this.state.commit((db) => {
        const ins = db.prepare('INSERT INTO alert_resolved (key, starts_ms, ends_ms, alert, acked_by, acked_at_ms, place) VALUES (?, ?, ?, ?, ?, ?, ?)');
        const del = db.prepare('DELETE FROM alert_acks WHERE key = ? AND starts_ms = ?');
        for (const [key, startsMs, endsMs, json, by, atMs, place, acked] of rows) {
          if (acked) del.run(key, startsMs);
          ins.run(key, startsMs, endsMs, json, by, atMs, place);
        }
      });
      t0 = performance.now();
    }
    await this.state.commit((db) => {
      db.prepare('DELETE FROM alert_resolved WHERE ends_ms < ?').run(nowMs - KEEP_RESOLVED_MS);
      db.prepare('DELETE FROM alert_resolved WHERE id <= (SELECT max(id) FROM alert_resolved) - ?').run(MAX_RESOLVED);
    });
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
    this.acks.set(key, { startsMs: a.startsAtMs, by, atMs });
    return a;
  }

  /**
   * The page's rows: firing (acknowledged or not) with the latest start first, then resolved with the
   * latest end first. One pass over the firing alerts in slices with yields between, so a storm of
   * 60,000 never holds the event loop; only the page's rows are built.
   */
  async items(opts: { region: string; state: 'firing' | 'resolved' | 'acknowledged' | 'all'; limit: number; /** The caller's scope (code in force). */ scope: string }): Promise<{ firing: number; acknowledged: number; items: BoardItem[]; truncated: boolean }> {
    let firing = 0;
    let acknowledged = 0;
    let matched = 0;
    const newest = new Newest(opts.state === 'resolved' ? 0 : opts.limit);
    let t0 = performance.now();
    let n = 0;
    for (const a of this.active().values()) {
      if (++n % 256 === 0 && performance.now() - t0 > SLICE_MS) {
        await yieldNow();
        t0 = performance.now();
      }
      if (!alertUnder(a, opts.region) || !alertUnder(a, opts.scope)) continue;
      const ack = this.acks.size ? this.ackOf(a) : undefined;
      firing++;
      if (ack) acknowledged++;
      if (opts.state === 'resolved' || (opts.state === 'acknowledged' && !ack)) continue;
      matched++;
      newest.offer(a, ack);
    }
    const items = newest.heap.sort((x, y) => y.a.startsAtMs - x.a.startsAtMs).map(({ a, ack }) => row(a, 'firing', ack));
    let truncated = matched > items.length;
    if (opts.state !== 'firing' && items.length < opts.limit) {
      const codes = [opts.region, opts.scope].filter((c) => c !== NATION);
      const where = [...codes.map(() => `instr(place, ' ' || ? || ' ') > 0`), ...(opts.state === 'acknowledged' ? ['acked_by IS NOT NULL'] : []), '1'];
      const args = codes;
      const rows = this.state.db
        .prepare(`SELECT alert, acked_by AS by, acked_at_ms AS atMs FROM alert_resolved WHERE ${where.join(' AND ')} ORDER BY ends_ms DESC, id DESC LIMIT ?`)
        .all(...args, opts.limit - items.length + 1) as { alert: string; by: string | null; atMs: number | null }[];
      truncated ||= rows.length > opts.limit - items.length;
      for (const r of rows.slice(0, opts.limit - items.length)) {
        const a = JSON.parse(r.alert) as Alert;
        items.push(row(a, 'resolved', r.by !== null ? { startsMs: a.startsAtMs, by: r.by, atMs: r.atMs as number } : undefined));
      }
    }
    return { firing, acknowledged, items, truncated };
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

  router.get('/api/v1/alerts/board', async (req, res) => {
    const q = boardQuery.safeParse(req.query);
    if (!q.success) {
      const issues = q.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return sendError(res, 'COL_ERR_INVALID_QUERY', `invalid query: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    const scope = scopeOf(res);
    const reg = registry();
    const region = q.data.region === NATION || reg.region(q.data.region) ? q.data.region : reg.resolve(q.data.region);
    const answer = await board.items({ ...q.data, region, scope: scope === NATION || reg.region(scope) ? scope : reg.resolve(scope) });
    res.json({ asOf: new Date(now()).toISOString(), scope, region, ...answer });
  });

  router.post('/api/v1/alerts/ack', express.json({ limit: '4kb' }), async (req, res, next) => {
    try {
      const b = ackBody.safeParse(req.body);
      if (!b.success) return sendError(res, 'COL_ERR_INVALID_PAYLOAD', 'the body must be {"key": "<alert key>"}', [{ path: 'key', message: 'required' }]);
      const p = principalOf(res);
      const a = board.firing(b.data.key);
      if (!a || (p && !scopeFilter(registry(), p.scope)(a))) return sendError(res, 'COL_ERR_NOT_FOUND', `no firing alert ${b.data.key} in your scope`);
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
