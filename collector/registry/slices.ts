/**
 * Runs a generator of small steps (`yield` between steps) without holding the event loop: after
 * `sliceMs` of work it waits for the next turn (setImmediate), so timers, I/O and requests run between
 * slices. The generator's return value is the result.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Work done between two turns of the event loop, in ms: well under the 50 ms a block may last. */
export const DEFAULT_SLICE_MS = 8;

/** Runs `steps` to the end, yielding to the event loop every `sliceMs` of work. */
export async function runSliced<T>(steps: Generator<void, T>, sliceMs = DEFAULT_SLICE_MS): Promise<T> {
  let start = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - start >= sliceMs) {
      await nextTurn();
      start = performance.now();
    }
  }
}

/** Runs `steps` to the end in one go (start-up, tests, the synchronous reload). */
export function runAll<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
