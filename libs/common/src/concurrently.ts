/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in the items' order of starting. A failure stops
 * further items from starting; the calls in flight end, and then the first failure is thrown. For work where
 * one slow item (a receiver that does not answer, a large archive) must not hold up the others behind it.
 */
export async function eachConcurrently<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = items[Symbol.iterator]();
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let next = queue.next(); !next.done && !failed; next = queue.next()) {
      try {
        await fn(next.value);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failed) throw failed.error;
}
