import { planTrim } from './kafka-log-trimmer';

const parts = (...lows: number[]) => lows.map((low, partition) => ({ partition, low: BigInt(low) }));
const offsets = (...o: number[]) => new Map(o.map((x, p) => [p, BigInt(x)]));

describe(planTrim.name, () => {
  it('should trim to the hot-window boundary when every group is past it', () => {
    const plan = planTrim(parts(0, 10), offsets(50, 60), new Map([['g', offsets(100, 100)]]));
    expect(plan).toEqual([
      { partition: 0, from: 0, to: 50, heldBy: 'hot window' },
      { partition: 1, from: 10, to: 60, heldBy: 'hot window' },
    ]);
  });

  it('should stop at the registered group with the least progress', () => {
    const groups = new Map([
      ['fast', offsets(100, 100)],
      ['slow', offsets(20, 100)],
    ]);
    expect(planTrim(parts(0, 0), offsets(50, 50), groups)).toEqual([
      { partition: 0, from: 0, to: 20, heldBy: 'slow' },
      { partition: 1, from: 0, to: 50, heldBy: 'hot window' },
    ]);
  });

  it('should hold a partition whole for a group without a committed offset on it', () => {
    const groups = new Map([
      ['configured-not-started', new Map<number, bigint>()],
      ['partly', offsets(100)],
    ]);
    expect(planTrim(parts(5, 5), offsets(50, 50), groups).map((p) => [p.to, p.heldBy])).toEqual([
      [5, 'configured-not-started'],
      [5, 'configured-not-started'],
    ]);
    expect(planTrim(parts(5, 5), offsets(50, 50), new Map([['partly', offsets(100)]])).map((p) => p.to)).toEqual([50, 5]);
  });

  it('should never go below what is already trimmed (another replica ran first)', () => {
    expect(planTrim(parts(80), offsets(50), new Map([['g', offsets(60)]]))).toEqual([
      { partition: 0, from: 80, to: 80, heldBy: 'hot window' },
    ]);
  });
});
