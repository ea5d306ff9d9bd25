import { nowMicros, StoredAuditEvent } from '@app/contracts';
import { EventBus } from '@app/event-bus';
import { BatchingPublisher, IdempotencyRepository, IngestRequest, IngestResponse, IngestService } from '@app/ingest';
import { DataSource } from 'typeorm';
import {
  DetailedStatistics,
  EventFilter,
  EventStoreRepository,
  PageRequest,
  QueryStoreConsumer,
  Statistics,
  StreamCursor,
} from '@app/query';
import { awaitProjection } from './http/read-after-write';
import { ComponentHealth, IngestPort, QueryPort, SearchResult, TailResult } from './ports';

/** Ingest in-process: the embedded app, and the ingest-gateway's own handlers. */
export class LocalIngest implements IngestPort {
  /**
   * The ingest side on an event bus: validation, idempotency keys in `ds`, and the batching publisher whose
   * queued events `onClose` lets the caller drain at shutdown.
   */
  static create(bus: EventBus, ds: DataSource, lingerMs: number, onClose: (drain: () => Promise<void>) => void): LocalIngest {
    const publisher = new BatchingPublisher(bus, { lingerMs, maxBatchRecords: 5000, maxQueuedRecords: 200_000 });
    onClose(() => publisher.drain());
    return new LocalIngest(new IngestService(publisher, new IdempotencyRepository(ds)), bus);
  }

  constructor(
    private readonly service: IngestService,
    private readonly bus: EventBus,
  ) {}

  ingest(request: IngestRequest): Promise<IngestResponse> {
    return this.service.ingest(request);
  }

  async health(): Promise<ComponentHealth> {
    const h = await this.bus.health();
    return { ok: h.ok, detail: h.detail };
  }
}

/** Queries in-process: the embedded app, and the query-store's own handlers. */
export class LocalQuery implements QueryPort {
  constructor(
    private readonly store: EventStoreRepository,
    private readonly consumer: QueryStoreConsumer,
  ) {}

  // `signal` stops a query whose client left before it starts; passing it on to the store's methods (which
  // are gaining an optional signal of their own) also stops one that runs.
  search(tenantId: string, filter: EventFilter, page: PageRequest, signal?: AbortSignal): Promise<SearchResult> {
    signal?.throwIfAborted();
    return this.store.search(tenantId, filter, page);
  }

  async findById(tenantId: string, id: string, signal?: AbortSignal): Promise<StoredAuditEvent | null> {
    signal?.throwIfAborted();
    return (await this.store.findById(tenantId, id)) ?? null;
  }

  statistics(tenantId: string, signal?: AbortSignal): Promise<Statistics> {
    signal?.throwIfAborted();
    return this.store.statistics(tenantId, nowMicros());
  }

  detailedStatistics(tenantId: string, signal?: AbortSignal): Promise<DetailedStatistics> {
    signal?.throwIfAborted();
    return this.store.detailedStatistics(tenantId, nowMicros());
  }

  awaitWrites(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return awaitProjection({ logEnd: () => this.consumer.logEnd(), progress: () => this.store.progress() }, timeoutMs, signal);
  }

  async tail(tenantId: string, cursor: StreamCursor | null, filter: EventFilter, limit: number): Promise<TailResult> {
    if (cursor === null) return { events: [], cursor: await this.store.progress() };
    return this.store.tail(tenantId, cursor, filter, limit);
  }

  async health(): Promise<ComponentHealth> {
    const ok = await this.store.ping();
    return {
      ok: ok && this.consumer.lastError === undefined,
      detail: {
        clickhouse: ok ? 'up' : 'down',
        last_insert_at: this.consumer.lastInsertAt ? new Date(this.consumer.lastInsertAt).toISOString() : null,
        last_error: this.consumer.lastError ?? null,
        storage: ok ? await this.store.storage() : null,
      },
    };
  }
}
