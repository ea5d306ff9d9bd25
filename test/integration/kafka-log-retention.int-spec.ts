import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Admin, ConfigResourceTypes, Producer } from 'kafkajs';
import pino from 'pino';
import { ensureKafkaTopics, KafkaBus, KafkaLogTrimmer, KafkaTopicSettingsError } from '@app/event-bus';
import { newRunId } from './support/audit-api';
import { KAFKA_BROKERS, ROOT } from './support/environment';
import { acquireExclusive } from './support/exclusive-lock';
import { testKafka, testProducer } from './support/kafka-producer';

const DAY = 24 * 3600 * 1000;
const WEEK = 7 * DAY;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The system of record on Kafka: the topic settings the services refuse, and the trimmer's rule. */
describe('the Kafka log as the system of record', () => {
  let release: (() => void) | undefined;
  let admin: Admin;
  let producer: Producer;
  const runId = newRunId('log');
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const buses: KafkaBus[] = [];

  const lowWatermarks = async (topic: string): Promise<number[]> =>
    (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.low));

  beforeAll(async () => {
    release = await acquireExclusive();
    const kafka = testKafka('audit-int-log-admin');
    admin = kafka.admin();
    await admin.connect();
    producer = testProducer(kafka);
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    for (const b of buses) await b.close();
    await producer.disconnect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(runId));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    const { groups } = await admin.listGroups();
    const myGroups = groups.map((g) => g.groupId).filter((g) => g.startsWith(runId));
    if (myGroups.length > 0) await admin.deleteGroups(myGroups).catch(() => undefined);
    await admin.disconnect();
    release?.();
  }, 60_000);

  describe('topic settings at start-up', () => {
    const precreate = async (name: string, configEntries: Array<{ name: string; value: string }>): Promise<void> => {
      await admin.createTopics({ topics: [{ topic: name, numPartitions: 6, replicationFactor: 1, configEntries }], waitForLeaders: true });
    };

    it('should refuse to start on a compacted event topic, naming the setting', async () => {
      const names = { events: `${runId}-compact`, dlq: `${runId}-compact-dlq` };
      await precreate(names.events, [{ name: 'cleanup.policy', value: 'compact' }]);
      const bus = new KafkaBus({
        brokers: KAFKA_BROKERS.split(','),
        clientId: 'audit-int-log',
        partitions: 6,
        replicationFactor: 1,
        hotWindowMs: WEEK,
        topicNames: names,
        maxBatchRecords: 1000,
        logger,
      });
      buses.push(bus);
      await bus.connect();
      const refused = bus.ensureTopics();
      await expect(refused).rejects.toBeInstanceOf(KafkaTopicSettingsError);
      await expect(refused).rejects.toThrow(`${names.events} has cleanup.policy=compact, needs delete`);
    });

    it('should refuse a retention.ms of an hour with a seven-day hot window, and accept the topics it creates itself', async () => {
      const short = { events: `${runId}-hour`, dlq: `${runId}-hour-dlq` };
      await precreate(short.events, [
        { name: 'retention.ms', value: '3600000' },
        { name: 'compression.type', value: 'gzip' },
        { name: 'message.timestamp.type', value: 'LogAppendTime' },
        { name: 'max.message.bytes', value: String(16 * 1024 * 1024) },
      ]);
      const refused = ensureKafkaTopics(admin, { partitions: 6, replicationFactor: 1, hotWindowMs: WEEK, names: short, logger });
      await expect(refused).rejects.toThrow(/has retention\.ms=3600000, needs -1, or at least the hot window \(604800000/);
      const error = (await refused.catch((e: unknown) => e)) as KafkaTopicSettingsError;
      expect(error.problems.map((p) => `${p.topic} ${p.setting}`)).toEqual([`${short.events} retention.ms`]);

      const fresh = { events: `${runId}-fresh`, dlq: `${runId}-fresh-dlq` };
      const created = await ensureKafkaTopics(admin, { partitions: 3, replicationFactor: 1, hotWindowMs: WEEK, names: fresh, logger });
      expect(created).toEqual({ created: [fresh.events, fresh.dlq], warnings: [] });
      await expect(
        ensureKafkaTopics(admin, { partitions: 3, replicationFactor: 1, hotWindowMs: WEEK, names: fresh, logger }),
      ).resolves.toEqual({
        created: [],
        warnings: [],
      });
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: fresh.events }],
      });
      const config = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
      expect(config).toMatchObject({
        'retention.ms': '-1',
        'retention.bytes': '-1',
        'cleanup.policy': 'delete',
        'compression.type': 'gzip',
      });
    });
  });

  describe(KafkaLogTrimmer.name, () => {
    const topic = `${runId}-trim`;
    const fast = `${runId}-fast`;
    const slow = `${runId}-slow`;
    const trimmer = (registeredGroups: string[] = []): KafkaLogTrimmer =>
      new KafkaLogTrimmer({ admin, topic, hotWindowMs: WEEK, registeredGroups, logger });

    beforeAll(async () => {
      // CreateTime, so the test can date its records; retention.ms=-1, so the broker deletes none itself.
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 2,
            replicationFactor: 1,
            configEntries: [
              { name: 'message.timestamp.type', value: 'CreateTime' },
              { name: 'retention.ms', value: '-1' },
            ],
          },
        ],
        waitForLeaders: true,
      });
      const at = (ageMs: number, partition: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({ partition, value: `${partition}-${i}`, timestamp: String(Date.now() - ageMs) }));
      // partition 0: offsets 0-9 ten days old, 10-19 one day old; partition 1: offsets 0-9 ten days old
      await producer.send({ topic, acks: -1, messages: [...at(10 * DAY, 0, 10), ...at(DAY, 0, 10), ...at(10 * DAY, 1, 10)] });
      await admin.setOffsets({
        groupId: fast,
        topic,
        partitions: [
          { partition: 0, offset: '20' },
          { partition: 1, offset: '10' },
        ],
      });
      await admin.setOffsets({
        groupId: slow,
        topic,
        partitions: [
          { partition: 0, offset: '4' },
          { partition: 1, offset: '10' },
        ],
      });
    }, 60_000);

    it('should delete nothing while a configured group that has committed nothing holds the topic', async () => {
      const report = await trimmer([`${runId}-not-started`]).trimOnce();
      expect(report.deletedRecords).toBe(0);
      expect(report.partitions.map((p) => p.heldBy)).toEqual([`${runId}-not-started`, `${runId}-not-started`]);
      expect(await lowWatermarks(topic)).toEqual([0, 0]);
    });

    it('should delete only what every registered group has processed and what is older than the hot window', async () => {
      // given 'slow' at offset 4 of partition 0: it holds partition 0 there; partition 1 is processed and old
      const first = await trimmer().trimOnce();
      expect(first.groups).toEqual(expect.arrayContaining([fast, slow]));
      expect(first.partitions).toEqual([
        { partition: 0, from: 0, to: 4, heldBy: slow },
        { partition: 1, from: 0, to: 10, heldBy: 'hot window' },
      ]);
      expect(await lowWatermarks(topic)).toEqual([4, 10]);

      // when 'slow' moves past the old records, the one-day-old ones still stay: the hot window holds them
      await admin.setOffsets({
        groupId: slow,
        topic,
        partitions: [
          { partition: 0, offset: '15' },
          { partition: 1, offset: '10' },
        ],
      });
      // two replicas trimming at once agree, and neither fails
      const [a, b] = await Promise.all([trimmer().trimOnce(), trimmer().trimOnce()]);
      expect(a.partitions.map((p) => p.to)).toEqual([10, 10]);
      expect(b.partitions.map((p) => p.to)).toEqual([10, 10]);
      expect(await lowWatermarks(topic)).toEqual([10, 10]);

      // and running again changes nothing
      const again = await trimmer().trimOnce();
      expect(again.deletedRecords).toBe(0);
      expect(await lowWatermarks(topic)).toEqual([10, 10]);
    });

    it('should start a new consumer group at the oldest record held, and say so', async () => {
      const bus = new KafkaBus({
        brokers: KAFKA_BROKERS.split(','),
        clientId: 'audit-int-log',
        partitions: 2,
        replicationFactor: 1,
        hotWindowMs: WEEK,
        maxBatchRecords: 1000,
        logger,
      });
      buses.push(bus);
      await bus.connect();
      const late = `${runId}-late`;
      const first = new Map<number, string>();
      await bus.subscribe(late, async (batch) => void (first.has(batch.partition) || first.set(batch.partition, batch.firstOffset)), {
        topic,
        fromBeginning: true,
      });
      for (let i = 0; i < 300 && !first.has(0); i++) await sleep(100);
      expect(first.get(0)).toBe('10');
      expect(lines.find((l) => l.group === late)).toMatchObject({
        topic,
        start_offsets: { 0: 10, 1: 10 },
        msg: 'a new consumer group starts at the oldest record held; older records are only in the archives',
      });
      const health = await bus.health();
      expect(health.detail.oldest_offsets).toEqual({ [topic]: { 0: 10, 1: 10 } });
    }, 60_000);
  });

  it('should create or check the default topics with npm run kafka:topics, as the Job does', () => {
    const run = spawnSync('node', [path.join(ROOT, 'dist/apps/ingest-gateway/src/create-topics.js')], {
      env: { PATH: process.env.PATH, KAFKA_BROKERS, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // kafkajs 2.2.4 arms a timer with a negative delay, which Node 24 warns about (docs/deployment.md): harmless.
    const stderr = run.stderr.replace(
      /\(node:\d+\) TimeoutNegativeWarning:[^\n]*\n(Timeout duration[^\n]*\n)?(\(Use `node --trace-warnings[^\n]*\n)?/g,
      '',
    );
    expect(stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as { created: string[]; warnings: string[] };
    expect(out.warnings).toEqual([]);
    expect(Array.isArray(out.created)).toBe(true);
  });
});
