import { TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { minInsyncReplicas, topicSpecs } from './kafka-topics';

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
