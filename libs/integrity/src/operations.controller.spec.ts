import { quantile } from './operations.controller';

describe(quantile.name, () => {
  it('should interpolate inside the bucket holding the rank, as histogram_quantile does', () => {
    // given 100 observations: 50 under 10 ms, 40 more under 50 ms, 10 more under 100 ms
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.05, count: 90 },
      { le: 0.1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.01);
    expect(quantile(buckets, 0.7)).toBeCloseTo(0.03);
    expect(quantile(buckets, 0.99)).toBeCloseTo(0.095);
  });

  it('should answer null with no observations, and the last finite bound for ranks in +Inf', () => {
    expect(quantile([{ le: Infinity, count: 0 }], 0.5)).toBeNull();
    expect(
      quantile(
        [
          { le: 1, count: 1 },
          { le: Infinity, count: 10 },
        ],
        0.99,
      ),
    ).toBe(1);
  });
});
