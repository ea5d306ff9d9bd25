import { AuditError, ErrorCode } from '@app/contracts';

/** Seconds a refused stream is told to wait: about as long as a reconnecting EventSource waits anyway. */
export const STREAM_RETRY_AFTER_SECONDS = 5;

/**
 * Open SSE streams per API key and in all: each holds a socket, a poll loop and a query every poll interval,
 * so a client that opens streams in a loop must not be able to take the process (or the query store) away
 * from everyone else. `acquire` throws the 429 to answer; its result releases the slot once.
 */
export class StreamSlots {
  private readonly perKey = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerKey: number,
    private readonly maxTotal: number,
  ) {}

  acquire(keyId: string): () => void {
    const mine = this.perKey.get(keyId) ?? 0;
    if (mine >= this.maxPerKey) {
      throw tooMany(`this API key already has ${mine} open streams, the most one key may hold (AUDIT_STREAM_MAX_PER_KEY)`);
    }
    if (this.total >= this.maxTotal) {
      throw tooMany(`the server already serves ${this.total} streams, the most it holds (AUDIT_STREAM_MAX_TOTAL)`);
    }
    this.perKey.set(keyId, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.perKey.get(keyId) ?? 1) - 1;
      if (n <= 0) this.perKey.delete(keyId);
      else this.perKey.set(keyId, n);
    };
  }

  get open(): number {
    return this.total;
  }
}

function tooMany(message: string): AuditError {
  return new AuditError(ErrorCode.RateLimited, `too many open streams: ${message}; close one or retry later`, 429, [], {
    'retry-after': String(STREAM_RETRY_AFTER_SECONDS),
  });
}
