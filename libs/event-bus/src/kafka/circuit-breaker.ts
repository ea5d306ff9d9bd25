/**
 * Fails fast while a dependency is known to be down. After a failure the circuit stays open for a cool-down
 * that doubles with each consecutive failure (up to `maxOpenMs`); once it has passed, calls go through
 * again and the first success closes it. Callers get the remaining cool-down, which becomes Retry-After.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly baseOpenMs = 1000,
    private readonly maxOpenMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until calls are allowed again; 0 when the circuit is closed or its cool-down is over. */
  remainingMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.failures === 0) return 'closed';
    return this.remainingMs() > 0 ? 'open' : 'half-open';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  onSuccess(): void {
    this.failures = 0;
    this.openUntil = 0;
  }

  onFailure(): void {
    this.failures++;
    this.openUntil = this.now() + Math.min(this.maxOpenMs, this.baseOpenMs * 2 ** Math.min(this.failures - 1, 20));
  }
}
