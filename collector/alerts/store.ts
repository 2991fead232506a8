/**
 * Firing alerts in the state database (`alerts_active`), so a restart keeps their start times and
 * resolves them once instead of forgetting them. Changes are written through group commits in chunks
 * (a storm of 60,000 new alerts is 240 commits of 250 rows with yields between, not one long
 * transaction); the table holds firing alerts only, so it is bounded by `alerts.maxActive`.
 */
import type { Migration, StateDb } from '../state/db.js';
import { alertRecord, type Alert } from './alert.js';

export const ALERTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'alerts: firing alerts with their labels, summaries and start',
    up: `CREATE TABLE alerts_active (key TEXT PRIMARY KEY, alert TEXT NOT NULL, starts_ms INTEGER NOT NULL) WITHOUT ROWID;`,
  },
];

// 250 rows of alert JSON: serializing or committing a chunk stays a few ms.
const CHUNK = 250;
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Reads and writes `alerts_active`. */
export class AlertStore {
  /** Changes not yet written: key → the alert (insert) or null (delete). */
  private pending = new Map<string, Alert | null>();

  constructor(private readonly state: StateDb) {
    state.migrate('alerts', ALERTS_MIGRATIONS);
  }

  /** Every saved alert. */
  load(): Alert[] {
    const rows = this.state.db.prepare('SELECT alert FROM alerts_active').all() as { alert: string }[];
    const out: Alert[] = [];
    for (const r of rows) {
      try {
        const a = JSON.parse(r.alert) as Alert;
        if (typeof a.key === 'string' && typeof a.startsAtMs === 'number' && a.labels) out.push({ ...a, sweep: 0 });
      } catch {
        /* a damaged row is dropped: the next sweep raises the alert again if it holds */
      }
    }
    return out;
  }

  /** Records what a sweep changed (written by the next `flush`). */
  note(fired: readonly Alert[], resolved: readonly Alert[]): void {
    for (const a of fired) this.pending.set(a.key, a);
    for (const a of resolved) this.pending.set(a.key, null);
  }

  /** Pending changes. */
  get backlog(): number {
    return this.pending.size;
  }

  /** Writes the pending changes in chunks; what fails stays pending for the next flush. */
  async flush(): Promise<number> {
    const all = [...this.pending];
    this.pending = new Map();
    let done = 0;
    try {
      for (let i = 0; i < all.length; i += CHUNK) {
        const part = all.slice(i, i + CHUNK);
        // Serialized in its own slice (new alerts build their labels and summaries here): the commit only binds.
        const rows = part.map(([key, a]) => [key, a ? JSON.stringify(alertRecord(a)) : null, a?.startsAtMs ?? 0] as const);
        await yieldNow();
        await this.state.commit((db) => {
          const put = db.prepare('INSERT INTO alerts_active (key, alert, starts_ms) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET alert = excluded.alert, starts_ms = excluded.starts_ms');
          const del = db.prepare('DELETE FROM alerts_active WHERE key = ?');
          for (const [key, json, startsMs] of rows) {
            if (json !== null) put.run(key, json, startsMs);
            else del.run(key);
          }
        });
        done = i + part.length;
        await yieldNow();
      }
    } catch (e) {
      for (const [key, a] of all.slice(done)) if (!this.pending.has(key)) this.pending.set(key, a);
      throw e;
    }
    return all.length;
  }
}
