/** The agent's report sequence: grows by one per report and survives restarts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../../protocol/durable.js';

/**
 * The highest sequence recorded as collected, stored in `<stateDir>/seq`. The runtime commits a
 * number only after its report is in the spool, and takes the next number from
 * `max(current(), spool.lastSeq()) + 1`: a crash between the two steps never leaves a hole in the
 * sequence (a hole would read as a lost report).
 */
export class SequenceStore {
  private readonly path: string;
  /** Highest sequence committed by this process, also when the disk refused to record it. */
  private committed = 0;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'seq');
  }

  /** The last sequence number committed (0 before the first). */
  current(): number {
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${this.path}: corrupt sequence "${n}"`);
      return Math.max(n, this.committed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.committed;
      throw e;
    }
  }

  /**
   * Records `n` as used, durably; never goes backwards. When the disk refuses the write (full) the number
   * is held in memory, so the running agent never reuses it (the spool's last sequence covers a restart:
   * the runtime takes the next number from the larger of the two), and the next commit writes it.
   */
  commit(n: number): void {
    if (n <= this.current()) return;
    this.committed = n;
    try {
      writeFileDurable(this.path, `${n}\n`);
    } catch {
      /* kept in memory; see above */
    }
  }
}
