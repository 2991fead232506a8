/**
 * The collector's state database: one SQLite file (`<stateDir>/state.db`, WAL mode) through
 * better-sqlite3, with per-module schema migrations and group commit.
 *
 * Group commit: work queued with `commit()` during one short tick (`groupCommitMs`) runs in one
 * transaction, and each caller's promise resolves only after that commit is durable: the WAL is
 * fdatasync'ed on the thread pool (the group's transaction runs with `synchronous=NORMAL`, every other
 * write of the connection with FULL), so the event loop never waits for the disk, and the commits made
 * while one sync is in flight share the next. Callers acknowledge to agents after it resolves, so an
 * acknowledged batch survives a SIGKILL or a power cut.
 *
 * Failures of the disk (SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_BUSY) reject the queued
 * work with a `StateDbError` (`retryable`), mark the database unwritable for `health()`, and the next
 * commit tries again: the collector recovers by itself when space comes back.
 *
 * Domain stores (tokens, dedupe, gaps, liveness, …) keep their own small interface and use this
 * handle in their SQLite implementation, so a PostgreSQL implementation can follow behind the same
 * interfaces.
 */
import { closeSync, existsSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Checkpointer, type CheckpointerStats } from './checkpointer.js';

/** A better-sqlite3 database handle. */
export type Sqlite = Database.Database;

/** One schema step of a module; versions start at 1 and only grow. */
export interface Migration {
  version: number;
  /** What it does, for the log. */
  description: string;
  /** SQL run with `exec`, or a function given the handle; runs inside a transaction. */
  up: string | ((db: Sqlite) => void);
}

/** A state write that did not happen. `retryable`: the disk or a lock, not the data. */
export class StateDbError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly sqliteCode?: string,
  ) {
    super(message);
    this.name = 'StateDbError';
  }
}

export interface StateDbHealth {
  /** False after a failed commit; true again once a commit succeeds `recoverAfterMs` after the last failure. */
  writable: boolean;
  /** The last failure's message, while unwritable. */
  lastError?: string;
  /** Commits and the work items they carried, since open. */
  commits: number;
  items: number;
  /** WAL checkpoints on the worker thread (absent when SQLite checkpoints on commit: exclusive locking, in memory). */
  checkpointer?: CheckpointerStats;
}

export interface StateDb {
  /** The raw handle, for a domain store's prepared statements (reads may run at any time). */
  readonly db: Sqlite;
  /** Path of the database file. */
  readonly path: string;
  /**
   * True when the database could only be opened with exclusive locking (the disk was full or out of
   * descriptors at open: no room for the WAL index file). Reads and, once space is back, writes work;
   * other processes (`token issue`, `state backup`) wait until the collector restarts.
   */
  readonly exclusive: boolean;
  /**
   * True while WAL checkpoints run on a worker thread (checkpointer.ts) and this connection has automatic
   * checkpoints off: another connection of this process should then turn them off too.
   */
  readonly backgroundCheckpoints: boolean;
  /** Runs a module's migrations not yet applied (recorded per module in `schema_migrations`). */
  migrate(module: string, migrations: readonly Migration[]): void;
  /**
   * Queues `work` into the next group commit; resolves with its result after the transaction is
   * durable, rejects with StateDbError when it could not be committed (nothing of that transaction
   * is kept). `work` must be synchronous and must not call commit().
   */
  commit<T>(work: (db: Sqlite) => T): Promise<T>;
  /**
   * Runs `work` in its own IMMEDIATE transaction now, synchronously (start-up, migrations of data,
   * CLI): it takes the write lock first, waiting up to busyTimeoutMs while another process holds it.
   */
  transaction<T>(work: (db: Sqlite) => T): T;
  health(): StateDbHealth;
  /** Commits what is queued, then closes. */
  close(): Promise<void>;
}

export interface OpenStateDbOptions {
  /** The collector's state directory; the file is `<stateDir>/state.db` unless `path` is given. */
  stateDir: string;
  path?: string;
  /** How long work is gathered before one commit, ms. Default 2. */
  groupCommitMs?: number;
  /** Most work items in one transaction. Default 5000. */
  maxGroupItems?: number;
  /**
   * A group's transaction takes no more work items once its work has run this long, ms; the rest go into
   * the next group, one timer turn later (so I/O callbacks run between). Default 20: after an event-loop
   * stall thousands of uploads' items come due at once, and one transaction over all of them held the
   * loop for up to 0.4 s in the province soak.
   */
  maxGroupWorkMs?: number;
  /**
   * Callers told their item is durable (their promise settled) per event-loop turn; the rest in the next turns,
   * in commit order. Default 32: what callers do then (an upload's answer, modules' work) runs in that turn.
   */
  maxSettlePerTurn?: number;
  /**
   * SQLite's page cache of this connection, MiB. Default 64 (the state of 60,000 schools is ~120 MiB): with
   * SQLite's default of 2 MiB every agent's first read after a start, and most writes of a busy group, missed
   * the cache (a read syscall per page), and a group's dirty pages overflowed it and were spilled into the
   * WAL in the middle of the transaction, on the event loop.
   */
  cacheMiB?: number;
  /** How long a statement waits for a lock held by another connection (e.g. the CLI), ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Time between WAL checkpoints on the worker thread, ms; 0 leaves checkpoints to SQLite (on commit). Default 1000. */
  checkpointIntervalMs?: number;
  /**
   * After a failed commit, `health().writable` stays false until a commit succeeds this long after the last
   * failure, ms. Default 10000: on a full disk small commits may still fit in WAL pages already allocated
   * while larger ones fail, and the flag should say "writes are failing", not flip with each commit.
   */
  recoverAfterMs?: number;
}

const statements = new WeakMap<Sqlite, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)` once per connection: prepare compiles the SQL on every call (~10 µs), which work items
 * run per batch paid per batch. `sql` must be a constant of the code (the cache holds one per text, for the
 * connection's life).
 */
export function preparedOnce(db: Sqlite, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let stmt = byText.get(sql);
  if (!stmt) byText.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** The state database file under a state directory. */
export function stateDbPath(stateDir: string): string {
  return join(stateDir, 'state.db');
}

const RETRYABLE = /^SQLITE_(FULL|IOERR|CANTOPEN|BUSY|LOCKED|READONLY|PROTOCOL|NOMEM)/;

/** Wraps an error from better-sqlite3 (or the file system) as a StateDbError. */
export function toStateDbError(e: unknown): StateDbError {
  if (e instanceof StateDbError) return e;
  const code = (e as { code?: string }).code;
  const retryable = typeof code === 'string' && (RETRYABLE.test(code) || /^E(NOSPC|MFILE|NFILE|IO|ROFS|DQUOT)$/.test(code));
  return new StateDbError(`state database: ${(e as Error).message ?? String(e)}`, retryable, code);
}

interface Pending {
  work: (db: Sqlite) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

function openHandle(path: string, opts: OpenStateDbOptions, exclusive: boolean): Sqlite {
  const db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
  try {
    if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // FULL in WAL mode: every commit fsyncs the WAL, so what a commit acknowledged survives a power cut.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = ${-Math.max(1, Math.round((opts.cacheMiB ?? 64) * 1024))}`);
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!has) db.exec('CREATE TABLE schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL, PRIMARY KEY (module, version))');
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Opens (creating if needed) the state database. Throws naming the file when it cannot be opened. */
export function openStateDb(opts: OpenStateDbOptions): StateDb {
  const path = opts.path ?? stateDbPath(opts.stateDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Token hashes and device lists: readable by the collector's user only. SQLite gives the -wal and
  // -shm files the database file's mode.
  if (path !== ':memory:' && !existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  let db: Sqlite;
  let exclusive = false;
  try {
    db = openHandle(path, opts, false);
  } catch (e) {
    // A full disk (or no descriptors) cannot give the WAL index its shared-memory file; exclusive
    // locking keeps that index in memory, so the collector still starts, reads its state and serves.
    if (!toStateDbError(e).retryable) throw new Error(`${path}: cannot open the collector state database: ${(e as Error).message}`);
    try {
      db = openHandle(path, opts, true);
      exclusive = true;
    } catch {
      throw new Error(`${path}: cannot open the collector state database: ${(e as Error).message}`);
    }
  }
  let checkpointer: Checkpointer | undefined;
  const checkpointMs = opts.checkpointIntervalMs ?? 1000;
  if (path !== ':memory:' && !exclusive && checkpointMs > 0) {
    db.pragma('wal_autocheckpoint = 0');
    checkpointer = new Checkpointer({
      path,
      intervalMs: checkpointMs,
      // Without the worker, SQLite checkpoints on commit again (on the event loop, but the WAL stays bounded).
      onFailed: () => {
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      },
    });
  }
  const groupMs = opts.groupCommitMs ?? 2;
  const maxItems = opts.maxGroupItems ?? 5000;
  const maxWorkMs = opts.maxGroupWorkMs ?? 20;
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const health: StateDbHealth = { writable: true, commits: 0, items: 0 };
  const recoverAfterMs = opts.recoverAfterMs ?? 10_000;
  let lastFailureMs = -Infinity;
  const succeeded = (): void => {
    if (Date.now() - lastFailureMs < recoverAfterMs) return;
    health.writable = true;
    delete health.lastError;
  };

  // --- durability: the WAL synced off the event loop -------------------------------------------
  /** Committed groups waiting for the next WAL sync, and whether one is in flight. */
  let unsynced: { batch: Pending[]; results: { ok: boolean; value: unknown }[] }[] = [];
  let syncing: Promise<void> | undefined;
  let walFd: number | undefined;
  const inMemory = path === ':memory:';
  // Outcomes are told to their callers in commit order, at most maxSettlePerTurn an event-loop turn: what a
  // caller does once its item is durable (an upload's answer, the modules' work on it) runs in the microtasks
  // of the turn that resolved it, and one WAL sync can complete hundreds of uploads at once (80 ms of
  // continuations in one go in the province soak).
  const settlePerTurn = Math.max(1, opts.maxSettlePerTurn ?? 32);
  let outcomes: ({ p: Pending; ok: boolean; value: unknown } | undefined)[] = [];
  let told = 0;
  let telling: NodeJS.Immediate | undefined;
  // Counted per turn, not per group: one WAL sync completes every group it covered, each queued on its own.
  let toldThisTurn = 0;
  let turnEnd: NodeJS.Immediate | undefined;
  const tell = (all = false): void => {
    telling = undefined;
    const end = all ? outcomes.length : Math.min(outcomes.length, told + Math.max(0, settlePerTurn - toldThisTurn));
    toldThisTurn += end - told;
    if (toldThisTurn > 0 && !turnEnd) turnEnd = setImmediate(() => ((turnEnd = undefined), (toldThisTurn = 0)));
    for (; told < end; told++) {
      const o = outcomes[told] as { p: Pending; ok: boolean; value: unknown };
      outcomes[told] = undefined;
      if (o.ok) o.p.resolve(o.value);
      else o.p.reject(o.value);
    }
    // Queued after turnEnd, so the next turn starts with the count reset.
    if (told < outcomes.length) telling = setImmediate(tell);
    else {
      outcomes = [];
      told = 0;
    }
  };
  const queueOutcomes = (batch: readonly Pending[], outcome: (i: number) => { ok: boolean; value: unknown }): void => {
    batch.forEach((p, i) => outcomes.push({ p, ...outcome(i) }));
    if (!telling) tell();
  };
  const settle = (batch: Pending[], results: { ok: boolean; value: unknown }[]) => queueOutcomes(batch, (i) => results[i] as { ok: boolean; value: unknown });
  const failed = (batch: Pending[], e: unknown) => {
    const err = toStateDbError(e);
    if (err.retryable) {
      health.writable = false;
      lastFailureMs = Date.now();
    }
    health.lastError = err.message;
    queueOutcomes(batch, () => ({ ok: false, value: err }));
  };
  /** Syncs the WAL once for every group committed so far, then again for those committed meanwhile. */
  const syncWal = (): void => {
    if (syncing || !unsynced.length) return;
    const groups = unsynced;
    unsynced = [];
    syncing = new Promise<void>((done) => {
      const finish = (e: unknown) => {
        syncing = undefined;
        for (const g of groups) {
          if (e) failed(g.batch, e);
          else settle(g.batch, g.results);
        }
        if (!e) succeeded();
        done();
        syncWal();
      };
      try {
        // The -wal file exists once a transaction committed and stays while this connection is open.
        walFd ??= openSync(`${path}-wal`, 'r');
        fdatasync(walFd, (e) => {
          if (e && walFd !== undefined) {
            // A fresh descriptor next time: after EIO the old one may keep failing.
            closeSync(walFd);
            walFd = undefined;
          }
          finish(e);
        });
      } catch (e) {
        finish(e);
      }
    });
  };

  // Built once: db.transaction() builds a wrapper (five variants) on every call, which the group commit
  // (hundreds of groups a second at province scale) paid per group and per item. (The synchronous pragma
  // is not prepared: SQLite applies it while compiling, so a prepared copy re-run does nothing. db.exec()
  // compiles and runs it at 1 µs; db.pragma() prepares, runs and reads it back at 5 µs, twice a group.)
  // Inside the group's transaction this runs in a savepoint: a bad item (a constraint, a bug) costs only
  // itself; a failing disk fails the whole transaction.
  const runItem = db.transaction((work: Pending['work']) => work(db));
  const runGroup = db.transaction((batch: readonly Pending[], results: { ok: boolean; value: unknown }[]) => {
    const t0 = performance.now();
    for (const p of batch) {
      try {
        results.push({ ok: true, value: runItem(p.work) });
      } catch (e) {
        const err = toStateDbError(e);
        if (err.retryable) throw e;
        results.push({ ok: false, value: err });
      }
      if (performance.now() - t0 >= maxWorkMs) break;
    }
  });

  const flush = (): void => {
    timer = undefined;
    let batch = queue.splice(0, maxItems);
    if (queue.length) timer = setTimeout(flush, 0);
    if (!batch.length) return;
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      if (!inMemory) db.exec('PRAGMA synchronous = NORMAL');
      try {
        runGroup.immediate(batch, results);
      } finally {
        if (!inMemory) db.exec('PRAGMA synchronous = FULL');
      }
    } catch (e) {
      failed(batch, e);
      return;
    }
    if (results.length < batch.length) {
      // Over its time: the items not run go first into the next group, in their order.
      queue = batch.slice(results.length).concat(queue);
      batch = batch.slice(0, results.length);
      timer ??= setTimeout(flush, 0);
    }
    health.commits++;
    health.items += batch.length;
    if (inMemory) {
      succeeded();
      settle(batch, results);
      return;
    }
    unsynced.push({ batch, results });
    syncWal();
  };

  return {
    db,
    path,
    exclusive,
    get backgroundCheckpoints() {
      return checkpointer?.stats().running ?? false;
    },
    migrate(module, migrations) {
      const applied = new Set((db.prepare('SELECT version FROM schema_migrations WHERE module = ?').all(module) as { version: number }[]).map((r) => r.version));
      const record = db.prepare('INSERT INTO schema_migrations (module, version, description, applied_at_ms) VALUES (?, ?, ?, ?)');
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        db.transaction(() => {
          // Another process (serve and a CLI command starting together) may have applied it meanwhile.
          if (db.prepare('SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?').get(module, m.version)) return;
          if (typeof m.up === 'string') db.exec(m.up);
          else m.up(db);
          record.run(module, m.version, m.description, Date.now());
        }).immediate();
      }
    },
    commit<T>(work: (db: Sqlite) => T): Promise<T> {
      if (closed) return Promise.reject(new StateDbError('state database is closed', true));
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
        timer ??= setTimeout(flush, groupMs);
      });
    },
    transaction<T>(work: (db: Sqlite) => T): T {
      try {
        // IMMEDIATE: the work reads, then writes; a deferred transaction whose read snapshot another
        // connection (a serving collector, a CLI command) commits past fails its first write at once
        // with "database is locked", since SQLite cannot apply the busy timeout to that upgrade.
        return db.transaction(() => work(db)).immediate();
      } catch (e) {
        throw toStateDbError(e);
      }
    },
    health: () => ({ ...health, ...(checkpointer ? { checkpointer: checkpointer.stats() } : {}) }),
    async close() {
      if (closed) return;
      if (timer) clearTimeout(timer);
      while (queue.length) flush();
      closed = true;
      queue = [];
      while (syncing) await syncing;
      if (telling) clearImmediate(telling);
      tell(true);
      // Synchronously from here when no sync was in flight: callers of withStateDb() close without waiting.
      const stopping = checkpointer?.close();
      if (checkpointer) {
        // The worker's connection keeps SQLite from checkpointing at close: copy the WAL into the file now.
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } catch {
          // Busy or a full disk: the WAL stays beside the file and the next open replays it.
        }
      }
      db.close();
      if (walFd !== undefined) closeSync(walFd);
      await stopping;
    },
  };
}
