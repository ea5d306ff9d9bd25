import { LIMITS, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { ConfigError } from '@app/common';
import {
  checkTopicSettings,
  KafkaTopicSettingsError,
  MAX_MESSAGE_BYTES,
  MAX_PUBLISH_BYTES,
  minInsyncReplicas,
  TopicSpec,
  topicSpecs,
} from './kafka-topics';

const WEEK = 7 * 24 * 3600 * 1000;

const config = (entries: Array<{ name: string; value: string }>): Record<string, string> =>
  Object.fromEntries(entries.map((e) => [e.name, e.value]));

describe('topicSpecs', () => {
  it('should create the event topic with the configured partitions, never deleted by the broker', () => {
    const [events] = topicSpecs(12, 3);
    expect(events.topic).toBe(TOPIC_EVENTS);
    expect(events.numPartitions).toBe(12);
    expect(events.replicationFactor).toBe(3);
    expect(config(events.configEntries)).toMatchObject({
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'min.insync.replicas': '2',
      'compression.type': 'gzip',
    });
  });

  it('should create a one-partition DLQ with a bounded retention', () => {
    const dlq = topicSpecs(6, 1)[1];
    expect(dlq.topic).toBe(TOPIC_EVENTS_DLQ);
    expect(dlq.numPartitions).toBe(1);
    expect(Number(config(dlq.configEntries)['retention.ms'])).toBeGreaterThan(0);
  });
});

describe('minInsyncReplicas', () => {
  it('should keep writes possible with one broker down', () => {
    expect([1, 2, 3, 5].map(minInsyncReplicas)).toEqual([1, 1, 2, 2]);
  });
});

describe('write size limits', () => {
  it('should bound a publish so that it fits the topic limit even when it all lands on one partition', () => {
    // Kafka's record overhead is at most about 70 bytes a record (varints, attributes, header framing); a
    // write holds at most MAX_PUBLISH_BYTES / (smallest record) records.
    const smallestRecord = 200;
    const worstOverhead = (MAX_PUBLISH_BYTES / smallestRecord) * 70 + 61;
    expect(MAX_PUBLISH_BYTES + worstOverhead).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    for (const spec of topicSpecs(6, 3)) {
      expect(Number(config(spec.configEntries)['max.message.bytes'])).toBe(MAX_MESSAGE_BYTES);
    }
  });

  it('should fit the largest event the gateway accepts in one write, though not 5000 of them', () => {
    expect(LIMITS.eventBytes).toBeLessThan(MAX_PUBLISH_BYTES);
    expect(Math.floor(MAX_MESSAGE_BYTES / LIMITS.eventBytes)).toBe(256);
  });
});

describe(checkTopicSettings.name, () => {
  /** What the broker reports for a topic created from our own spec (broker defaults filled in). */
  const asCreated = (spec: TopicSpec, over: Record<string, string> = {}) => ({
    config: { 'retention.bytes': '-1', ...config(spec.configEntries), ...over },
    replicas: spec.replicationFactor,
  });
  const [events, dlq] = topicSpecs(6, 3);
  const settings = (problems: ReturnType<typeof checkTopicSettings>) => problems.map((p) => [p.setting, p.found, p.fatal]);

  it('should accept the topics as the services create them', () => {
    expect(checkTopicSettings('events', events.topic, asCreated(events), WEEK)).toEqual([]);
    expect(checkTopicSettings('dlq', dlq.topic, asCreated(dlq), WEEK)).toEqual([]);
  });

  it('should refuse a compacted event topic or DLQ', () => {
    expect(settings(checkTopicSettings('events', events.topic, asCreated(events, { 'cleanup.policy': 'compact' }), WEEK))).toEqual([
      ['cleanup.policy', 'compact', true],
    ]);
    expect(settings(checkTopicSettings('dlq', dlq.topic, asCreated(dlq, { 'cleanup.policy': 'compact,delete' }), WEEK))).toEqual([
      ['cleanup.policy', 'compact,delete', true],
    ]);
  });

  it('should refuse a retention inside the hot window, and only warn about one beyond it', () => {
    const hour = checkTopicSettings('events', events.topic, asCreated(events, { 'retention.ms': '3600000' }), WEEK);
    expect(settings(hour)).toEqual([['retention.ms', '3600000', true]]);
    expect(hour[0].needed).toContain('604800000');
    expect(settings(checkTopicSettings('events', events.topic, asCreated(events, { 'retention.ms': String(WEEK) }), WEEK))).toEqual([
      ['retention.ms', String(WEEK), false],
    ]);
    expect(settings(checkTopicSettings('events', events.topic, asCreated(events, { 'retention.bytes': '1073741824' }), WEEK))).toEqual([
      ['retention.bytes', '1073741824', true],
    ]);
  });

  it('should refuse codecs kafkajs cannot decode, and the producer codec', () => {
    for (const codec of ['zstd', 'lz4', 'snappy', 'producer']) {
      expect(settings(checkTopicSettings('events', events.topic, asCreated(events, { 'compression.type': codec }), WEEK))).toEqual([
        ['compression.type', codec, true],
      ]);
    }
    expect(checkTopicSettings('events', events.topic, asCreated(events, { 'compression.type': 'uncompressed' }), WEEK)).toEqual([]);
    // only the gateway writes the DLQ, uncompressed
    expect(checkTopicSettings('dlq', dlq.topic, asCreated(dlq, { 'compression.type': 'producer' }), WEEK)).toEqual([]);
  });

  it('should refuse CreateTime on the event topic', () => {
    expect(
      settings(checkTopicSettings('events', events.topic, asCreated(events, { 'message.timestamp.type': 'CreateTime' }), WEEK)),
    ).toEqual([['message.timestamp.type', 'CreateTime', true]]);
  });

  it('should refuse min.insync.replicas above the replica count, or too low to keep an acknowledged write', () => {
    const above = checkTopicSettings('events', events.topic, { ...asCreated(events), replicas: 1 }, WEEK);
    expect(settings(above)).toEqual([['min.insync.replicas', '2', true]]);
    expect(above[0].why).toContain('NOT_ENOUGH_REPLICAS');
    expect(settings(checkTopicSettings('dlq', dlq.topic, asCreated(dlq, { 'min.insync.replicas': '1' }), WEEK))).toEqual([
      ['min.insync.replicas', '1', true],
    ]);
    expect(
      settings(checkTopicSettings('events', events.topic, asCreated(events, { 'unclean.leader.election.enable': 'true' }), WEEK)),
    ).toEqual([['unclean.leader.election.enable', 'true', true]]);
  });

  it("should refuse a max.message.bytes below the gateway's largest produce", () => {
    expect(settings(checkTopicSettings('events', events.topic, asCreated(events, { 'max.message.bytes': '1048588' }), WEEK))).toEqual([
      ['max.message.bytes', '1048588', true],
    ]);
    expect(checkTopicSettings('dlq', dlq.topic, asCreated(dlq, { 'max.message.bytes': String(MAX_MESSAGE_BYTES) }), WEEK)).toEqual([]);
  });

  it('should name the topic, the setting, the value found and the value needed in a ConfigError', () => {
    const problems = checkTopicSettings('events', events.topic, asCreated(events, { 'cleanup.policy': 'compact' }), WEEK);
    const error = new KafkaTopicSettingsError(problems);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('KAFKA_TOPIC_SETTINGS');
    expect(error.message).toContain(`${TOPIC_EVENTS} has cleanup.policy=compact, needs delete`);
  });
});
