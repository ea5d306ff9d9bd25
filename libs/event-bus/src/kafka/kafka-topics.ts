import { ConfigError } from '@app/common';
import { TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: Array<{ name: string; value: string }>;
}

/** Which of the two topics a spec is: they need different settings. */
export type TopicRole = 'events' | 'dlq';

export interface TopicNames {
  events: string;
  dlq: string;
}

export const DEFAULT_TOPIC_NAMES: TopicNames = { events: TOPIC_EVENTS, dlq: TOPIC_EVENTS_DLQ };

const DAY_MS = 24 * 3600 * 1000;
/**
 * The topics' max.message.bytes: the largest record batch the broker accepts for one partition. 16 MiB holds
 * 256 events of the 64 KiB maximum (LIMITS.eventBytes), not a full ingest batch of 5000 such events (312 MiB):
 * what keeps a write under it is the publisher's byte bound, MAX_PUBLISH_BYTES, not the event count.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** How long a refused message stays on the DLQ: long enough for someone to act on it (the original stays on the event topic). */
export const DLQ_RETENTION_MS = 30 * DAY_MS;

/**
 * Compression codecs kafkajs 2.2.4 decodes without an extra codec package (`src/protocol/message/compression`:
 * None and GZIP; Snappy, LZ4 and ZSTD throw "not implemented"). `uncompressed` and `gzip` make the broker
 * rewrite every batch in that form whatever the producer sent; `producer` keeps the producer's codec.
 */
const DECODABLE_TOPIC_COMPRESSION = new Set(['gzip', 'uncompressed']);

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
 * The topics the services (or `npm run kafka:topics`) create when missing. The event topic is the system of
 * record: the broker deletes nothing by time or size (`retention.ms=-1`, `retention.bytes=-1`); what leaves
 * it is trimmed by `KafkaLogTrimmer` past the hot window and behind every registered consumer group.
 * `compression.type=gzip` makes the broker store every batch gzip-compressed whatever codec a direct producer
 * chose: kafkajs decodes only gzip natively, and an undecodable batch would wedge every consumer of the topic.
 * `LogAppendTime` makes the record timestamp the broker's receive time, which is what a direct producer's
 * event gets as `received_at` when it does not carry one, and the clock the hot window is measured on.
 */
export function topicSpecs(partitions: number, replicationFactor: number, names: TopicNames = DEFAULT_TOPIC_NAMES): TopicSpec[] {
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
      topic: names.events,
      numPartitions: partitions,
      replicationFactor,
      configEntries: [...shared, { name: 'retention.ms', value: '-1' }, { name: 'retention.bytes', value: '-1' }],
    },
    {
      // Low volume and read by people: one partition keeps it in arrival order.
      topic: names.dlq,
      numPartitions: 1,
      replicationFactor,
      configEntries: [...shared, { name: 'retention.ms', value: String(DLQ_RETENTION_MS) }],
    },
  ];
}

/** A topic setting that would lose events or stop consumers (`fatal`), or that weakens the rule (a warning). */
export interface TopicSettingProblem {
  topic: string;
  setting: string;
  found: string;
  needed: string;
  why: string;
  fatal: boolean;
}

export interface FoundTopic {
  /** The topic's effective settings (its own or the broker's defaults), as `describeConfigs` reports them. */
  config: Record<string, string | undefined>;
  /** The smallest replica count among its partitions. */
  replicas: number;
}

const days = (ms: number): string => `${+(ms / DAY_MS).toFixed(2)} days`;

/**
 * Checks an existing topic's settings against what the log's guarantees need. Pure, so every rule has a unit
 * test; `verifyTopics` feeds it what the broker reports. Only what loses events, lets an acknowledged write
 * be lost, or wedges producers or consumers is fatal: a pre-created topic may differ in anything else.
 */
export function checkTopicSettings(role: TopicRole, topic: string, found: FoundTopic, hotWindowMs: number): TopicSettingProblem[] {
  const problems: TopicSettingProblem[] = [];
  const value = (name: string): string => found.config[name] ?? '(unset)';
  const problem = (setting: string, needed: string, why: string, fatal = true): void => {
    problems.push({ topic, setting, found: value(setting), needed, why, fatal });
  };

  if (value('cleanup.policy') !== 'delete') {
    problem(
      'cleanup.policy',
      'delete',
      role === 'events'
        ? 'compaction keeps only the last record of each key, so every earlier event of a device would be lost'
        : 'compaction keeps only the last refused message of each key',
    );
  }
  if (value('unclean.leader.election.enable') === 'true') {
    problem('unclean.leader.election.enable', 'false', 'an out-of-sync replica elected leader drops acknowledged records');
  }
  const minIsr = Number(value('min.insync.replicas'));
  if (Number.isFinite(minIsr) && minIsr > found.replicas) {
    problem(
      'min.insync.replicas',
      `at most ${found.replicas} (the replica count)`,
      'every write with acks=-1 fails with NOT_ENOUGH_REPLICAS, so nothing can be published',
    );
  } else if (Number.isFinite(minIsr) && minIsr < minInsyncReplicas(found.replicas)) {
    problem(
      'min.insync.replicas',
      `at least ${minInsyncReplicas(found.replicas)} with ${found.replicas} replicas`,
      'a write acknowledged by one broker alone is lost if that broker dies',
    );
  }
  const maxMessage = Number(value('max.message.bytes'));
  if (Number.isFinite(maxMessage) && maxMessage < MAX_MESSAGE_BYTES) {
    problem(
      'max.message.bytes',
      `at least ${MAX_MESSAGE_BYTES}`,
      role === 'events'
        ? "the broker refuses the ingest gateway's larger batches (MESSAGE_TOO_LARGE)"
        : 'a refused message as large as the event topic allows could not be written to the DLQ, and its consumer would stop on it',
    );
  }
  if (role === 'dlq') return problems;

  const retentionMs = Number(value('retention.ms'));
  if (value('retention.ms') !== '-1' && Number.isFinite(retentionMs)) {
    if (retentionMs < hotWindowMs) {
      problem(
        'retention.ms',
        `-1, or at least the hot window (${hotWindowMs}: AUDIT_LOG_HOT_DAYS=${+(hotWindowMs / DAY_MS).toFixed(2)})`,
        `the broker would delete events after ${days(retentionMs)}, inside the hot window and whether the consumer groups have read them or not`,
      );
    } else {
      problem(
        'retention.ms',
        '-1 (the trimmer deletes past the hot window once every registered group has processed it)',
        `the broker deletes events after ${days(retentionMs)} even when a consumer group has not read them`,
        false,
      );
    }
  }
  if (value('retention.bytes') !== '-1') {
    problem(
      'retention.bytes',
      '-1',
      'the broker would delete the oldest events by size, inside the hot window and before the consumers read them',
    );
  }
  if (!DECODABLE_TOPIC_COMPRESSION.has(value('compression.type'))) {
    problem(
      'compression.type',
      'gzip (or uncompressed)',
      value('compression.type') === 'producer'
        ? 'batches keep the codec the producer chose, and a direct producer using lz4, zstd or snappy stops every kafkajs consumer'
        : 'kafkajs 2.2.4 cannot decode this codec, so every consumer stops at the first batch',
    );
  }
  if (value('message.timestamp.type') !== 'LogAppendTime') {
    problem(
      'message.timestamp.type',
      'LogAppendTime',
      "a direct producer's event gets the record timestamp as received_at, and the hot window is measured on it: with CreateTime both are the producer's claim",
    );
  }
  return problems;
}

const describe = (p: TopicSettingProblem): string => `${p.topic} has ${p.setting}=${p.found}, needs ${p.needed}: ${p.why}`;

/**
 * A topic whose settings would lose events or wedge consumers: the service refuses to start (exit 2, like a
 * bad variable). The message names each setting, the value found and the value needed.
 */
export class KafkaTopicSettingsError extends ConfigError {
  readonly code = 'KAFKA_TOPIC_SETTINGS';

  constructor(readonly problems: TopicSettingProblem[]) {
    super(
      `topic ${problems[0].topic}`,
      `settings would lose events or stop consumers: ${problems.map(describe).join('; ')}. ` +
        'Fix them with kafka-configs.sh --alter (or create the topics with `npm run kafka:topics` before the services start).',
    );
  }
}

export const describeTopicProblem = describe;
