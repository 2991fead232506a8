/** A tiny bounded-concurrency map, so a long target list does not start every ping at once. */

/**
 * Calls `fn` on every item with at most `limit` calls in flight, and returns the results in the
 * items' order. `fn` should not reject; if it does, the returned promise rejects.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
