import { CONSUMER_GROUP_QUERY_STORE, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BusBatch, EventBus, Subscription } from '@app/event-bus';
import { EventStoreRepository } from './event-store.repository';
import { dedupToken, processBatch } from './projector';

export interface ConsumerMetrics {
  onBatch(rows: number, rejected: number, duplicates: number, ms: number): void;
  onError(error: unknown): void;
}

/**
 * Projects audit.events.v1 into ClickHouse: one insert per delivered batch, the position recorded after the
 * insert, and the batch committed by the bus only when all of that resolved. A failure throws, so the bus
 * backs off and redelivers the same batch instead of skipping it.
 */
export class QueryStoreConsumer {
  /** Per partition: the highest offset stored when this consumer got it (in a bus generation). */
  private readonly watermarks = new Map<number, { generation: number; offset: bigint }>();
  private subscription: Subscription | undefined;
  lastInsertAt: number | undefined;
  lastError: string | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly store: EventStoreRepository,
    private readonly defaultTenant: string,
    private readonly metrics?: ConsumerMetrics,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(CONSUMER_GROUP_QUERY_STORE, (b) => this.handle(b), {
      topic: TOPIC_EVENTS,
      fromBeginning: true,
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /** Forget what is known of a partition (called when Kafka takes it away), so it is re-read on return. */
  forgetPartition(partition: number): void {
    this.watermarks.delete(partition);
  }

  async handle(batch: BusBatch): Promise<void> {
    const started = Date.now();
    try {
      const generation = batch.generation ?? 0;
      let watermark = this.watermarks.get(batch.partition);
      if (watermark === undefined || watermark.generation !== generation) {
        watermark = { generation, offset: await this.store.maxStoredOffset(batch.partition) };
        this.watermarks.set(batch.partition, watermark);
      }
      const processed = processBatch(batch, watermark.offset, this.defaultTenant);
      if (processed.rejected.length > 0) await this.bus.publish(TOPIC_EVENTS_DLQ, processed.rejected);
      let rows = processed.rows;
      let duplicates = 0;
      if (processed.suspectIds.length > 0) {
        const existing = await this.store.existingIds(processed.suspectIds);
        if (existing.size > 0) {
          rows = rows.filter((r) => !existing.has(r.id));
          duplicates = processed.rows.length - rows.length;
        }
      }
      await batch.heartbeat();
      await this.store.insert(rows, dedupToken(batch));
      await this.store.recordProgress(batch.partition, batch.lastOffset);
      this.lastInsertAt = Date.now();
      this.lastError = undefined;
      this.metrics?.onBatch(rows.length, processed.rejected.length, duplicates, Date.now() - started);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.metrics?.onError(e);
      throw e;
    }
  }
}
