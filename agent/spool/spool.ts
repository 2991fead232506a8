/** The agent's store of reports not yet acknowledged by the collector. */
import type { Report } from '../../protocol/index.js';

/** Size of a spool. */
export interface SpoolStats {
  reports: number;
  bytes: number;
}

export interface Spool {
  /** Stores a report durably; resolves once it is on disk. */
  append(report: Report): Promise<void>;
  /** Up to `limit` stored reports, oldest (lowest seq) first. */
  pending(limit: number): Promise<Report[]>;
  /** Forgets acknowledged reports. */
  remove(seqs: readonly number[]): Promise<void>;
  /** Moves reports the collector refused aside (kept for inspection, never resent). */
  quarantine(seqs: readonly number[], reason: string): Promise<void>;
  stats(): Promise<SpoolStats>;
}
