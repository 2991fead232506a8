/**
 * Per-school agent counters of the proxy (reports dropped, bytes sent), the numbers of each school's
 * `agent` measurement. One file for all schools (`<stateDir>/school-counters.json`), written durably and
 * asynchronously at most once per save() (the runtime saves after each cycle and each upload round),
 * not once per change: 2,000 synchronous fsyncs a cycle would block the event loop for seconds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurableAsync } from '../../protocol/durable.js';
import type { AgentCounters } from '../state/stats.js';

export class SchoolCounters {
  private readonly path: string;
  private readonly counters = new Map<string, AgentCounters>();
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(stateDir: string, private readonly log: Logger) {
    this.path = join(stateDir, 'school-counters.json');
    try {
      const raw = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, Partial<AgentCounters>>;
      for (const [id, c] of Object.entries(raw)) this.counters.set(id, { droppedReports: Number(c.droppedReports) || 0, sentBytes: Number(c.sentBytes) || 0 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file: this.path, err: String(e) }, 'proxy school counters unreadable; they restart from zero');
    }
  }

  get(school: string): Readonly<AgentCounters> {
    return this.counters.get(school) ?? { droppedReports: 0, sentBytes: 0 };
  }

  add(school: string, delta: Partial<AgentCounters>): void {
    const c = { ...this.get(school) };
    c.droppedReports += delta.droppedReports ?? 0;
    c.sentBytes += delta.sentBytes ?? 0;
    this.counters.set(school, c);
    this.dirty = true;
  }

  /** Writes the counters if they changed; a failed write is logged and retried by the next save. */
  save(): Promise<void> {
    if (!this.dirty) return this.saving;
    this.dirty = false;
    const text = JSON.stringify(Object.fromEntries(this.counters));
    this.saving = this.saving.then(() =>
      writeFileDurableAsync(this.path, text).catch((e) => {
        this.dirty = true;
        this.log.warn({ code: 'AGT_ERR_SPOOL_IO', file: this.path, err: String(e) }, 'proxy school counters not written; trying again later');
      }),
    );
    return this.saving;
  }
}
