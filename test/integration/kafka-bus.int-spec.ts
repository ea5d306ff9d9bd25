import { Admin, ConfigResourceTypes } from 'kafkajs';
import { LogWriteRejectedError, TOPIC_EVENTS, TOPIC_EVENTS_DLQ, UnavailableError } from '@app/contracts';
import { createLogger } from '@app/common';
import { BusBatch, KafkaBus, KafkaBusOptions } from '@app/event-bus';
import { newRunId } from './support/audit-api';
import { KAFKA_BROKERS } from './support/environment';
import { acquireExclusive } from './support/exclusive-lock';
import { testKafka } from './support/kafka-producer';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe(KafkaBus.name, () => {
  let release: (() => void) | undefined;
  let admin: Admin;
  const buses: KafkaBus[] = [];
  const runId = newRunId('bus');
  const logger = createLogger('error', 'kafka-bus-test');

  const newBus = async (over: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> => {
    const bus = new KafkaBus({
      brokers: KAFKA_BROKERS.split(','),
      clientId: 'audit-int-bus',
      partitions: 6,
      replicationFactor: 1,
      hotWindowMs: 7 * 24 * 3600 * 1000,
      maxBatchRecords: 10_000,
      logger,
      ...over,
    });
    buses.push(bus);
    await bus.connect();
    return bus;
  };

  const createTopic = async (name: string, partitions: number): Promise<void> => {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  };

  beforeAll(async () => {
    release = await acquireExclusive();
    admin = testKafka('audit-int-bus-admin').admin();
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    for (const b of buses) await b.close();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(runId));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
    release?.();
  }, 60_000);

  it('should create the event topic and the DLQ with their settings at start-up', async () => {
    const bus = await newBus();
    await bus.ensureTopics();
    await bus.ensureTopics();
    const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC_EVENTS, TOPIC_EVENTS_DLQ] });
    expect(topics.find((t) => t.name === TOPIC_EVENTS_DLQ)?.partitions.length).toBe(1);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC_EVENTS }],
    });
    const config = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    expect(config).toMatchObject({
      'retention.ms': '-1',
      'compression.type': 'gzip',
      'message.timestamp.type': 'LogAppendTime',
      'cleanup.policy': 'delete',
    });
  });

  it('should refuse a record the topic cannot take as a permanent error, leaving the circuit closed', async () => {
    // given a topic that takes at most 2 KiB per batch
    const topic = `${runId}.small`;
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
      waitForLeaders: true,
    });
    const bus = await newBus();
    // when a 4 KiB record is written
    const err = await bus.publish(topic, [{ key: 'k', value: 'x'.repeat(4096) }]).catch((e: unknown) => e);
    // then the broker's MESSAGE_TOO_LARGE arrives as a non-retryable refusal, not as a 503
    expect(err).toBeInstanceOf(LogWriteRejectedError);
    expect(err).not.toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ status: 422, reason: 'MESSAGE_TOO_LARGE' });
    // and the bus still writes what fits: the refusal said nothing about the broker's health
    await expect(bus.publish(topic, [{ key: 'k', value: 'small' }])).resolves.toBeUndefined();
    expect((await bus.health()).detail.publish_circuit).toBe('closed');
  });

  it('should redeliver a failed batch from its first offset after a back-off and commit only what was handled', async () => {
    const topic = `${runId}-retry`;
    await createTopic(topic, 3);
    const errors: number[] = [];
    const bus = await newBus({ onHandlerError: (_g, _e, attempt) => errors.push(attempt) });
    const records = Array.from({ length: 600 }, (_, i) => ({ key: `k${i % 30}`, value: JSON.stringify({ i }) }));
    await bus.publish(topic, records);

    const deliveries: Array<{ at: number; batch: BusBatch; failed: boolean }> = [];
    const handled = new Map<number, string[]>();
    let failuresLeft = 2;
    let failingPartition: number | undefined;
    await bus.subscribe(
      `${runId}-retry-group`,
      async (batch) => {
        failingPartition ??= batch.partition;
        const fail = batch.partition === failingPartition && failuresLeft > 0;
        deliveries.push({ at: Date.now(), batch, failed: fail });
        if (fail) {
          failuresLeft--;
          throw new Error('the store is down');
        }
        handled.set(batch.partition, [...(handled.get(batch.partition) ?? []), ...batch.records.map((r) => r.offset)]);
      },
      { topic, fromBeginning: true },
    );
    await until(() => [...handled.values()].reduce((n, o) => n + o.length, 0) >= 600, 60_000, 'all records to be handled');

    const onFailing = deliveries.filter((d) => d.batch.partition === failingPartition);
    expect(onFailing.slice(0, 3).map((d) => d.failed)).toEqual([true, true, false]);
    expect(new Set(onFailing.slice(0, 3).map((d) => d.batch.firstOffset)).size).toBe(1);
    expect(onFailing[1].at - onFailing[0].at).toBeGreaterThanOrEqual(100);
    expect(errors).toEqual([0, 1]);
    for (const [, offsets] of handled) expect(offsets).toEqual(offsets.map((_, i) => String(i)));

    // The commit follows each handled batch; the last one may still be on its way.
    const ends = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((e) => e.high);
    let committed: string[] = [];
    for (let i = 0; i < 50; i++) {
      const [c] = await admin.fetchOffsets({ groupId: `${runId}-retry-group`, topics: [topic] });
      committed = c.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset);
      if (committed.join() === ends.join()) break;
      await sleep(100);
    }
    expect(committed).toEqual(ends);
  });

  it('should start a new group that asks for the end at the end as of subscribe: what is published once it returns is consumed', async () => {
    const topic = `${runId}-from-end`;
    await createTopic(topic, 3);
    const bus = await newBus();
    await bus.publish(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ before: i }) })),
    );
    const seen: string[] = [];
    await bus.subscribe(`${runId}-from-end-group`, async (batch) => void seen.push(...batch.records.map((r) => r.value.toString())), {
      topic,
      fromBeginning: false,
    });
    // At once, before the group has joined and fetched (kafkajs alone would take "latest" at that first fetch).
    await bus.publish(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ after: i }) })),
    );
    await until(() => seen.length >= 30, 60_000, 'the records published after subscribe');
    await sleep(300);
    expect(seen.map((v) => JSON.parse(v)).sort((a, b) => a.after - b.after)).toEqual(Array.from({ length: 30 }, (_, i) => ({ after: i })));
  });

  it('should try a failed batch again at once on retryNow, however long the back-off', async () => {
    // given a back-off of ten minutes: a retry that comes within the wait below came from retryNow
    const topic = `${runId}-retry-now`;
    await createTopic(topic, 1);
    const bus = await newBus({ retryBackoff: { baseMs: 600_000, maxMs: 600_000 } });
    await bus.publish(topic, [{ key: 'k', value: 'a' }]);
    const seen: Array<{ offset: string; failed: boolean }> = [];
    const sub = await bus.subscribe(
      `${runId}-retry-now-group`,
      async (batch) => {
        const failed = seen.length === 0;
        seen.push({ offset: batch.firstOffset, failed });
        if (failed) throw new Error('paused');
      },
      { topic, fromBeginning: true },
    );
    await until(() => seen.length === 1, 60_000, 'the first, failing delivery');
    // when the cause is gone
    sub.retryNow?.();
    // then the same records come again at once
    await until(() => seen.length === 2, 20_000, 'the retry');
    expect(seen).toEqual([
      { offset: '0', failed: true },
      { offset: '0', failed: false },
    ]);
    await sub.close();
  }, 90_000);

  it('should give batches a new generation after a rebalance, so per-partition caches are rebuilt', async () => {
    const topic = `${runId}-rebalance`;
    const group = `${runId}-rebalance-group`;
    await createTopic(topic, 4);
    const producerBus = await newBus();
    const seenByFirst: Array<{ partition: number; generation: number | undefined }> = [];
    const seenBySecond: number[] = [];
    const first = await newBus();
    await first.subscribe(group, async (b) => void seenByFirst.push({ partition: b.partition, generation: b.generation }), {
      topic,
      fromBeginning: true,
    });
    await producerBus.publish(
      topic,
      Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    await until(() => seenByFirst.length > 0, 30_000, 'the first member to consume');
    const before = Math.max(...seenByFirst.map((s) => s.generation ?? 0));

    const second = await newBus();
    await second.subscribe(group, async (b) => void seenBySecond.push(b.partition), { topic, fromBeginning: true });
    const firstCount = seenByFirst.length;
    for (let round = 0; round < 60 && (seenBySecond.length === 0 || seenByFirst.length === firstCount); round++) {
      await producerBus.publish(
        topic,
        Array.from({ length: 40 }, (_, i) => ({ key: `k${round}-${i}`, value: String(i) })),
      );
      await sleep(500);
    }
    expect(seenBySecond.length).toBeGreaterThan(0);
    const after = seenByFirst.slice(firstCount);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => (s.generation ?? 0) > before)).toBe(true);
    expect(after.some((s) => seenBySecond.includes(s.partition))).toBe(false);
  });
});
