import { eachConcurrently } from './concurrently';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('eachConcurrently', () => {
  it('should let the items behind a slow one go on, with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const ended: number[] = [];
    await eachConcurrently([1, 2, 3, 4, 5], 2, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick(n === 1 ? 60 : 5);
      inFlight--;
      ended.push(n);
    });
    expect(most).toBe(2);
    expect(ended).toEqual([2, 3, 4, 5, 1]);
  });

  it('should start nothing after a failure, let the calls in flight end, then throw the first failure', async () => {
    const started: number[] = [];
    let slowEnded = false;
    const run = eachConcurrently([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 1) {
        await tick(30);
        slowEnded = true;
      } else if (n === 2) throw new Error('boom');
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
    expect(slowEnded).toBe(true);
  });
});
