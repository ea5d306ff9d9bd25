import { LruCache } from './lru-cache';

/**
 * Failed authentications per client address in a fixed one-minute window. Beyond the budget the address
 * gets 429 before its key is even looked up, so guessing keys costs the guesser and not the config store.
 * The table is an LRU: a flood from many addresses evicts the quietest ones instead of growing without end.
 */
export class AuthFailureLimiter {
  private readonly windows: LruCache<string, { start: number; failures: number }>;

  constructor(
    readonly perMinute: number,
    maxAddresses = AuthFailureLimiter.MAX_ADDRESSES,
  ) {
    this.windows = new LruCache(maxAddresses);
  }

  /** Addresses tracked at once (about 100 bytes each: 10 MB at most). */
  static readonly MAX_ADDRESSES = 100_000;

  /** Seconds until the address may try again, or 0 while it is within its budget. */
  retryAfter(address: string, now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w || now - w.start >= 60_000 || w.failures < this.perMinute) return 0;
    return Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
  }

  /** Counts one failed authentication of the address. */
  fail(address: string, now = Date.now()): void {
    let w = this.windows.get(address);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, failures: 0 };
      this.windows.set(address, w);
    }
    w.failures++;
  }
}
