/** The agent's store of reports not yet acknowledged by the collector. */
import type { Report } from '../../protocol/index.js';

/** Size of a spool. */
export interface SpoolStats {
  /** Reports waiting for an acknowledgement. */
  reports: number;
  /** Bytes of the spool's files on disk (segments, acknowledged records not yet reclaimed included). */
  bytes: number;
}

/** What `append()` had to do to stay within its size limit. */
export interface AppendResult {
  /** Sequences of unacknowledged reports dropped, oldest first, to make room. */
  dropped: number[];
}

/** What opening the spool found and repaired. */
export interface SpoolRecovery {
  /** Bytes cut off the end of the newest segment (a write cut short by a crash). */
  tornBytes: number;
  /** Segments that held damaged records; each was moved to `<dir>/corrupt/` and its intact records kept. */
  corruptSegments: string[];
  /** Sequences known to have been stored and now unreadable (counted as dropped). */
  lost: number[];
  /** Reports imported from the old one-file-per-report layout. */
  imported: number;
}

export interface Spool {
  /** Stores a report durably (one fsync); resolves once it is on disk. Sequences must grow. */
  append(report: Report): Promise<AppendResult>;
  /** Sequences waiting for an acknowledgement, ascending. */
  waiting(): number[];
  /** Reads stored reports by sequence (unknown sequences are skipped). */
  read(seqs: readonly number[]): Promise<Report[]>;
  /** Up to `limit` stored reports, oldest (lowest seq) first. */
  pending(limit: number): Promise<Report[]>;
  /** Forgets acknowledged reports, durably: they are never sent again, also after a restart. */
  remove(seqs: readonly number[]): Promise<void>;
  /** Moves reports the collector refused aside (kept for inspection, never resent). */
  quarantine(seqs: readonly number[], reason: string): Promise<void>;
  stats(): Promise<SpoolStats>;
  /** Highest sequence ever stored (0 when none). */
  lastSeq(): number;
}
