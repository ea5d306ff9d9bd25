import { nowMicros, StoredAuditEvent } from '@app/contracts';
import type { StreamCursor } from '@app/contracts';
import { ComponentHealth } from '@app/runtime';
import { EventFilter, PageRequest } from './event-query';
import { DetailedStatistics, Statistics } from './statistics.mapper';
import { QueryPort, SearchResult, TailResult } from './query.port';
import { QueryStoreConsumer } from './query-store.consumer';
import type { EventStoreRepository } from './event-store.repository';
import type { StoredDayRef } from './retention-deletes.store';
import { DailyCount, EventSearch, EventStatistics, StoreHealth } from './store-ports';

/** Queries in-process: the embedded app, and the query-store's own handlers. */
export class LocalQuery implements QueryPort {
  constructor(
    private readonly store: EventSearch & EventStatistics & StoreHealth & Pick<EventStoreRepository, 'deleteDays'>,
    private readonly consumer: QueryStoreConsumer,
  ) {}

  search(tenantId: string, filter: EventFilter, page: PageRequest): Promise<SearchResult> {
    return this.store.search(tenantId, filter, page);
  }

  async findById(tenantId: string, id: string): Promise<StoredAuditEvent | null> {
    return (await this.store.findById(tenantId, id)) ?? null;
  }

  statistics(tenantId: string): Promise<Statistics> {
    return this.store.statistics(tenantId, nowMicros());
  }

  detailedStatistics(tenantId: string): Promise<DetailedStatistics> {
    return this.store.detailedStatistics(tenantId, nowMicros());
  }

  dailyCounts(tenantId: string): Promise<DailyCount[]> {
    return this.store.dailyCounts(tenantId);
  }

  deleteDays(tenantId: string, days: StoredDayRef[]): Promise<DailyCount[]> {
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
}
