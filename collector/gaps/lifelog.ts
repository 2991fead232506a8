/**
 * The collector's own start/stop log: when it was down. A heartbeat records "alive at" every few
 * seconds; a start after a crash (no clean stop) counts the time since the last heartbeat as down.
 * Stored in the state database (`lifelog`, one row, and `lifelog_downtimes`).
 *
 * A heartbeat that cannot be written (disk full, descriptors exhausted) is logged and retried by the
 * next one; downtimes not yet written stay in memory until a write succeeds. Nothing here throws from
 * a timer.
 */
import type { Logger } from 'pino';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { WriteFailureLog } from '../state/failures.js';

/** One period the collector was not running, ms since the epoch. */
export interface Downtime {
  fromMs: number;
  toMs: number;
}

/** Schema of the `gaps.lifelog` module. */
export const LIFELOG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'collector heartbeat and downtimes',
    up: 'CREATE TABLE lifelog (id INTEGER PRIMARY KEY CHECK (id = 1), alive_at_ms INTEGER, stopped INTEGER NOT NULL DEFAULT 0); CREATE TABLE lifelog_downtimes (from_ms INTEGER PRIMARY KEY, to_ms INTEGER NOT NULL);',
  },
];

/** Creates or upgrades the lifelog tables. */
export function migrateLifeLog(state: StateDb): void {
  state.migrate('gaps.lifelog', LIFELOG_MIGRATIONS);
}

/** Writes a heartbeat and downtimes in the caller's transaction, keeping the newest `maxDowntimes`. */
export function putLifeLog(db: Sqlite, opts: { aliveAtMs?: number; stopped: boolean; downtimes: readonly Downtime[]; maxDowntimes: number }): void {
  const ins = db.prepare('INSERT INTO lifelog_downtimes (from_ms, to_ms) VALUES (?, ?) ON CONFLICT (from_ms) DO UPDATE SET to_ms = max(to_ms, excluded.to_ms)');
  for (const d of opts.downtimes) ins.run(d.fromMs, d.toMs);
  if (opts.downtimes.length) db.prepare('DELETE FROM lifelog_downtimes WHERE from_ms NOT IN (SELECT from_ms FROM lifelog_downtimes ORDER BY from_ms DESC LIMIT ?)').run(opts.maxDowntimes);
  db.prepare('INSERT INTO lifelog (id, alive_at_ms, stopped) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET alive_at_ms = excluded.alive_at_ms, stopped = excluded.stopped').run(opts.aliveAtMs ?? null, opts.stopped ? 1 : 0);
}

export interface LifeLogOptions {
  state: StateDb;
  log: Logger;
  now: () => number;
  /** How often "alive" is recorded, ms. */
  heartbeatMs?: number;
  /** Most downtimes kept. */
  maxDowntimes?: number;
}

export class LifeLog {
  private downtimesMs: Downtime[] = [];
  private unsaved: Downtime[] = [];
  private aliveAtMs?: number;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private readonly failures: WriteFailureLog;
  private readonly max: number;

  constructor(private readonly opts: LifeLogOptions) {
    this.max = opts.maxDowntimes ?? 1000;
    this.failures = new WriteFailureLog({ log: opts.log, what: 'collector heartbeat', now: opts.now });
    migrateLifeLog(opts.state);
    const db = opts.state.db;
    const row = db.prepare('SELECT alive_at_ms AS aliveAtMs, stopped FROM lifelog WHERE id = 1').get() as { aliveAtMs: number | null; stopped: number } | undefined;
    if (row?.aliveAtMs != null) this.aliveAtMs = row.aliveAtMs;
    this.downtimesMs = (db.prepare('SELECT from_ms AS fromMs, to_ms AS toMs FROM lifelog_downtimes ORDER BY from_ms DESC LIMIT ?').all(this.max) as Downtime[]).reverse();
  }

  /** Records this start (and the downtime before it), then beats until stop(). */
  start(): void {
    const now = this.opts.now();
    if (this.aliveAtMs !== undefined && now > this.aliveAtMs) {
      const d = { fromMs: this.aliveAtMs, toMs: now };
      this.downtimesMs.push(d);
      this.unsaved.push(d);
      this.downtimesMs = this.downtimesMs.slice(-this.max);
    }
    this.stopped = false;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs ?? 2000);
    this.timer.unref();
  }

  /** One heartbeat; at most one in flight. Never rejects. */
  private beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.aliveAtMs = this.opts.now();
    const downtimes = this.unsaved;
    this.unsaved = [];
    const write = { aliveAtMs: this.aliveAtMs, stopped: this.stopped, downtimes, maxDowntimes: this.max };
    this.beating = this.opts.state
      .commit((db) => putLifeLog(db, write))
      .then(
        () => this.failures.succeeded(),
        (e: unknown) => {
          this.unsaved = [...downtimes, ...this.unsaved];
          this.failures.failed(e);
        },
      )
      .finally(() => {
        this.beating = undefined;
      });
    return this.beating;
  }

  /** Records a clean stop. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    this.stopped = true;
    await this.beat();
  }

  /** Known downtimes, oldest first. */
  downtimes(): readonly Downtime[] {
    return this.downtimesMs;
  }

  /** Milliseconds of [fromMs, toMs) during which the collector was down. */
  downWithin(fromMs: number, toMs: number): number {
    let ms = 0;
    for (const d of this.downtimesMs) ms += Math.max(0, Math.min(toMs, d.toMs) - Math.max(fromMs, d.fromMs));
    return ms;
  }
}
