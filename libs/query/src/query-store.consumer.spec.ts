import { DLQ_HEADERS, INGEST_HEADER, normalizeEvent, serializeEvent, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BusBatch, BusRecord, EventBus, OutgoingRecord } from '@app/event-bus';
import { directPosition } from '@app/runtime';
import { QueryStoreConsumer } from './query-store.consumer';
import { EventWriteStore, RebuiltBucket } from './store-ports';

/** The store as the consumer sees it, in memory: rows by log position, and every id query it was asked. */
class FakeStore implements EventWriteStore {
  readonly rows = new Map<string, { partition: number; offset: bigint }>();
  readonly idQueries: string[][] = [];
  readonly calls: string[] = [];
  /** Rows whose line holds this are refused as ClickHouse refuses a lone surrogate escape. */
  refuse: string | undefined;

  constructor(readonly inProcess = false) {}

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
    const bad = this.refuse === undefined ? -1 : lines.findIndex((l) => l.includes(this.refuse as string));
    if (bad >= 0) {
      throw Object.assign(new Error(`Code: 25. DB::Exception: Cannot parse escape sequence: (at row ${bad + 1})`), { clickhouseCode: 25 });
    }
    for (const line of lines) {
      const row = JSON.parse(line) as { id: string; log_partition: number; log_offset: string };
      if (this.rows.has(row.id)) throw new Error(`stored twice: ${row.id}`);
      this.rows.set(row.id, { partition: row.log_partition, offset: BigInt(row.log_offset) });
    }
  }
  async recordProgress(): Promise<void> {}
  async reconcileRollup(): Promise<RebuiltBucket[]> {
    this.calls.push('reconcile');
    return [];
  }
}

/** A bus that records what is published, and subscribes nothing but a call. */
function fakeBus(kind: EventBus['kind'], calls: string[] = []) {
  const published: Array<{ topic: string; records: OutgoingRecord[] }> = [];
  const bus: EventBus = {
    kind,
    publish: async (topic, records) => {
      published.push({ topic, records });
    },
    subscribe: async () => {
      calls.push('subscribe');
      return { close: async () => undefined };
    },
    health: async () => ({ ok: true, detail: {} }),
    close: async () => undefined,
  };
  return { bus, published };
}

const gatewayRecord = (offset: number, id: string, description = ''): BusRecord => {
  const r = normalizeEvent(
    { id, event_type: 'job_created', description },
    { tenantId: 'default', receivedAtMicros: 1.7e15, trustTenantField: false },
  );
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
  const { bus } = fakeBus('kafka');

  it("should drop a producer retry's copy from memory, also after a restart, and query the store only for redeliveries", async () => {
    const store = new FakeStore();
    const consumer = new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'none' });
    await consumer.handle(
      batch(1, [gatewayRecord(0, id(1)), gatewayRecord(1, id(2))]),
      directPosition(bus, batch(1, [gatewayRecord(0, id(1)), gatewayRecord(1, id(2))])),
    );
    // The gateway's producer retried the send of id 2: its copy comes two offsets later.
    await consumer.handle(
      batch(1, [gatewayRecord(2, id(3)), gatewayRecord(3, id(2))]),
      directPosition(bus, batch(1, [gatewayRecord(2, id(3)), gatewayRecord(3, id(2))])),
    );
    expect([...store.rows.keys()]).toEqual([id(1), id(2), id(3)]);
    expect(store.idQueries).toEqual([]);

    // A new process (or a rebalance): what is past the stored offset is new, and a copy of a row stored
    // before the restart is still found without a query.
    const restarted = new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'none' });
    await restarted.handle(
      batch(1, [gatewayRecord(4, id(1)), gatewayRecord(5, id(4))]),
      directPosition(bus, batch(1, [gatewayRecord(4, id(1)), gatewayRecord(5, id(4))])),
    );
    expect([...store.rows.keys()]).toEqual([id(1), id(2), id(3), id(4)]);
    expect(store.idQueries).toEqual([]);

    // A redelivery of stored offsets is checked against the store.
    await restarted.handle(
      batch(2, [gatewayRecord(5, id(4)), gatewayRecord(6, id(5))]),
      directPosition(bus, batch(2, [gatewayRecord(5, id(4)), gatewayRecord(6, id(5))])),
    );
    expect(store.idQueries).toEqual([[id(4)]]);
    expect(store.rows.size).toBe(5);
  });
});

describe('QueryStoreConsumer as the only writer of its store', () => {
  it('should reconcile the roll-up when it recovers on chdb (before the capability subscribes it), and not on a shared server', async () => {
    for (const inProcess of [true, false]) {
      const store = new FakeStore(inProcess);
      await new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'none' }).recover();
      expect([inProcess, store.calls]).toEqual([inProcess, inProcess ? ['reconcile'] : []]);
    }
  });
});

describe('QueryStoreConsumer when the store refuses a row', () => {
  it("should send exactly that record to the DLQ with the store's error, store the others, and count it", async () => {
    // given a batch whose second event the store refuses (the fake refuses lines holding "REFUSE")
    const store = new FakeStore();
    store.refuse = 'REFUSE';
    const { bus, published } = fakeBus('kafka');
    const refused: string[] = [];
    const consumer = new QueryStoreConsumer(
      store,
      { defaultTenant: 'default', trust: 'none' },
      {
        onBatch: () => undefined,
        onError: () => undefined,
        onStoreRefused: (r) => refused.push(...r.map((x) => x.code)),
      },
    );
    const records = [gatewayRecord(0, id(1)), gatewayRecord(1, id(2), 'REFUSE'), gatewayRecord(2, id(3))];

    // when
    await consumer.handle(batch(1, records), directPosition(bus, batch(1, records)));

    // then
    expect([...store.rows.keys()]).toEqual([id(1), id(3)]);
    expect(published).toHaveLength(1);
    expect(published[0].topic).toBe(TOPIC_EVENTS_DLQ);
    expect(published[0].records).toHaveLength(1);
    const dlq = published[0].records[0];
    expect(dlq.value).toEqual(records[1].value);
    expect(dlq.headers).toEqual({
      ...records[1].headers,
      [DLQ_HEADERS.errorCode]: 'store_refused',
      [DLQ_HEADERS.errorMessage]: 'CANNOT_PARSE_ESCAPE_SEQUENCE: Code: 25. DB::Exception: Cannot parse escape sequence: (at row 1)',
      [DLQ_HEADERS.sourceTopic]: TOPIC_EVENTS,
      [DLQ_HEADERS.sourcePartition]: '2',
      [DLQ_HEADERS.sourceOffset]: '1',
    });
    expect(refused).toEqual(['CANNOT_PARSE_ESCAPE_SEQUENCE']);
    expect(consumer.storeRefusals.rows_refused).toBe(1);
    expect(consumer.storeRefusals.last_refusal).toMatchObject({
      id: id(2),
      partition: 2,
      offset: '1',
      code: 'CANNOT_PARSE_ESCAPE_SEQUENCE',
    });
    expect(consumer.lastError).toBeUndefined();
  });
});
