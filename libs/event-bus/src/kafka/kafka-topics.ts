import { TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: Array<{ name: string; value: string }>;
}

const DAY_MS = 24 * 3600 * 1000;
/**
 * The topics' max.message.bytes: the largest record batch the broker accepts for one partition. 16 MiB holds
 * 256 events of the 64 KiB maximum (LIMITS.eventBytes), not a full ingest batch of 5000 such events (312 MiB):
 * what keeps a write under it is the publisher's byte bound, MAX_PUBLISH_BYTES, not the event count.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * The most one publish carries (values, keys and headers), half of MAX_MESSAGE_BYTES: if every record of a
 * flush landed on one partition, its batch (plus Kafka's tens of bytes per record) would still fit the topic's
 * limit, and the produce request stays far below the broker's socket.request.max.bytes (100 MiB by default).
 * 8 MiB is 128 events of the maximum size, or about 20,000 of a typical 400 bytes, so ordinary flushes are
 * still cut by their count (5000) and only unusually large events make more, smaller writes.
 */
export const MAX_PUBLISH_BYTES = 8 * 1024 * 1024;

/**
 * With three or more replicas, an acknowledged write is on at least two brokers; with fewer, requiring every
 * replica would turn any single broker restart into an ingest outage, so one fewer than the replica count.
 */
export function minInsyncReplicas(replicationFactor: number): number {
  return replicationFactor >= 3 ? 2 : Math.max(1, replicationFactor - 1);
}

/**
 * The topics the services create at start-up when missing. The event topic is the system of record, so it
 * keeps everything (stores are projections rebuilt by replaying it; their retention is their own).
 * `compression.type=gzip` makes the broker store every batch gzip-compressed whatever codec a direct producer
 * chose: kafkajs decodes only gzip natively, and an undecodable batch would wedge every consumer of the topic.
 * `LogAppendTime` makes the record timestamp the broker's receive time, which is what a direct producer's
 * event gets as `received_at` when it does not carry one.
 */
export function topicSpecs(partitions: number, replicationFactor: number): TopicSpec[] {
  const shared = [
    { name: 'cleanup.policy', value: 'delete' },
    { name: 'min.insync.replicas', value: String(minInsyncReplicas(replicationFactor)) },
    { name: 'unclean.leader.election.enable', value: 'false' },
    { name: 'compression.type', value: 'gzip' },
    { name: 'message.timestamp.type', value: 'LogAppendTime' },
    { name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) },
  ];
  return [
    {
      topic: TOPIC_EVENTS,
      numPartitions: partitions,
      replicationFactor,
      configEntries: [...shared, { name: 'retention.ms', value: '-1' }, { name: 'retention.bytes', value: '-1' }],
    },
    {
      // Low volume and read by people: one partition keeps it in arrival order. The refused message also
      // stays on the event topic, so the DLQ copy only needs to live long enough for someone to act on it.
      topic: TOPIC_EVENTS_DLQ,
      numPartitions: 1,
      replicationFactor,
      configEntries: [...shared, { name: 'retention.ms', value: String(30 * DAY_MS) }],
    },
  ];
}
