import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DLQ_HEADERS, nowMicros, TOPIC_EVENTS } from '@app/contracts';
import { BusBatch, EventBus, FileLogBus } from '@app/event-bus';
import { directPosition } from '@app/runtime';
import { createClickHouse, EventStoreRepository, migrateClickHouse, parseEventFilter, QueryStoreConsumer, releaseChdb } from '@app/query';
import { newRunId } from './support/audit-api';
import { dlqRecords } from './support/dlq';

/** A record's broker time, as Kafka keeps it: the same on every redelivery of that offset. */
const LOG_START_MS = Date.now();

/** Records as a direct producer writes them: no id, so the store derives one from the log position. */
function batchOf(
  values: string[],
  firstOffset: number,
  partition: number,
  generation: number,
  heartbeat: () => Promise<void> = async () => undefined,
): BusBatch {
  return {
    topic: TOPIC_EVENTS,
    partition,
    firstOffset: String(firstOffset),
    lastOffset: String(firstOffset + values.length - 1),
    generation,
    heartbeat,
    records: values.map((value, i) => ({
      topic: TOPIC_EVENTS,
      partition,
      offset: String(firstOffset + i),
      timestampMs: LOG_START_MS + firstOffset + i,
      key: null,
      value: Buffer.from(value),
      headers: {},
    })),
  };
}

/** A batch handed to the consumer as the host would, its DLQ records written to `bus`. */
const handleOn = (bus: EventBus, consumer: QueryStoreConsumer, batch: BusBatch): Promise<void> =>
  consumer.handle(batch, directPosition(bus, batch));

describe('QueryStoreConsumer redelivery on the chdb engine', () => {
  let dir: string;
  let ch: ClickHouseClient;
  let store: EventStoreRepository;
  let bus: FileLogBus;
  const runId = newRunId('redelivery');
  const direct = (n: number): string => JSON.stringify({ event_type: 'device_updated', metadata: { run_id: runId, n } });

  const stored = async (): Promise<string[]> => {
    const { filter, page } = parseEventFilter({ 'metadata.run_id': runId, limit: '1000' }, nowMicros());
    return (await store.search('default', filter, page)).events.map((e) => e.id);
  };

  const dlqOffsets = async (): Promise<string[]> =>
    (await dlqRecords(bus, TOPIC_EVENTS, 1)).map((r) => r.headers[DLQ_HEADERS.sourceOffset]);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-redelivery-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
    store = new EventStoreRepository(ch);
    bus = new FileLogBus({
      dir: path.join(dir, 'log'),
      fsync: false,
      segmentBytes: 1 << 20,
      maxBatchRecords: 1000,
      batchIntervalMs: 0,
      hotWindowMs: 3600_000,
    });
  });

  afterAll(async () => {
    await bus.close();
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should store a direct event once when its range comes back cut differently after a failure', async () => {
    const sut = new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'gateway-records' });
    const values = Array.from({ length: 10 }, (_, i) => direct(i));
    await handleOn(bus, sut, batchOf(values.slice(0, 5), 0, 0, 1));
    // Kafka re-fetches from the first unhandled offset; the range now reaches further, so the insert's dedup
    // token differs and only the id check can drop offsets 0-4.
    await handleOn(bus, sut, batchOf(values, 0, 0, 1));
    const ids = await stored();
    expect(ids.length).toBe(10);
    expect(new Set(ids).size).toBe(10);
  });

  it('should refuse a poison message once although its batch is retried, and again after a restart', async () => {
    const sut = new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'gateway-records' });
    const values = [direct(20), 'not json', direct(21)];
    let failOnce = true;
    const flaky = async (): Promise<void> => {
      if (failOnce) {
        failOnce = false;
        throw new Error('the store is unavailable');
      }
    };
    await expect(handleOn(bus, sut, batchOf(values, 0, 1, 1, flaky))).rejects.toThrow('the store is unavailable');
    await handleOn(bus, sut, batchOf(values, 0, 1, 1, flaky));
    await handleOn(bus, new QueryStoreConsumer(store, { defaultTenant: 'default', trust: 'gateway-records' }), batchOf(values, 0, 1, 1));
    expect(await dlqOffsets()).toEqual(['1']);
    expect((await stored()).length).toBe(12);
  });
});
