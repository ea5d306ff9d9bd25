import { INGEST_HEADER, normalizeEvent, serializeEvent, TOPIC_EVENTS } from '@app/contracts';
import { BusBatch, BusRecord, EventBus } from '@app/event-bus';
import { EventStoreRepository } from './event-store.repository';
import { QueryStoreConsumer } from './query-store.consumer';

/** The store as the consumer sees it, in memory: rows by log position, and every id query it was asked. */
class FakeStore {
  readonly rows = new Map<string, { partition: number; offset: bigint }>();
  readonly idQueries: string[][] = [];

  async maxStoredOffset(partition: number): Promise<bigint> {
    let max = -1n;
    for (const r of this.rows.values()) if (r.partition === partition && r.offset > max) max = r.offset;
    return max;
  }
  async idsInOffsetRange(partition: number, after: bigint, upTo: bigint): Promise<string[]> {
    return [...this.rows].filter(([, r]) => r.partition === partition && r.offset > after && r.offset <= upTo).map(([id]) => id);
  }
  async existingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length > 0) this.idQueries.push(ids);
    return new Set(ids.filter((id) => this.rows.has(id)));
  }
  async insertLines(lines: string[]): Promise<void> {
    for (const line of lines) {
      const row = JSON.parse(line) as { id: string; log_partition: number; log_offset: string };
      if (this.rows.has(row.id)) throw new Error(`stored twice: ${row.id}`);
      this.rows.set(row.id, { partition: row.log_partition, offset: BigInt(row.log_offset) });
    }
  }
  async recordProgress(): Promise<void> {}
}

const gatewayRecord = (offset: number, id: string): BusRecord => {
  const r = normalizeEvent({ id, event_type: 'job_created' }, { tenantId: 'default', receivedAtMicros: 1.7e15, trustTenantField: false });
  if (!r.ok) throw new Error('invalid test event');
  return {
    topic: TOPIC_EVENTS,
    partition: 2,
    offset: String(offset),
    timestampMs: 1.7e12,
    key: null,
    value: Buffer.from(serializeEvent(r.event)),
    headers: { [INGEST_HEADER.name]: INGEST_HEADER.value },
  };
};

const batch = (generation: number, records: BusRecord[]): BusBatch => ({
  topic: TOPIC_EVENTS,
  partition: 2,
  records,
  firstOffset: records[0].offset,
  lastOffset: records[records.length - 1].offset,
  generation,
  heartbeat: async () => undefined,
});

const id = (n: number): string => `0190f0f0-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe('QueryStoreConsumer on Kafka', () => {
  const bus = { kind: 'kafka', publish: async () => undefined } as unknown as EventBus;

  it("should drop a producer retry's copy from memory, also after a restart, and query the store only for redeliveries", async () => {
    const store = new FakeStore();
    const consumer = new QueryStoreConsumer(bus, store as unknown as EventStoreRepository, 'default');
    await consumer.handle(batch(1, [gatewayRecord(0, id(1)), gatewayRecord(1, id(2))]));
    // The gateway's producer retried the send of id 2: its copy comes two offsets later.
    await consumer.handle(batch(1, [gatewayRecord(2, id(3)), gatewayRecord(3, id(2))]));
    expect([...store.rows.keys()]).toEqual([id(1), id(2), id(3)]);
    expect(store.idQueries).toEqual([]);

    // A new process (or a rebalance): what is past the stored offset is new, and a copy of a row stored
    // before the restart is still found without a query.
    const restarted = new QueryStoreConsumer(bus, store as unknown as EventStoreRepository, 'default');
    await restarted.handle(batch(1, [gatewayRecord(4, id(1)), gatewayRecord(5, id(4))]));
    expect([...store.rows.keys()]).toEqual([id(1), id(2), id(3), id(4)]);
    expect(store.idQueries).toEqual([]);

    // A redelivery of stored offsets is checked against the store.
    await restarted.handle(batch(2, [gatewayRecord(5, id(4)), gatewayRecord(6, id(5))]));
    expect(store.idQueries).toEqual([[id(4)]]);
    expect(store.rows.size).toBe(5);
  });
});

describe('QueryStoreConsumer as the only writer of its store', () => {
  it('should reconcile the roll-up before it subscribes on chdb, and not on a shared server', async () => {
    for (const inProcess of [true, false]) {
      const calls: string[] = [];
      const bus = {
        kind: 'kafka',
        subscribe: async () => {
          calls.push('subscribe');
          return { close: async () => undefined };
        },
      } as unknown as EventBus;
      const store = {
        inProcess,
        reconcileRollup: async () => {
          calls.push('reconcile');
          return [];
        },
      } as unknown as EventStoreRepository;
      await new QueryStoreConsumer(bus, store, 'default').start();
      expect([inProcess, calls]).toEqual([inProcess, inProcess ? ['reconcile', 'subscribe'] : ['subscribe']]);
    }
  });
});
