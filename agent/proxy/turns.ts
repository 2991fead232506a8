/**
 * CPU work of many schools in turns. The schools of one fping run (up to ~100) finish their probes in the
 * same instant; building and validating their reports back to back (1-3 ms each) would hold the event loop
 * for well over 100 ms, so timers (the SNMP timeouts, the school deadlines) and the uploads' I/O would wait.
 * Here one task runs at a time; once `sliceMs` of work has run, the next task waits for the event loop to
 * go round (setImmediate), so timers and I/O run in between. A task must not wait for I/O itself.
 */

/** Runs CPU-bound tasks one at a time, letting the event loop turn every `sliceMs`. */
export interface Turns {
  run<T>(task: () => T | Promise<T>): Promise<T>;
  /** Times a task had to wait for the event loop to turn, since creation. */
  readonly yields: number;
}

export interface TurnsOptions {
  /** Work run back to back before the event loop may turn, ms. */
  sliceMs: number;
  /** Monotonic clock, ms (tests). */
  now?: () => number;
}

/** Creates the turn-taker. */
export function createTurns(opts: TurnsOptions): Turns {
  const now = opts.now ?? (() => performance.now());
  const waiting: (() => void)[] = [];
  let busy = false;
  let sliceStartMs = -Infinity;
  let yields = 0;

  const handOver = (): void => {
    const next = waiting.shift();
    if (!next) {
      busy = false;
      return;
    }
    if (now() - sliceStartMs < opts.sliceMs) return next();
    yields++;
    setImmediate(() => {
      sliceStartMs = now();
      next();
    });
  };

  return {
    get yields() {
      return yields;
    },
    async run<T>(task: () => T | Promise<T>): Promise<T> {
      if (busy) await new Promise<void>((r) => waiting.push(r));
      else {
        busy = true;
        if (now() - sliceStartMs >= opts.sliceMs) sliceStartMs = now();
      }
      try {
        return await task();
      } finally {
        handOver();
      }
    },
  };
}
