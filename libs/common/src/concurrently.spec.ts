import { ConcurrencyLimit, eachConcurrently } from './concurrently';

/** A promise the test settles itself, so no assertion depends on timers. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const settle = () => new Promise((r) => setImmediate(r));

describe('eachConcurrently', () => {
  it('should let the items behind a slow one go on, with at most `limit` in flight', async () => {
    const gates = [1, 2, 3, 4, 5].map(() => deferred());
    const started: number[] = [];
    const run = eachConcurrently([0, 1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      await gates[n].promise;
    });
    await settle();
    expect(started).toEqual([0, 1]);
    // the first stays stuck; the others pass through the second lane one after another
    for (const n of [1, 2, 3]) {
      gates[n].resolve();
      await settle();
      expect(started).toEqual([0, 1, 2, 3, 4].slice(0, n + 2));
    }
    gates[4].resolve();
    gates[0].resolve();
    await run;
  });

  it('should start nothing after a failure, let the calls in flight end, then throw the first failure', async () => {
    const slow = deferred();
    const failing = deferred();
    const started: number[] = [];
    let slowEnded = false;
    const run = eachConcurrently([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 1) {
        await slow.promise;
        slowEnded = true;
      } else if (n === 2) await failing.promise;
    });
    failing.reject(new Error('boom'));
    await settle();
    slow.resolve();
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
    expect(slowEnded).toBe(true);
  });

  it.each([0, -1, 1.5, NaN])('should refuse a limit of %p', async (limit) => {
    await expect(eachConcurrently([1], limit, async () => undefined)).rejects.toThrow(/whole number of at least 1/);
  });
});

describe(ConcurrencyLimit.name, () => {
  it('should hold calls past the limit until one ends, in their order, also when one fails', async () => {
    const limit = new ConcurrencyLimit(2);
    const gates = [0, 1, 2, 3].map(() => deferred());
    const started: number[] = [];
    const calls = [0, 1, 2, 3].map((n) =>
      limit.run(async () => {
        started.push(n);
        await gates[n].promise;
        return n;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1].reject(new Error('down'));
    await expect(calls[1]).rejects.toThrow('down');
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0].resolve();
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2].resolve();
    gates[3].resolve();
    expect(await Promise.all([calls[0], calls[2], calls[3]])).toEqual([0, 2, 3]);
    // every slot given back: two run at once again
    const again = [deferred(), deferred(), deferred()];
    const ran: number[] = [];
    const more = again.map((g, i) =>
      limit.run(async () => {
        ran.push(i);
        await g.promise;
      }),
    );
    await settle();
    expect(ran).toEqual([0, 1]);
    again.forEach((g) => g.resolve());
    await Promise.all(more);
  });
});
