import { CONSUMER_GROUP_QUERY_STORE, DLQ_HEADERS } from '@app/contracts';
import { BusBatch, TrustPolicy } from '@app/event-bus';
import { PartitionPosition, RawConsumer } from '@app/runtime';
import { dedupToken, EncodedRow } from './projector';
import { BatchProjector, inlineProjector } from './projector-pool';
import { RecentIds } from './recent-ids';
import { EventWriteStore, RebuiltBucket } from './store-ports';
import { noteStoreRefusals, storeRefusedRecords, StoreRefusalsSummary } from './store-refusals';
import { StoreWriter } from './store-writer';

/**
 * Per Kafka partition, how many of the last stored ids are kept to find a producer retry's copy: more than a
 * partition receives in the gateway's publish timeout (8 s) at 50,000 events/s over 6 partitions.
 */
export const RECENT_IDS_PER_PARTITION = 100_000;

interface PartitionMark {
  generation: number;
  /** Records at or below may already be in the store (so they are checked by id). */
  stored: bigint;
  /** Refused records at or below were already sent to the DLQ. */
  refused: bigint;
  /** The ids this partition stored last (Kafka only: the embedded log has no producer retries). */
  recent?: RecentIds;
}

export interface ConsumerMetrics {
  onBatch(rows: number, rejected: number, duplicates: number, ms: number): void;
  onError(error: unknown): void;
  /** One insert into the store: several batches' rows under load (see StoreWriter). */
  onInsert?(rows: number, ms: number): void;
  /** Buckets of the statistics roll-ups rebuilt because they disagreed with the events (see reconcileRollup). */
  onRollupRepaired?(buckets: RebuiltBucket[]): void;
  /** Rows the store refused for their data, sent to the DLQ with its error (see StoreWriter). */
  onStoreRefused?(refused: Array<{ code: string; reason: string }>): void;
}

/**
 * Projects audit.events.v1 into ClickHouse: each delivered batch is validated and encoded, then stored by
 * the group-commit writer (batches of several partitions share an insert), its position recorded after the
 * insert, and the batch committed by the bus only when all of that resolved. A failure throws, so the bus
 * backs off and redelivers the same batch instead of skipping it.
 */
export class QueryStoreConsumer {
  /** Per partition, within one bus generation. */
  private readonly marks = new Map<number, PartitionMark>();
  private readonly writer: StoreWriter;
  lastInsertAt: number | undefined;
  lastError: string | undefined;
  /** Rows the store refused, sent to the DLQ: shown in the query store's health detail. */
  readonly storeRefusals: StoreRefusalsSummary = { rows_refused: 0, last_refusal: null };

  constructor(
    private readonly store: EventWriteStore,
    /** The trust policy is the deployment's (see TrustPolicy), never inferred from the bus. */
    private readonly options: { defaultTenant: string; trust: TrustPolicy },
    private readonly metrics?: ConsumerMetrics,
    /** Where batches are validated and encoded: the apps pass a WorkerProjector. */
    private readonly projector: BatchProjector = inlineProjector,
  ) {
    this.writer = new StoreWriter(store, {
      onInsert: (rows, ms) => metrics?.onInsert?.(rows, ms),
      // On chdb this process is the store's only writer, so it can repair the roll-up safely.
      soleWriter: store.inProcess,
      onRollupRepaired: (buckets) => metrics?.onRollupRepaired?.(buckets),
    });
  }

  /** Its group on the consumer host: the query store owns the DLQ (the one writer of refused records). */
  declaration(): RawConsumer {
    return { kind: 'raw', group: CONSUMER_GROUP_QUERY_STORE, ownsDeadLetters: true, handle: (b, p) => this.handle(b, p) };
  }

  /** Before the group is subscribed: as the store's only writer, reconcile the roll-ups (see StoreWriter.recover). */
  recover(): Promise<void> {
    return this.writer.recover();
  }

  /** After the host stopped the group (the batch in hand finished). */
  close(): Promise<void> {
    return this.projector.close();
  }

  private async findStored(rows: EncodedRow[], suspectIds: string[], anyTimeSuspectIds: string[]): Promise<Set<string>> {
    const suspects = new Set(suspectIds);
    const tenants = new Set<string>();
    let from = '';
    let to = '';
    for (const r of rows) {
      if (!suspects.has(r.id)) continue;
      tenants.add(r.tenant_id);
      if (from === '' || r.timestamp < from) from = r.timestamp;
      if (r.timestamp > to) to = r.timestamp;
    }
    const [inRange, anyTime] = await Promise.all([
      this.store.existingIds(suspectIds, { tenants: [...tenants], from, to }),
      this.store.existingIds(anyTimeSuspectIds),
    ]);
    for (const id of anyTime) inRange.add(id);
    return inRange;
  }

  async handle(batch: BusBatch, position: PartitionPosition): Promise<void> {
    const started = Date.now();
    const last = BigInt(batch.lastOffset);
    let mark: PartitionMark | undefined;
    const trustGatewayRecords = this.options.trust === 'gateway-records';
    let written = false;
    try {
      const generation = batch.generation ?? 0;
      mark = this.marks.get(batch.partition);
      if (mark === undefined || mark.generation !== generation || position.fresh) {
        // The DLQ write precedes the insert, so whatever is stored was also refused where it had to be.
        const stored = await this.store.maxStoredOffset(batch.partition);
        mark = { generation, stored, refused: stored };
        if (!trustGatewayRecords) {
          // A copy past the stored offset may be of an original stored just before a restart or rebalance.
          mark.recent = new RecentIds(RECENT_IDS_PER_PARTITION);
          const after = stored - BigInt(RECENT_IDS_PER_PARTITION);
          for (const id of await this.store.idsInOffsetRange(batch.partition, after, stored)) mark.recent.add(id);
        }
        this.marks.set(batch.partition, mark);
      }
      const processed = await this.projector.process(batch, mark.stored, {
        defaultTenant: this.options.defaultTenant,
        trustGatewayRecords,
      });
      // A batch that failed after its DLQ write comes back: refuse each message once, not once per retry.
      const refused = mark.refused;
      const rejected = processed.rejected.filter((r) => BigInt(r.headers?.[DLQ_HEADERS.sourceOffset] ?? '-1') > refused);
      await position.deadLetter(rejected);
      if (last > mark.refused) mark.refused = last;
      let rows = processed.rows;
      const recent = mark.recent;
      const existing = new Set(recent ? processed.retrySuspectIds.filter((id) => recent.has(id)) : []);
      if (processed.suspectIds.length > 0 || processed.anyTimeSuspectIds.length > 0) {
        for (const id of await this.findStored(processed.rows, processed.suspectIds, processed.anyTimeSuspectIds)) existing.add(id);
      }
      if (existing.size > 0) rows = rows.filter((r) => !existing.has(r.id));
      const duplicates = processed.rows.length - rows.length;
      await batch.heartbeat();
      written = true;
      const refusals = await this.writer.write(
        rows.map((r) => r.line),
        dedupToken(batch),
        batch.partition,
        batch.lastOffset,
      );
      // The rest of the batch is stored: what the store refused goes to the DLQ, so the batch can be committed.
      if (refusals.length > 0) {
        await position.deadLetter(storeRefusedRecords(batch, rows, refusals));
        noteStoreRefusals(this.storeRefusals, batch, rows, refusals);
        this.metrics?.onStoreRefused?.(refusals);
      }
      if (last > mark.stored) mark.stored = last;
      if (recent) for (const r of rows) recent.add(r.id);
      this.lastInsertAt = Date.now();
      this.lastError = undefined;
      this.metrics?.onBatch(rows.length - refusals.length, processed.rejected.length, duplicates, Date.now() - started);
    } catch (e) {
      // A failed insert may have stored part of the batch, and the bus may cut the retried range differently
      // or it may share another insert (so the dedup token differs): from now on these offsets are checked
      // by id like any redelivery.
      if (written && mark !== undefined && last > mark.stored) mark.stored = last;
      this.lastError = (e as Error).message;
      this.metrics?.onError(e);
      throw e;
    }
  }
}
