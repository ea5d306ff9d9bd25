import { EventFilter, nowMicros, PageRequest, StoredAuditEvent, StreamCursor, TOPIC_EVENTS } from '@app/contracts';
import { EventBus } from '@app/event-bus';
import { ComponentHealth } from '@app/runtime';
import { DetailedStatistics, Statistics } from './statistics.mapper';
import { QueryPort, SearchResult, TailResult } from './query.port';
import { QueryStoreConsumer } from './query-store.consumer';
import { awaitProjection } from './read-after-write';
import { DailyCount, EventSearch, EventStatistics, JsonLinesPage, RangeCursor, StoreHealth } from './store-ports';
import type { OptimizePlan, StorePerformance } from './store-operations';

/** The store's operations side, as the query capability builds it. */
export interface StoreMaintenance {
  performance(): Promise<StorePerformance>;
  optimize(apply: boolean): Promise<OptimizePlan>;
}
import type { EventStoreRepository } from './event-store.repository';
import type { RemovedDay, StoredDayRef } from './retention-deletes.store';
import type { Timeline, TimelineBreakdown } from './event-timeline.store';
import type { ReportCounts } from './report-counts.store';
import type { EngineFileExport, ExportPage, ExportTextFormat } from './event-export.store';

/** Queries in-process: the embedded app, and the query-store's own handlers. */
export class LocalQuery implements QueryPort {
  constructor(
    private readonly store: EventSearch &
      EventStatistics &
      StoreHealth &
      Pick<EventStoreRepository, 'deleteDays' | 'timeline' | 'reportCounts' | 'exportPage'> &
      Partial<Pick<EventStoreRepository, 'fileExport'>>,
    private readonly consumer: QueryStoreConsumer,
    /** The log, for its end offsets (read after write). */
    private readonly bus: EventBus,
    private readonly maintenance?: StoreMaintenance,
  ) {}

  performance(): Promise<StorePerformance> {
    if (!this.maintenance) throw new Error('no store maintenance in this process');
    return this.maintenance.performance();
  }

  optimize(apply: boolean): Promise<OptimizePlan> {
    if (!this.maintenance) throw new Error('no store maintenance in this process');
    return this.maintenance.optimize(apply);
  }

  // `signal` (the HTTP client left) stops a waiting query and is passed to ClickHouse for a running one; on
  // chdb the engine still finishes it, bounded by the store's time limit.
  search(tenantId: string, filter: EventFilter, page: PageRequest, signal?: AbortSignal): Promise<SearchResult> {
    signal?.throwIfAborted();
    return this.store.search(tenantId, filter, page, { signal });
  }

  async findById(tenantId: string, id: string, signal?: AbortSignal): Promise<StoredAuditEvent | null> {
    signal?.throwIfAborted();
    return (await this.store.findById(tenantId, id, { signal })) ?? null;
  }

  range(tenantId: string, filter: EventFilter, after: RangeCursor | null, limit: number): Promise<StoredAuditEvent[]> {
    return this.store.range(tenantId, filter, after, limit);
  }

  exportLines(tenantId: string, filter: EventFilter, after: RangeCursor | null, limit: number): Promise<JsonLinesPage> {
    return this.store.exportLines(tenantId, filter, after, limit);
  }

  exportPage(
    tenantId: string,
    filter: EventFilter,
    format: ExportTextFormat,
    includeMetadata: boolean,
    after: RangeCursor | null,
    limit: number,
  ): Promise<ExportPage> {
    return this.store.exportPage(tenantId, filter, format, includeMetadata, after, limit);
  }

  /**
   * The engine writing an export's file itself, when it runs in this process (chdb); undefined otherwise.
   * Not on QueryPort: a file the engine writes is on its own machine, so it means nothing over TCP.
   */
  fileExport(): EngineFileExport | undefined {
    return this.store.fileExport;
  }

  reportCounts(tenantId: string, filter: EventFilter): Promise<ReportCounts> {
    return this.store.reportCounts(tenantId, filter);
  }

  statistics(tenantId: string, signal?: AbortSignal): Promise<Statistics> {
    signal?.throwIfAborted();
    return this.store.statistics(tenantId, nowMicros(), { signal });
  }

  detailedStatistics(tenantId: string, signal?: AbortSignal): Promise<DetailedStatistics> {
    signal?.throwIfAborted();
    return this.store.detailedStatistics(tenantId, nowMicros(), { signal });
  }

  awaitWrites(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return awaitProjection(
      { logEnd: async () => this.bus.endOffsets?.(TOPIC_EVENTS), progress: () => this.store.progress() },
      timeoutMs,
      signal,
    );
  }

  dailyCounts(tenantId: string): Promise<DailyCount[]> {
    return this.store.dailyCounts(tenantId);
  }

  deleteDays(tenantId: string, days: StoredDayRef[]): Promise<RemovedDay[]> {
    return this.store.deleteDays(tenantId, days);
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
        store_refusals: this.consumer.storeRefusals,
        storage: ok ? await this.store.storage() : null,
      },
    };
  }

  timeline(tenantId: string, breakdown: TimelineBreakdown, hours: number, signal?: AbortSignal): Promise<Timeline> {
    signal?.throwIfAborted();
    return this.store.timeline(tenantId, breakdown, hours, nowMicros(), { signal });
  }
}

/** The engine's own writing of export files behind a query port: when the port is this process's store on chdb. */
export function engineFileExport(port: QueryPort): EngineFileExport | undefined {
  return port instanceof LocalQuery ? port.fileExport() : undefined;
}
