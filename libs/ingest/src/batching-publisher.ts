import {
  AuditEvent,
  INGEST_HEADER,
  LogWriteRejectedError,
  PRODUCER_ID_HEADER,
  serializeEvent,
  TOPIC_EVENTS,
  UnavailableError,
} from '@app/contracts';
import { EventBus, MAX_PUBLISH_BYTES, OutgoingRecord } from '@app/event-bus';

const GATEWAY_HEADERS = { [INGEST_HEADER.name]: INGEST_HEADER.value };
const PRODUCER_ID_HEADERS = { ...GATEWAY_HEADERS, [PRODUCER_ID_HEADER.name]: PRODUCER_ID_HEADER.value };
const NONE: ReadonlySet<string> = new Set();

interface Waiter {
  records: OutgoingRecord[];
  bytes: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One write to the log: whole waiters, or the slices of one waiter too big for a single write. */
interface Chunk {
  records: OutgoingRecord[];
  waiters: Waiter[];
}

export interface PublisherOptions {
  /** How long the first waiting request holds the batch open for others to join. */
  lingerMs: number;
  maxBatchRecords: number;
  /** At most this many bytes (values, keys, headers) in one write, so it fits the topic's max.message.bytes. */
  maxBatchBytes?: number;
  /** Beyond this many records waiting, new requests get 503 instead of queueing without bound. */
  maxQueuedRecords: number;
}

const recordBytes = (r: OutgoingRecord): number => {
  let n = Buffer.byteLength(r.value) + Buffer.byteLength(r.key);
  for (const [k, v] of Object.entries(r.headers ?? {})) n += k.length + v.length;
  return n;
};

/**
 * Gathers events from concurrent requests for a few milliseconds and publishes them in one durable write,
 * so throughput is not bound by one broker round trip (or one fsync) per request. Each caller's promise
 * resolves only when the write holding its events was acknowledged.
 */
export class BatchingPublisher {
  private queue: Waiter[] = [];
  private queued = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly maxBatchBytes: number;

  constructor(
    private readonly bus: EventBus,
    private readonly options: PublisherOptions,
  ) {
    this.maxBatchBytes = options.maxBatchBytes ?? MAX_PUBLISH_BYTES;
  }

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
    const bytes = records.reduce((n, r) => n + recordBytes(r), 0);
    return new Promise((resolve, reject) => {
      this.queue.push({ records, bytes, resolve, reject });
      this.queued += records.length;
      this.queuedBytes += bytes;
      if (this.queued >= this.options.maxBatchRecords || this.queuedBytes >= this.maxBatchBytes) this.flush();
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
    this.queuedBytes = 0;
    this.inFlight += count;
    void this.write(waiters).finally(() => {
      this.inFlight -= count;
    });
  }

  /**
   * Writes the waiters' records in chunks of at most maxBatchBytes, one after another so a device's events keep
   * their order. A waiter resolves when every chunk holding its records was acknowledged.
   */
  private async write(waiters: Waiter[]): Promise<void> {
    const settled = new Set<Waiter>();
    for (const chunk of this.chunks(waiters)) {
      const live = chunk.waiters.filter((w) => !settled.has(w));
      if (live.length === 0) continue;
      try {
        await this.bus.publish(TOPIC_EVENTS, chunk.records);
      } catch (e) {
        if (e instanceof LogWriteRejectedError && live.length > 1) {
          // A permanent refusal is about some record in the chunk: write each request on its own so only the
          // one that causes it fails, rather than every request that happened to share the flush.
          for (const w of live) await this.write([w]).catch(() => undefined);
          for (const w of live) settled.add(w);
          continue;
        }
        const err =
          e instanceof UnavailableError || e instanceof LogWriteRejectedError
            ? e
            : new UnavailableError(`the event log did not acknowledge the write: ${(e as Error).message}`);
        for (const w of live) {
          settled.add(w);
          w.reject(err);
        }
      }
    }
    for (const w of waiters) if (!settled.has(w)) w.resolve();
  }

  private *chunks(waiters: Waiter[]): Generator<Chunk> {
    let current: Chunk = { records: [], waiters: [] };
    let bytes = 0;
    for (const w of waiters) {
      if (current.records.length > 0 && bytes + w.bytes > this.maxBatchBytes) {
        yield current;
        current = { records: [], waiters: [] };
        bytes = 0;
      }
      if (w.bytes <= this.maxBatchBytes) {
        current.records.push(...w.records);
        current.waiters.push(w);
        bytes += w.bytes;
        continue;
      }
      // One request larger than a write: its own slices, each within the bound.
      if (current.records.length > 0) {
        yield current;
        current = { records: [], waiters: [] };
        bytes = 0;
      }
      let slice: OutgoingRecord[] = [];
      let sliceBytes = 0;
      for (const r of w.records) {
        const n = recordBytes(r);
        if (slice.length > 0 && sliceBytes + n > this.maxBatchBytes) {
          yield { records: slice, waiters: [w] };
          slice = [];
          sliceBytes = 0;
        }
        slice.push(r);
        sliceBytes += n;
      }
      yield { records: slice, waiters: [w] };
    }
    if (current.records.length > 0) yield current;
  }

  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  }
}
