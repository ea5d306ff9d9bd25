import { AuditEvent, INGEST_HEADER, PRODUCER_ID_HEADER, serializeEvent, TOPIC_EVENTS, UnavailableError } from '@app/contracts';
import { EventBus, OutgoingRecord } from '@app/event-bus';

const GATEWAY_HEADERS = { [INGEST_HEADER.name]: INGEST_HEADER.value };
const PRODUCER_ID_HEADERS = { ...GATEWAY_HEADERS, [PRODUCER_ID_HEADER.name]: PRODUCER_ID_HEADER.value };
const NONE: ReadonlySet<string> = new Set();

interface Waiter {
  records: OutgoingRecord[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface PublisherOptions {
  /** How long the first waiting request holds the batch open for others to join. */
  lingerMs: number;
  maxBatchRecords: number;
  /** Beyond this many records waiting, new requests get 503 instead of queueing without bound. */
  maxQueuedRecords: number;
}

/**
 * Gathers events from concurrent requests for a few milliseconds and publishes them in one durable write,
 * so throughput is not bound by one broker round trip (or one fsync) per request. Each caller's promise
 * resolves only when the write holding its events was acknowledged.
 */
export class BatchingPublisher {
  private queue: Waiter[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly options: PublisherOptions,
  ) {}

  /** The partition key: events of one device, site or session stay in order relative to each other. */
  static keyOf(event: AuditEvent): string {
    const m = event.metadata;
    const scope =
      (typeof m.device_id === 'string' && m.device_id) || (typeof m.site_id === 'string' && m.site_id) || event.session_id || event.id;
    return `${event.tenant_id}/${scope}`;
  }

  /** `producerIds`: the ids the request chose itself (see PRODUCER_ID_HEADER). */
  publish(events: AuditEvent[], producerIds: ReadonlySet<string> = NONE): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.queued + events.length > this.options.maxQueuedRecords) {
      return Promise.reject(new UnavailableError('the ingest queue is full; retry shortly', 1));
    }
    const records = events.map((e) => ({
      key: BatchingPublisher.keyOf(e),
      value: serializeEvent(e),
      headers: producerIds.has(e.id) ? PRODUCER_ID_HEADERS : GATEWAY_HEADERS,
    }));
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.queued += records.length;
      if (this.queued >= this.options.maxBatchRecords) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  get pending(): number {
    return this.queued + this.inFlight;
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const waiters = this.queue;
    const count = this.queued;
    this.queue = [];
    this.queued = 0;
    this.inFlight += count;
    const records = waiters.flatMap((w) => w.records);
    this.bus
      .publish(TOPIC_EVENTS, records)
      .then(
        () => waiters.forEach((w) => w.resolve()),
        (e: unknown) => {
          const err =
            e instanceof UnavailableError
              ? e
              : new UnavailableError(`the event log did not acknowledge the write: ${(e as Error).message}`);
          waiters.forEach((w) => w.reject(err));
        },
      )
      .finally(() => {
        this.inFlight -= count;
      });
  }

  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  }
}
