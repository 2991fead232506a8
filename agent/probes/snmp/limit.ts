/** A shared bound on concurrent work, so many SNMP devices are not all polled at once. */

/** Runs tasks with at most `max` in flight; the rest wait in FIFO order. */
export interface Limiter {
  readonly max: number;
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** Creates a limiter allowing `max` (≥ 1) concurrent tasks. */
export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`limiter: max must be an integer >= 1, got ${max}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    max,
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= max) await new Promise<void>((r) => waiting.push(r));
      active++;
      try {
        return await task();
      } finally {
        active--;
        waiting.shift()?.();
      }
    },
  };
}
