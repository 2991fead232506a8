/**
 * How long each part of a collector's stop took, logged with the "stopped" line: a stop that keeps systemd (or an
 * operator's restart) waiting says where the time went.
 */
import type { Logger } from 'pino';

/** A stop longer than this is logged as a warning, ms. */
export const SLOW_STOP_MS = 5000;

/** Times the phases of one stop. */
export class StopPhases {
  private readonly startedAt = performance.now();
  private readonly phases: Record<string, number> = {};

  /** `slowMs`: past it the stop is logged as a warning (default SLOW_STOP_MS). */
  constructor(private readonly opts: { slowMs?: number } = {}) {}

  /** Runs one phase and records its wall time; its error propagates (after being timed). */
  async run<T>(name: string, phase: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await phase();
    } finally {
      this.phases[name] = Math.round((this.phases[name] ?? 0) + performance.now() - t0);
    }
  }

  /** Logs `message` with the total, the phases and `extra`: at info, or at warn past SLOW_STOP_MS. */
  report(log: Logger, message: string, extra: Record<string, unknown> = {}): void {
    const stopMs = Math.round(performance.now() - this.startedAt);
    const fields = { ...extra, stopMs, phasesMs: this.phases };
    if (stopMs > (this.opts.slowMs ?? SLOW_STOP_MS)) log.warn(fields, `${message} after ${(stopMs / 1000).toFixed(1)} s (slow: see phasesMs)`);
    else log.info(fields, message);
  }
}
