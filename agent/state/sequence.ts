/** The agent's report sequence: grows by one per report and survives restarts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurable } from '../../protocol/durable.js';
import { readIfExists, setAside } from './damaged.js';

export interface SequenceStoreOptions {
  log?: Logger;
  now?: () => number;
}

/**
 * The highest sequence recorded as collected, stored in `<stateDir>/seq`. The runtime commits a
 * number only after its report is in the spool, and takes the next number from
 * `max(current(), spool.lastSeq()) + 1`: a crash between the two steps never leaves a hole in the
 * sequence (a hole would read as a lost report).
 *
 * A file that cannot be read as a sequence (flash corruption: garbage, a torn write, an I/O error) is set
 * aside with `AGT_ERR_STATE_CORRUPT` and the store starts from 0 with `damaged` set: the runtime then starts
 * a new epoch, so the numbers it reuses can never be mistaken for the ones already sent.
 */
export class SequenceStore {
  private readonly path: string;
  /** Highest sequence committed or read, also when the disk refused to record it. */
  private committed = 0;
  /** Set when the file existed but could not be read. */
  readonly damaged: boolean = false;
  /** Whether a sequence file existed (readable or not) when the store opened. */
  readonly existed: boolean;

  constructor(stateDir: string, opts: SequenceStoreOptions = {}) {
    this.path = join(stateDir, 'seq');
    let text: string | undefined;
    let problem: string | undefined;
    try {
      text = readIfExists(() => readFileSync(this.path, 'utf8'));
    } catch (e) {
      problem = String((e as Error).message ?? e);
    }
    this.existed = text !== undefined || problem !== undefined;
    if (text !== undefined) {
      const t = text.trim();
      const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
      if (Number.isSafeInteger(n)) this.committed = n;
      else problem = `not a sequence number: ${JSON.stringify(t.slice(0, 40))}`;
    }
    if (problem !== undefined) {
      this.damaged = true;
      setAside({ path: this.path, problem, instead: 'a new epoch starts; the spooled reports are kept and sent', log: opts.log, now: opts.now });
    }
  }

  /** The last sequence number committed (0 before the first). */
  current(): number {
    return this.committed;
  }

  /**
   * Records `n` as used, durably; never goes backwards. When the disk refuses the write (full) the number
   * is held in memory, so the running agent never reuses it (the spool's last sequence covers a restart:
   * the runtime takes the next number from the larger of the two), and the next commit writes it.
   */
  commit(n: number): void {
    if (n <= this.committed) return;
    this.committed = n;
    try {
      writeFileDurable(this.path, `${n}\n`);
    } catch {
      /* kept in memory; see above */
    }
  }
}
