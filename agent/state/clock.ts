/**
 * The agent's view of its clock offset against the collector (`serverTime` in every ack), stored in
 * `<stateDir>/clock.json` so a restarted agent with a wrong clock corrects its first report too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../../protocol/durable.js';

export interface ClockOffset {
  /** Collector time minus agent time, ms. */
  offsetMs: number;
  /** Agent time of the measurement, ms since the epoch. */
  measuredAtMs: number;
}

export class ClockStore {
  private readonly path: string;
  private value: ClockOffset | undefined;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'clock.json');
    try {
      const v = JSON.parse(readFileSync(this.path, 'utf8')) as ClockOffset;
      if (Number.isFinite(v.offsetMs) && Number.isFinite(v.measuredAtMs)) this.value = v;
    } catch {
      /* none measured yet */
    }
  }

  get(): ClockOffset | undefined {
    return this.value;
  }

  /**
   * Records an offset from one exchange: the server's time against the midpoint of the request.
   * Persisted only when it moved by more than a second, to spare the disk.
   */
  observe(opts: { serverTimeMs: number; sentAtMs: number; answeredAtMs: number }): ClockOffset {
    const offsetMs = Math.round(opts.serverTimeMs - (opts.sentAtMs + opts.answeredAtMs) / 2);
    const next = { offsetMs, measuredAtMs: opts.answeredAtMs };
    const moved = !this.value || Math.abs(this.value.offsetMs - offsetMs) > 1000;
    this.value = next;
    if (moved) {
      try {
        writeFileDurable(this.path, JSON.stringify(next));
      } catch {
        // A full disk: the offset is kept in memory; it is written at the next move. Never fail the ack it came with.
      }
    }
    return next;
  }
}
