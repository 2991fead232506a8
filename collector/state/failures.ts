/**
 * Logging of failed background state writes (heartbeats, gap state, device lists): caught, never
 * thrown from a timer. The first failure of a run is logged at once, with `COL_ERR_RESOURCE_EXHAUSTED`
 * when the disk or the descriptors ran out (ENOSPC, EMFILE, EIO: SQLITE_FULL, SQLITE_IOERR,
 * SQLITE_CANTOPEN), then at most once per `repeatMs` with a count; the first success after that logs
 * the recovery.
 */
import type { Logger } from 'pino';
import { toStateDbError } from './db.js';

const EXHAUSTED = /^(SQLITE_(FULL|IOERR|CANTOPEN|NOMEM)|E(NOSPC|MFILE|NFILE|IO|DQUOT))/;

/** Whether an error means a resource ran out (disk, descriptors, memory), not bad data. */
export function isResourceExhausted(e: unknown): boolean {
  const err = toStateDbError(e);
  return EXHAUSTED.test(err.sqliteCode ?? '') || EXHAUSTED.test((e as { code?: string }).code ?? '');
}

export interface WriteFailureLogOptions {
  log: Pick<Logger, 'error' | 'warn' | 'info'>;
  /** What was not written, for the message, e.g. "collector heartbeat". */
  what: string;
  /** Least time between two log lines of one run of failures, ms. Default 60000. */
  repeatMs?: number;
  now?: () => number;
}

/** Counts and logs failures of one kind of background write. */
export class WriteFailureLog {
  private failures = 0;
  private lastLoggedMs = -Infinity;

  constructor(private readonly opts: WriteFailureLogOptions) {}

  /** Whether the last write failed. */
  get failing(): boolean {
    return this.failures > 0;
  }

  failed(e: unknown): void {
    this.failures++;
    const now = (this.opts.now ?? Date.now)();
    if (this.failures > 1 && now - this.lastLoggedMs < (this.opts.repeatMs ?? 60_000)) return;
    this.lastLoggedMs = now;
    const err = toStateDbError(e);
    const exhausted = isResourceExhausted(e);
    this.opts.log.error(
      { ...(exhausted && { code: 'COL_ERR_RESOURCE_EXHAUSTED' }), err: err.message, sqliteCode: err.sqliteCode, failures: this.failures },
      `${this.opts.what} not saved${exhausted ? '; retrying, the collector keeps serving' : ''}`,
    );
  }

  succeeded(): void {
    if (!this.failures) return;
    this.opts.log.info({ failures: this.failures }, `${this.opts.what} saved again`);
    this.failures = 0;
    this.lastLoggedMs = -Infinity;
  }
}
