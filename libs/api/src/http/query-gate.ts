import { ServerResponse } from 'node:http';
import { AuditError, ErrorCode, UnavailableError } from '@app/contracts';

export interface QueryGateSettings {
  /** Store queries the HTTP API runs at once. */
  concurrency: number;
  /** Queries that may wait for a slot; one more gets a 503. */
  queue: number;
}

/** What the API module is given: the gate's sizes and the read-after-write bound. */
export interface QuerySettings extends QueryGateSettings {
  /** How long a lookup may wait for the store to show what the log acknowledged (0: never wait). */
  readAfterWriteMs: number;
}

export const QUERY_SETTINGS = Symbol('QUERY_SETTINGS');

/**
 * Sized for 2 cores: chdb runs a query on its own threads, off the event loop, and four at once kept a
 * page query's latency within twice its single-client time while ingest stayed unaffected; 64 waiting
 * covers a burst of dashboard refreshes while a flood (2000 at once was measured to queue without end)
 * gets 503 at once instead of minutes of latency.
 */
export const QUERY_DEFAULTS: QuerySettings = { concurrency: 4, queue: 64, readAfterWriteMs: 2000 };

/** What a refused query is told to wait: queries take tens of milliseconds, a full queue drains in a second. */
export const QUERY_RETRY_AFTER_SECONDS = 1;

export type GateOutcome = 'run' | 'queued' | 'refused' | 'cancelled';

class CancelledError extends AuditError {
  constructor() {
    // Nobody reads this answer: the client has gone. The code is for the logs.
    super(ErrorCode.Unavailable, 'the client closed the connection before its query ran', 499);
  }
}

interface Waiter {
  start: () => void;
  cancel: () => void;
}

/**
 * A small admission gate in front of the store: N queries run, M wait in order, the rest get 503 with
 * Retry-After. A waiting query whose client disconnects leaves the queue; a running one gets its signal
 * aborted so the store can stop it. Ingest and the health probes never pass through here, so a saturated
 * query side cannot slow them.
 */
export class QueryGate {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly settings: QueryGateSettings = QUERY_DEFAULTS,
    private readonly onOutcome: (outcome: GateOutcome) => void = () => undefined,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `work` under the gate; `signal` is aborted when the client goes (see `clientGone`). */
  async run<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal.aborted) throw new CancelledError();
    if (this.running >= this.settings.concurrency) {
      if (this.waiting.length >= this.settings.queue) {
        this.onOutcome('refused');
        throw new UnavailableError(
          `too many queries at once: ${this.running} running and ${this.waiting.length} waiting (AUDIT_QUERY_CONCURRENCY, AUDIT_QUERY_QUEUE); retry shortly`,
          QUERY_RETRY_AFTER_SECONDS,
        );
      }
      this.onOutcome('queued');
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          cancel: () => reject(new CancelledError()),
        };
        const onAbort = (): void => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          this.onOutcome('cancelled');
          waiter.cancel();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(waiter);
      });
    } else {
      this.running++;
    }
    this.onOutcome('run');
    try {
      return await work(signal);
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` stays where it is.
      if (next) next.start();
      else this.running--;
    }
  }
}

/** An AbortSignal that fires when the client closes the connection before its response was sent. */
export function clientGone(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}
