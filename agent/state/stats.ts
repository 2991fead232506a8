/** Agent counters that survive restarts: reports dropped, bytes sent. Stored in `<stateDir>/stats.json`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurable } from '../../protocol/durable.js';
import { readIfExists, setAside } from './damaged.js';

export interface AgentCounters {
  /** Reports dropped since the agent was installed (quarantined after a 4xx, or spool overflow). */
  droppedReports: number;
  /** Request-body bytes sent to collectors since the agent was installed. */
  sentBytes: number;
}

export class AgentStats {
  private readonly path: string;
  private counters: AgentCounters = { droppedReports: 0, sentBytes: 0 };

  constructor(stateDir: string, opts: { log?: Logger; now?: () => number } = {}) {
    this.path = join(stateDir, 'stats.json');
    try {
      const text = readIfExists(() => readFileSync(this.path, 'utf8'));
      if (text === undefined) return;
      const c = JSON.parse(text) as Partial<AgentCounters>;
      if (typeof c !== 'object' || c === null) throw new Error('not an object');
      this.counters = { droppedReports: Number(c.droppedReports) || 0, sentBytes: Number(c.sentBytes) || 0 };
    } catch (e) {
      setAside({ path: this.path, problem: String((e as Error).message ?? e), instead: 'the counters restart from zero', log: opts.log, now: opts.now });
    }
  }

  get(): Readonly<AgentCounters> {
    return { ...this.counters };
  }

  /**
   * Adds to the counters and persists them. A disk that refuses the write (full, failing) never loses
   * the count for the running agent nor fails the caller (delivery calls this between a collector's ack
   * and forgetting the acknowledged reports): the counters are kept in memory and the next `add()` writes
   * them. Returns whether they are on disk.
   */
  add(delta: Partial<AgentCounters>): boolean {
    this.counters.droppedReports += delta.droppedReports ?? 0;
    this.counters.sentBytes += delta.sentBytes ?? 0;
    try {
      writeFileDurable(this.path, JSON.stringify(this.counters));
      return true;
    } catch {
      return false;
    }
  }
}
