/**
 * The collector's own start/stop log: when it was down. A heartbeat file records "alive at" every few
 * seconds; a start after a crash (no clean stop) counts the time since the last heartbeat as down.
 * Stored in `<stateDir>/gaps/lifelog.json`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../../protocol/durable.js';

/** One period the collector was not running, ms since the epoch. */
export interface Downtime {
  fromMs: number;
  toMs: number;
}

interface LifeState {
  downtimes: Downtime[];
  aliveAtMs?: number;
  /** True after a clean stop. */
  stopped?: boolean;
}

export interface LifeLogOptions {
  stateDir: string;
  now: () => number;
  /** How often "alive" is recorded, ms. */
  heartbeatMs?: number;
  /** Most downtimes kept. */
  maxDowntimes?: number;
}

export class LifeLog {
  private state: LifeState = { downtimes: [] };
  private readonly path: string;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: LifeLogOptions) {
    this.path = join(opts.stateDir, 'gaps', 'lifelog.json');
    try {
      this.state = JSON.parse(readFileSync(this.path, 'utf8')) as LifeState;
    } catch {
      /* first start */
    }
  }

  /** Records this start (and the downtime before it), then beats until stop(). */
  start(): void {
    const now = this.opts.now();
    if (this.state.aliveAtMs !== undefined && now > this.state.aliveAtMs) this.state.downtimes.push({ fromMs: this.state.aliveAtMs, toMs: now });
    this.state.downtimes = this.state.downtimes.slice(-(this.opts.maxDowntimes ?? 1000));
    this.state.stopped = false;
    this.beat();
    this.timer = setInterval(() => this.beat(), this.opts.heartbeatMs ?? 2000);
    this.timer.unref();
  }

  private beat(): void {
    this.state.aliveAtMs = this.opts.now();
    writeFileDurable(this.path, JSON.stringify(this.state));
  }

  /** Records a clean stop. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.state.stopped = true;
    this.beat();
  }

  /** Known downtimes, oldest first. */
  downtimes(): readonly Downtime[] {
    return this.state.downtimes;
  }

  /** Milliseconds of [fromMs, toMs) during which the collector was down. */
  downWithin(fromMs: number, toMs: number): number {
    let ms = 0;
    for (const d of this.state.downtimes) ms += Math.max(0, Math.min(toMs, d.toMs) - Math.max(fromMs, d.fromMs));
    return ms;
  }
}
