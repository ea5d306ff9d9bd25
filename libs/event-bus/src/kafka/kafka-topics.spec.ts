import { LIMITS, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { MAX_MESSAGE_BYTES, MAX_PUBLISH_BYTES, minInsyncReplicas, topicSpecs } from './kafka-topics';

const config = (entries: Array<{ name: string; value: string }>): Record<string, string> =>
  Object.fromEntries(entries.map((e) => [e.name, e.value]));

describe('topicSpecs', () => {
  it('should create the event topic with the configured partitions, kept forever', () => {
    const [events] = topicSpecs(12, 3);
    expect(events.topic).toBe(TOPIC_EVENTS);
    expect(events.numPartitions).toBe(12);
    expect(events.replicationFactor).toBe(3);
    expect(config(events.configEntries)).toMatchObject({ 'retention.ms': '-1', 'min.insync.replicas': '2', 'compression.type': 'gzip' });
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
