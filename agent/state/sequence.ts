/** The agent's report sequence: grows by one per report and survives restarts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from './atomic.js';

/** A persisted, only-growing counter stored in `<stateDir>/seq`. */
export class SequenceStore {
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'seq');
  }

  /** The last sequence number handed out (0 before the first). */
  current(): number {
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${this.path}: corrupt sequence "${n}"`);
      return n;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  /** Hands out the next number; it is on disk before it is returned, so it is never reused. */
  next(): number {
    const n = this.current() + 1;
    writeFileDurable(this.path, `${n}\n`);
    return n;
  }
}
