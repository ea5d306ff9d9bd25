import { createHash } from 'node:crypto';
import { AuditError, AuditEvent, ErrorCode, ErrorDetail, IngestContext, LIMITS, normalizeEvent, nowMicros } from '@app/contracts';
import { BatchingPublisher } from './batching-publisher';
import { IdempotencyRecord, IdempotencyRepository } from './idempotency';

export const MAX_BATCH_EVENTS = 5000;

/** Who sent a request, as the API edge saw it; crosses the transport to the ingest gateway as JSON. */
export interface IngestRequest {
  events: unknown[];
  /** True when the body was a JSON array or NDJSON: the response then carries a result per event. */
  batch: boolean;
  tenantId: string;
  ipAddress?: string;
  userAgent?: string;
  sessionId?: string;
  source?: string;
  idempotencyKey?: string;
  /**
   * Internal only, never set from an HTTP request: the events come back from a checked archive (retention's
   * restore). Each keeps the `received_at` it was first stored with, so the restored row is the archived one
   * byte for byte (its integrity leaf still matches), and idempotency keys are neither checked nor recorded:
   * the events' own ids dedupe them against what is online.
   */
  restore?: boolean;
}

export type EventResult =
  | { index: number; status: 'accepted'; id: string; event: AuditEvent }
  | { index: number; status: 'duplicate'; id: string }
  | { index: number; status: 'rejected'; errors: ErrorDetail[] };

export interface IngestResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventResult[];
}

const hashInput = (input: unknown): string => createHash('sha256').update(JSON.stringify(input)).digest('hex');

/** Idempotency keys past their window: how many (deleted, or that would be), and the window (null: no key store). */
export interface ExpiredIdempotencyKeys {
  expired: number;
  window_hours: number | null;
}

/** What the service needs of the publisher and of the key store: narrow, so unit specs fake them typed. */
export type EventPublisher = Pick<BatchingPublisher, 'publish'>;
export type IdempotencyStore = Pick<IdempotencyRepository, 'find' | 'save' | 'expire' | 'countExpired' | 'ttlHours'>;

export interface IngestServiceOptions {
  /**
   * How often keys older than their window are deleted, so idempotency_keys holds about one window of keys
   * instead of growing forever (find and save already ignore expired rows, so this only reclaims space).
   * 0 turns it off.
   */
  expireEveryMs: number;
}

export const DEFAULT_INGEST_OPTIONS: IngestServiceOptions = { expireEveryMs: 60 * 60_000 };

/**
 * Validates, enriches and publishes events. Valid events of a batch are written even when others in it are
 * rejected; each gets its own result. A response is returned only after the log acknowledged the write.
 */
export class IngestService {
  private readonly expiry: NodeJS.Timeout | undefined;
  private expiring: Promise<number> | undefined;

  constructor(
    private readonly publisher: EventPublisher,
    private readonly idempotency: IdempotencyStore | undefined,
    options: IngestServiceOptions = DEFAULT_INGEST_OPTIONS,
  ) {
    if (idempotency && options.expireEveryMs > 0) {
      this.expiry = setInterval(() => void this.expireKeys(), options.expireEveryMs);
      this.expiry.unref();
    }
  }

  /**
   * Deletes expired idempotency keys; one run at a time. A failure (the database briefly away) is left to the
   * next run: nothing depends on the rows being gone.
   */
  expireKeys(): Promise<number> {
    if (!this.idempotency) return Promise.resolve(0);
    this.expiring ??= this.idempotency
      .expire()
      .catch(() => 0)
      .finally(() => (this.expiring = undefined));
    return this.expiring;
  }

  /**
   * The idempotency keys past their window, now rather than at the next timer run: counted for a dry run, or
   * deleted with `apply` (GET and POST /audit/optimize). Unlike the timer's run, a failure is the caller's.
   */
  async expiredIdempotencyKeys(apply: boolean): Promise<ExpiredIdempotencyKeys> {
    if (!this.idempotency) return { expired: 0, window_hours: null };
    const expired = apply ? await this.idempotency.expire() : await this.idempotency.countExpired();
    return { expired, window_hours: this.idempotency.ttlHours };
  }

  /** Stops the expiry timer and waits for a run in hand, so the data source can close after it. */
  async close(): Promise<void> {
    clearInterval(this.expiry);
    await this.expiring;
  }

  async ingest(req: IngestRequest): Promise<IngestResponse> {
    if (req.events.length > MAX_BATCH_EVENTS) {
      throw new AuditError(ErrorCode.BatchTooLarge, `a batch may hold at most ${MAX_BATCH_EVENTS} events; got ${req.events.length}`, 413);
    }
    if (req.events.length === 0) {
      throw new AuditError(ErrorCode.ValidationFailed, 'the batch is empty', 400, [{ field: '/', message: 'send at least one event' }]);
    }
    const receivedAtMicros = nowMicros();
    const results: EventResult[] = new Array(req.events.length);
    const valid: Array<{ index: number; event: AuditEvent; hash: string }> = [];
    req.events.forEach((input, index) => {
      const size = Buffer.byteLength(JSON.stringify(input) ?? '');
      if (size > LIMITS.eventBytes) {
        results[index] = {
          index,
          status: 'rejected',
          errors: [{ field: '/', message: `the event is ${size} bytes; at most ${LIMITS.eventBytes} are allowed` }],
        };
        return;
      }
      const ctx: IngestContext = {
        tenantId: req.tenantId,
        receivedAtMicros,
        ipAddress: req.ipAddress,
        userAgent: req.userAgent,
        sessionId: req.sessionId,
        source: req.source,
        trustTenantField: false,
        requestIdempotencyKey: req.idempotencyKey,
        batchIndex: req.batch ? index : undefined,
        keepReceivedAt: req.restore === true,
      };
      const r = normalizeEvent(input, ctx);
      if (!r.ok) results[index] = { index, status: 'rejected', errors: r.errors };
      else valid.push({ index, event: r.event, hash: r.event.idempotency_key ? hashInput(input) : '' });
    });

    const keyed = req.restore ? [] : valid.filter((v) => v.event.idempotency_key !== '');
    let seen = new Map<string, IdempotencyRecord>();
    if (keyed.length > 0 && this.idempotency) {
      seen = await this.idempotency.find(
        req.tenantId,
        keyed.map((v) => v.event.idempotency_key),
      );
    }
    const toPublish: typeof valid = [];
    const inRequest = new Set<string>();
    for (const v of valid) {
      const key = req.restore ? '' : v.event.idempotency_key;
      const prior = key ? seen.get(key) : undefined;
      if (prior) {
        if (prior.requestHash !== v.hash) {
          results[v.index] = {
            index: v.index,
            status: 'rejected',
            errors: [
              {
                field: '/idempotency_key',
                message: `idempotency key '${key}' was already used for a different event`,
                code: ErrorCode.IdempotencyKeyReused,
              },
            ],
          };
        } else {
          results[v.index] = { index: v.index, status: 'duplicate', id: prior.eventId };
        }
        continue;
      }
      if (key && inRequest.has(key)) {
        results[v.index] = { index: v.index, status: 'duplicate', id: v.event.id };
        continue;
      }
      if (key) inRequest.add(key);
      toPublish.push(v);
    }

    const producerIds = new Set<string>();
    for (const v of toPublish) if (typeof (req.events[v.index] as { id?: unknown }).id === 'string') producerIds.add(v.event.id);
    await this.publisher.publish(
      toPublish.map((v) => v.event),
      producerIds,
    );
    for (const v of toPublish) results[v.index] = { index: v.index, status: 'accepted', id: v.event.id, event: v.event };
    if (this.idempotency && !req.restore && toPublish.some((v) => v.event.idempotency_key)) {
      // Recorded after the write: if this is lost in a crash, the retry is still harmless because its
      // event id is derived from the key and the consumer drops ids it already stored.
      await this.idempotency.save(
        req.tenantId,
        toPublish
          .filter((v) => v.event.idempotency_key)
          .map((v) => ({ key: v.event.idempotency_key, requestHash: v.hash, eventId: v.event.id })),
      );
    }
    let accepted = 0;
    let duplicates = 0;
    for (const r of results) {
      if (r.status === 'accepted') accepted++;
      else if (r.status === 'duplicate') duplicates++;
    }
    return { accepted, duplicates, rejected: results.length - accepted - duplicates, results };
  }
}
