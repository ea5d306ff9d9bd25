import { AuthFailureLimiter } from './auth-failure-limiter';
import { LruCache } from './lru-cache';

describe(AuthFailureLimiter.name, () => {
  it('should block an address after its budget of failures in a minute, say how long, and reset', () => {
    const sut = new AuthFailureLimiter(3);
    for (let i = 0; i < 3; i++) {
      expect(sut.retryAfter('10.0.0.1', 1000)).toBe(0);
      sut.fail('10.0.0.1', 1000);
    }
    expect(sut.retryAfter('10.0.0.1', 2000)).toBe(59);
    expect(sut.retryAfter('10.0.0.2', 2000)).toBe(0);
    expect(sut.retryAfter('10.0.0.1', 61_000)).toBe(0);
  });

  it('should track a bounded number of addresses', () => {
    const sut = new AuthFailureLimiter(1, 2);
    sut.fail('a', 0);
    sut.fail('b', 0);
    sut.fail('c', 0);
    expect([sut.retryAfter('a', 0), sut.retryAfter('b', 0), sut.retryAfter('c', 0)]).toEqual([0, 60, 60]);
  });
});

describe(LruCache.name, () => {
  it('should evict the least recently used entry beyond its bound', () => {
    const sut = new LruCache<string, number>(2);
    sut.set('a', 1);
    sut.set('b', 2);
    expect(sut.get('a')).toBe(1);
    sut.set('c', 3);
    expect([sut.get('a'), sut.get('b'), sut.get('c'), sut.size]).toEqual([1, undefined, 3, 2]);
  });
});
