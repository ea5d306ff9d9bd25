const checkedLimit = (limit: number): number => {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a whole number of at least 1, not ${limit}`);
  return limit;
};

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in the items' order of starting. A failure stops
 * further items from starting; the calls in flight end, and then the first failure is thrown. For work where
 * one slow item (a receiver that does not answer, a large archive) must not hold up the others behind it.
 */
export async function eachConcurrently<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const workers = checkedLimit(limit);
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
  await Promise.all(Array.from({ length: workers }, worker));
  if (failed) throw failed.error;
}

/** At most `limit` calls of `run` in flight at once, wherever they come from; the others wait their turn, in order. */
export class ConcurrencyLimit {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = checkedLimit(limit);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line (inFlight stays), or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }
}
