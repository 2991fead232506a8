/**
 * The views module's state in the collector state database: per-school liveness, per-school compliance
 * evidence (one blob of day buckets a school), and a few meta values (the evidence layout, whether the
 * evidence is complete). Only the schools changed since the last flush are upserted, in chunks bounded
 * by rows and by time, paced so that flushing takes at most a share of the event loop (at 60,000
 * schools every school's evidence, 1.7 kB, changes every minute: unpaced, rewriting 200 rows a chunk held
 * the loop for up to 2.9 s at a time under a loaded disk). `hurry()` (at stop) ends the pacing; flushes run one after
 * the other, so one that returns has written everything changed before it started. Loading reads the
 * rows page by page.
 *
 * The rows are derived state (rebuilt from InfluxDB when missing), so they are written through a
 * second connection with `synchronous=NORMAL`: no fsync per chunk on the event loop (a FULL commit
 * of 500 rows measured 23 ms p50, 112 ms max on this machine's shared disk), and the ingest group
 * commits stay small. The meta values go through the group commit (durable): the `complete` mark
 * written at a clean stop fsyncs the WAL, and with it every row written before.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { toStateDbError, type Migration, type Sqlite, type StateDb } from '../state/db.js';
import type { Evidence } from './compliance/evidence.js';
import type { Availability } from './coverage/availability.js';
import { livenessFile, type Liveness, type LivenessStore, type SavedLivenessFile } from './liveness/store.js';

export const VIEWS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'views: liveness and compliance evidence per school, meta values',
    up: `
      CREATE TABLE views_liveness (
        school TEXT PRIMARY KEY,
        last_report_ms INTEGER NOT NULL,
        internet_at_ms INTEGER,
        internet_loss_pct REAL,
        wan_speed_bps REAL,
        wan_at_ms INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE views_evidence (school TEXT PRIMARY KEY, buckets BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE views_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'views: measured bandwidth (throughput probe) in the liveness; school-hours online bitmaps per school',
    up: `
      ALTER TABLE views_liveness ADD COLUMN throughput_mbps REAL;
      ALTER TABLE views_liveness ADD COLUMN throughput_at_ms INTEGER;
      CREATE TABLE views_availability (school TEXT PRIMARY KEY, hours BLOB NOT NULL) WITHOUT ROWID;
    `,
  },
];

export interface ViewsStateOptions {
  state: StateDb;
  log: Logger;
  /** Rows per upsert transaction and per page read at start. Default 200. */
  chunkRows?: number;
  /** An upsert transaction ends after this much work, ms (and after chunkRows rows). Default 10. */
  chunkMs?: number;
  /** Share of the event loop a flush may take until hurry(): after each chunk it waits (1 − share) ÷ share of the chunk's time. Default 0.2. */
  loopShare?: number;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

interface LivenessRow {
  school: string;
  last_report_ms: number;
  internet_at_ms: number | null;
  internet_loss_pct: number | null;
  wan_speed_bps: number | null;
  wan_at_ms: number | null;
  throughput_mbps: number | null;
  throughput_at_ms: number | null;
}

/** Reads and writes the views' tables. */
export class ViewsState {
  private readonly chunk: number;
  private readonly chunkMs: number;
  private readonly pause: number;
  /** The connection the rows are written through (see the module comment). */
  private conn: Sqlite | undefined;
  /** Set by hurry(): flushes no longer pause between chunks. */
  private hurried = false;
  /** The flush running or queued last: the next one starts after it. */
  private flushes: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ViewsStateOptions) {
    this.chunk = opts.chunkRows ?? 200;
    this.chunkMs = opts.chunkMs ?? 10;
    const share = Math.min(1, Math.max(0.01, opts.loopShare ?? 0.2));
    this.pause = (1 - share) / share;
    opts.state.migrate('views', VIEWS_MIGRATIONS);
  }

  /** The rows' connection, opened on first use (again after close()). */
  private get db(): Sqlite {
    // With exclusive locking (opened on a full disk) no second connection can open: share the collector's.
    if (this.opts.state.exclusive) return this.opts.state.db;
    if (!this.conn?.open) {
      this.conn = new Database(this.opts.state.path, { timeout: 5000 });
      this.conn.pragma('synchronous = NORMAL');
      // Checkpoints run on the state database's worker thread: none on this connection's commits.
      if (this.opts.state.backgroundCheckpoints) this.conn.pragma('wal_autocheckpoint = 0');
    }
    return this.conn;
  }

  /** Ends the pacing of running and later flushes (the collector is stopping: nothing else needs the loop). */
  hurry(): void {
    this.hurried = true;
  }

  /** Closes the rows' connection (the state database itself belongs to the collector). */
  close(): void {
    if (this.conn?.open) this.conn.close();
  }

  /** Runs `work` in one transaction of the rows' connection; disk failures as StateDbError. */
  private write(work: () => void): void {
    try {
      this.db.transaction(work).immediate();
    } catch (e) {
      throw toStateDbError(e);
    }
  }

  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM views_meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  async setMeta(key: string, value: string | undefined): Promise<void> {
    await this.opts.state.commit((db) => {
      if (value === undefined) db.prepare('DELETE FROM views_meta WHERE key = ?').run(key);
      else db.prepare('INSERT INTO views_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
    });
  }

  /** Rows of a table, keyset-paged, yielding between pages. */
  private async *pages<T>(sql: string): AsyncGenerator<T[]> {
    const stmt = this.db.prepare(sql);
    let after = '';
    for (;;) {
      const rows = stmt.all(after, this.chunk) as (T & { school: string })[];
      if (rows.length === 0) return;
      yield rows;
      after = (rows[rows.length - 1] as { school: string }).school;
      await yieldNow();
    }
  }

  /** Loads every saved liveness into `store`; returns how many. */
  async loadLiveness(store: LivenessStore): Promise<number> {
    let n = 0;
    for await (const rows of this.pages<LivenessRow>('SELECT * FROM views_liveness WHERE school > ? ORDER BY school LIMIT ?')) {
      for (const r of rows) {
        store.restore(r.school, { lastReportMs: r.last_report_ms, internetAtMs: r.internet_at_ms, internetLossPct: r.internet_loss_pct, wanSpeedBps: r.wan_speed_bps, wanAtMs: r.wan_at_ms, throughputMbps: r.throughput_mbps, throughputAtMs: r.throughput_at_ms });
      }
      n += rows.length;
    }
    return n;
  }

  /** Loads the saved evidence; rows of another layout are skipped. Returns how many were loaded. */
  async loadEvidence(evidence: Evidence): Promise<number> {
    let n = 0;
    for await (const rows of this.pages<{ school: string; buckets: Buffer }>('SELECT school, buckets FROM views_evidence WHERE school > ? ORDER BY school LIMIT ?')) {
      for (const r of rows) if (evidence.restore(r.school, r.buckets)) n++;
    }
    return n;
  }

  /** Upserts the liveness of the schools changed since the last flush; returns how many rows. `paced: false` at start. */
  async flushLiveness(store: LivenessStore, { paced = true }: { paced?: boolean } = {}): Promise<number> {
    const upsert = this.db.prepare(
      `INSERT INTO views_liveness (school, last_report_ms, internet_at_ms, internet_loss_pct, wan_speed_bps, wan_at_ms, throughput_mbps, throughput_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (school) DO UPDATE SET last_report_ms = excluded.last_report_ms, internet_at_ms = excluded.internet_at_ms,
         internet_loss_pct = excluded.internet_loss_pct, wan_speed_bps = excluded.wan_speed_bps, wan_at_ms = excluded.wan_at_ms,
         throughput_mbps = excluded.throughput_mbps, throughput_at_ms = excluded.throughput_at_ms`,
    );
    return this.flush(() => store.takeDirty(), (s) => store.markDirty(s), (school) => {
      const l = store.get(school);
      if (l) upsert.run(school, l.lastReportMs, l.internetAtMs, l.internetLossPct, l.wanSpeedBps, l.wanAtMs, l.throughputMbps ?? null, l.throughputAtMs ?? null);
    }, paced);
  }

  /** Upserts the evidence of the schools changed since the last flush (deletes forgotten ones). */
  async flushEvidence(evidence: Evidence): Promise<number> {
    const upsert = this.db.prepare('INSERT INTO views_evidence (school, buckets) VALUES (?, ?) ON CONFLICT (school) DO UPDATE SET buckets = excluded.buckets');
    const del = this.db.prepare('DELETE FROM views_evidence WHERE school = ?');
    return this.flush(() => evidence.takeDirty(), (s) => evidence.markDirty(s), (school) => {
      const blob = evidence.serialize(school);
      if (blob) upsert.run(school, blob);
      else del.run(school);
    });
  }

  /** Loads the saved school-hours rings; returns how many. */
  async loadAvailability(a: Availability): Promise<number> {
    let n = 0;
    for await (const rows of this.pages<{ school: string; hours: Buffer }>('SELECT school, hours FROM views_availability WHERE school > ? ORDER BY school LIMIT ?')) {
      for (const r of rows) if (a.restore(r.school, r.hours)) n++;
    }
    return n;
  }

  /** Upserts the school-hours rings changed since the last flush; returns how many rows. */
  async flushAvailability(a: Availability): Promise<number> {
    const upsert = this.db.prepare('INSERT INTO views_availability (school, hours) VALUES (?, ?) ON CONFLICT (school) DO UPDATE SET hours = excluded.hours');
    return this.flush(() => a.changed.take(), (s) => a.changed.again(s), (school) => {
      const blob = a.serialize(school);
      if (blob) upsert.run(school, blob);
    });
  }

  /** Empties the evidence table (its layout changed, or a rebuild starts over). */
  async clearEvidence(): Promise<void> {
    // Bounded deletes: one huge DELETE would hold one transaction for the whole table.
    const del = this.db.prepare(`DELETE FROM views_evidence WHERE school IN (SELECT school FROM views_evidence LIMIT ${this.chunk * 5})`);
    for (;;) {
      let n = 0;
      this.write(() => (n = del.run().changes));
      if (n === 0) return;
      await yieldNow();
    }
  }

  /** Runs one flush after those before it; takes its dirty set when it starts. */
  private flush(take: () => Set<string>, retry: (schools: string[]) => void, row: (school: string) => void, paced = true): Promise<number> {
    const run = this.flushes.then(() => this.flushNow(take(), retry, row, paced));
    this.flushes = run.catch(() => undefined);
    return run;
  }

  private async flushNow(dirty: Set<string>, retry: (schools: string[]) => void, row: (school: string) => void, paced: boolean): Promise<number> {
    const all = [...dirty];
    let done = 0;
    // Rows of the next chunk: the commit writes every page the rows dirtied (a page per school, ~4 kB), which
    // the time bound on the rows does not see; a chunk whose commit made it run over chunkMs shrinks the next.
    let rows = this.chunk;
    try {
      while (done < all.length) {
        const t0 = performance.now();
        let i = done;
        this.write(() => {
          const end = Math.min(all.length, done + rows);
          // At least one row per chunk; then until the chunk's rows or time are spent.
          do row(all[i++] as string);
          while (i < end && performance.now() - t0 < this.chunkMs);
        });
        const spentMs = performance.now() - t0;
        rows = spentMs > this.chunkMs ? Math.max(1, Math.floor(((i - done) * this.chunkMs) / spentMs)) : Math.min(this.chunk, rows * 2);
        done = i;
        if (done < all.length) await (this.hurried || !paced ? yieldNow() : new Promise((r) => setTimeout(r, spentMs * this.pause)));
      }
    } catch (e) {
      // What was not committed is flushed by the next round.
      retry(all.slice(done));
      throw e;
    }
    return all.length;
  }

  /**
   * Moves `<stateDir>/liveness/liveness.json` of earlier versions into the database once, then renames
   * it `liveness.json.migrated`. Returns how many schools it held, or undefined without a file.
   */
  async migrateLivenessFile(stateDir: string, store: LivenessStore): Promise<number | undefined> {
    const file = livenessFile(stateDir);
    if (!existsSync(file)) return undefined;
    const state = JSON.parse(readFileSync(file, 'utf8')) as SavedLivenessFile;
    if (state?.v !== 1 || typeof state.schools !== 'object' || state.schools === null) {
      throw new Error(`${file}: not a liveness state file (expected {"v":1,"schools":{…}}); left in place`);
    }
    let n = 0;
    for (const [id, [lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs]] of Object.entries(state.schools)) {
      const l: Liveness = { lastReportMs, internetAtMs, internetLossPct, wanSpeedBps, wanAtMs };
      store.apply(id, l);
      n++;
    }
    await this.flushLiveness(store, { paced: false });
    renameSync(file, `${file}.migrated`);
    this.opts.log.info({ file, schools: n }, 'liveness state migrated from the JSON file into the state database; the file is renamed *.migrated');
    return n;
  }
}
