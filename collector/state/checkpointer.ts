/**
 * WAL checkpoints of the state database on a worker thread, never on the event loop.
 *
 * SQLite checkpoints automatically at the end of a commit once the WAL holds 1,000 pages: that commit
 * then copies the WAL into the database file and fsyncs both, synchronously. In the 60,000-school soak
 * such commits held the event loop for over a second on a loaded disk. With the checkpointer the
 * collector's connections have `wal_autocheckpoint = 0`, and a worker with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs` (PASSIVE never waits for writers or readers, and
 * writers never wait for it). When the worker cannot run, the owner turns automatic checkpoints back on.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What a checkpoint did: WAL frames in the log and how many of them are in the database file now. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface CheckpointerOptions {
  /** The database file. */
  path: string;
  /** Time between checkpoints, ms. Default 1000. */
  intervalMs?: number;
  /** The worker ended or could not open the database: turn automatic checkpoints back on. */
  onFailed: (reason: string) => void;
}

/** Counts for health(). */
export interface CheckpointerStats {
  running: boolean;
  checkpoints: number;
  failures: number;
  lastError?: string;
  last?: CheckpointResult;
}

// CommonJS, evaluated in the worker: no loader hooks needed, the same under tsx and from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
let db;
try {
  db = new Database(workerData.path, { timeout: 5000 });
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('synchronous = FULL');
  parentPort.postMessage({ ready: true });
} catch (e) {
  parentPort.postMessage({ fatal: String(e && e.message || e) });
  process.exit(1);
}
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, err: String(e && e.message || e) });
  }
});
`;

type FromWorker = { ready: true } | { fatal: string } | ({ ok: true } & CheckpointResult) | { ok: false; err: string };

/** A running checkpointer; `close()` ends the worker after the checkpoint in progress. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private busy = false;
  private closing = false;
  private readonly counts: CheckpointerStats = { running: true, checkpoints: 0, failures: 0 };
  private readonly waiters: ((r: CheckpointResult | undefined) => void)[] = [];

  constructor(private readonly opts: CheckpointerOptions) {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite, path: opts.path } });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.failed(`checkpoint worker: ${e.message}`));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.failed(`checkpoint worker exited (${code})`);
    });
    this.timer = setInterval(() => this.checkpoint(), opts.intervalMs ?? 1000).unref();
  }

  /** Starts a checkpoint unless one is running; resolves with its result (undefined if it failed or none could start). */
  checkpoint(): Promise<CheckpointResult | undefined> {
    if (!this.counts.running || this.closing) return Promise.resolve(undefined);
    const done = new Promise<CheckpointResult | undefined>((r) => this.waiters.push(r));
    if (!this.busy) {
      this.busy = true;
      this.worker.postMessage('checkpoint');
    }
    return done;
  }

  stats(): CheckpointerStats {
    return { ...this.counts, ...(this.counts.last ? { last: { ...this.counts.last } } : {}) };
  }

  /** Stops the timer and the worker (after the checkpoint in progress, if any). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    if (!this.counts.running) return;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage('close');
    const t = setTimeout(() => void this.worker.terminate(), 10_000);
    await exited;
    clearTimeout(t);
    this.counts.running = false;
  }

  private onMessage(m: FromWorker): void {
    if ('ready' in m) return;
    if ('fatal' in m) return this.failed(`checkpoint worker: ${m.fatal}`);
    this.busy = false;
    let result: CheckpointResult | undefined;
    if (m.ok) {
      this.counts.checkpoints++;
      result = { busy: m.busy, log: m.log, checkpointed: m.checkpointed };
      this.counts.last = result;
      delete this.counts.lastError;
    } else {
      this.counts.failures++;
      this.counts.lastError = m.err;
    }
    for (const w of this.waiters.splice(0)) w(result);
  }

  private failed(reason: string): void {
    if (!this.counts.running) return;
    this.counts.running = false;
    this.counts.lastError = reason;
    clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w(undefined);
    this.opts.onFailed(reason);
  }
}
