import {
  Admin,
  CompressionTypes,
  Consumer,
  EachBatchPayload,
  Kafka,
  KafkaMessage,
  LogEntry,
  logLevel,
  Partitioners,
  Producer,
} from 'kafkajs';
import { Logger } from 'pino';
import { KafkaSecurityConfig } from '@app/common';
import { LogWriteRejectedError, TOPIC_EVENTS, UnavailableError } from '@app/contracts';
import { backoffDelayMs } from '../backoff';
import {
  BatchHandler,
  BusBatch,
  BusHealth,
  BusRecord,
  EventBus,
  OutgoingRecord,
  RetryBackoff,
  SubscribeOptions,
  Subscription,
} from '../event-bus.port';
import { CircuitBreaker } from './circuit-breaker';
import { kafkaSecurityOptions } from './kafka-security';
import { KafkaLogTrimmer, KafkaLogTrimmerOptions } from './kafka-log-trimmer';
import { ensureKafkaTopics, EnsureTopicsResult } from './kafka-topic-admin';
import { DEFAULT_TOPIC_NAMES, TopicNames } from './kafka-topics';

export interface KafkaFetchSettings {
  /** The broker answers a fetch once this much is waiting, or after `maxWaitTimeInMs`: few, large inserts. */
  minBytes: number;
  maxWaitTimeInMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
}

export interface KafkaBusOptions extends KafkaSecurityConfig {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  /** The log's hot window: the event topic's settings must not delete inside it (see ensureTopics). */
  hotWindowMs: number;
  /** The event topic and its DLQ (tests use their own). */
  topicNames?: TopicNames;
  /** A handler gets at most this many records at once; a bigger fetched batch is split. */
  maxBatchRecords: number;
  /**
   * How many partitions' batches are handed to the handler at once (default: all of the topic's partitions),
   * so a handler can store several partitions' batches in one write. Each partition still has at most one
   * batch in flight, so its records stay in order.
   */
  partitionsConsumedConcurrently?: number;
  logger: Logger;
  /** A publish not acknowledged within this time fails (503) instead of holding the request. */
  publishTimeoutMs?: number;
  /** Per request to a broker on the publish path; connection refusals fail at once regardless. */
  produceRequestTimeoutMs?: number;
  fetch?: Partial<KafkaFetchSettings>;
  /** The delay before a failed batch comes again (default 200 ms doubling up to 30 s). */
  retryBackoff?: RetryBackoff;
  onHandlerError?: (group: string, error: unknown, attempt: number, delayMs: number) => void;
  /** kafkajs gave up on a consumer (a non-retriable error): nothing will consume until the process restarts. */
  onConsumerFatal?: (group: string, error: unknown) => void;
}

export const DEFAULT_FETCH: KafkaFetchSettings = {
  // At most two inserts a second when the load is light (the store merges the partitions of one fetch), and
  // an event waits at most half a second for its fetch.
  minBytes: 512 * 1024,
  maxWaitTimeInMs: 500,
  maxBytes: 16 * 1024 * 1024,
  maxBytesPerPartition: 2 * 1024 * 1024,
};

/** Errors about the request itself: retrying cannot help, and they say nothing about the broker's health. */
const REQUEST_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
]);
/** Group-membership errors: kafkajs rejoins the group when they reach it, and the batch is fetched again. */
const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

const errorType = (e: unknown): string | undefined => (e !== null && typeof e === 'object' ? (e as { type?: string }).type : undefined);

/**
 * The request error behind a failed send, if any. kafkajs' retrier wraps a non-retriable protocol error in a
 * KafkaJSNonRetriableError whose own `type` is empty; the broker's error type is on its `cause`.
 */
export function requestErrorType(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur !== null && typeof cur === 'object' && depth < 5; depth++) {
    const type = errorType(cur);
    if (type !== undefined && REQUEST_ERRORS.has(type)) return type;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message: text, timestamp: _t, logger: _l, ...extra } = log as LogEntry['log'] & { logger?: string };
      const fields = { kafkajs: namespace, ...extra };
      // The connection logs every error response, including the expected ones of a rebalance or an outage
      // that the layers above handle and report themselves: warnings, not errors.
      if (level <= logLevel.ERROR && namespace !== 'Connection') logger.error(fields, text);
      else if (level <= logLevel.WARN) logger.warn(fields, text);
      else if (level === logLevel.INFO) logger.info(fields, text);
      else logger.debug(fields, text);
    };
}

function toRecord(topic: string, partition: number, m: KafkaMessage): BusRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) headers[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    timestampMs: Number(m.timestamp),
    key: m.key ? m.key.toString('utf8') : null,
    // A tombstone (null value) is not an event; it reaches the handler empty and is refused like bad JSON.
    value: m.value ?? Buffer.alloc(0),
    headers,
  };
}

interface ConsumerState {
  group: string;
  topic: string;
  consumer: Consumer;
  /** Bumped on every group join: see BusBatch.generation. */
  generation: number;
  assigned: Set<number>;
  failures: Map<number, number>;
  /** Each partition backing off: its timer, and the resume it runs (run early by retryNow). */
  resumeTimers: Map<NodeJS.Timeout, () => void>;
  /** retryNow came while no partition was backing off: the next failure is retried at once. */
  retryRequested: boolean;
  closed: boolean;
  fatal?: string;
}

/**
 * The event bus on Kafka (kafkajs). `publish` resolves after acks=-1; a broker that cannot be reached fails
 * the call within seconds as an UnavailableError (503 + Retry-After), and a circuit then fails further calls
 * at once until a cool-down has passed. Consumers get batches per partition and commit only after the
 * handler resolved; a failing handler pauses its partition, backs off and gets the same records again.
 * No idempotent producer: duplicates from retried sends are dropped downstream by event id.
 */
export class KafkaBus implements EventBus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly consumers: ConsumerState[] = [];
  /**
   * Open at most 2 s: after a long outage a probe goes through within 2 s of the broker's return (a 10 s cap
   * kept ingest failing 7.5 s after the broker was back); each probe is one produce with 2 quick retries.
   */
  private readonly circuit = new CircuitBreaker(500, 2000);
  private readonly fetch: KafkaFetchSettings;
  private readonly publishTimeoutMs: number;
  private readonly produceRequestTimeoutMs: number;
  private healthInFlight: Promise<BusHealth> | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    this.fetch = { ...DEFAULT_FETCH, ...options.fetch };
    this.publishTimeoutMs = options.publishTimeoutMs ?? 8000;
    this.produceRequestTimeoutMs = options.produceRequestTimeoutMs ?? 4000;
    const common = {
      clientId: options.clientId,
      brokers: options.brokers,
      ...kafkaSecurityOptions({ ssl: options.ssl, sasl: options.sasl }),
      connectionTimeout: 3000,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(options.logger.child({ component: 'kafkajs' })),
    };
    // Consumers and the admin client wait out a broker restart; the producer must not, because a client
    // request is waiting on it. Separate clients because request timeouts are per client in kafkajs.
    this.kafka = new Kafka({ ...common, requestTimeout: 30_000, retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 } });
    const produceKafka = new Kafka({
      ...common,
      requestTimeout: this.produceRequestTimeoutMs,
      enforceRequestTimeout: true,
      retry: { initialRetryTime: 100, retries: 2, maxRetryTime: 1000 },
    });
    this.producer = produceKafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 100, retries: 2, maxRetryTime: 1000 },
    });
    this.admin = this.kafka.admin({ retry: { initialRetryTime: 300, retries: 5, maxRetryTime: 5000 } });
  }

  async connect(): Promise<void> {
    await this.admin.connect();
    await this.producer.connect();
  }

  /**
   * Creates the event topic and the DLQ when missing and verifies both topics' settings, however they were
   * created: throws KafkaTopicSettingsError (a ConfigError: the service exits 2) naming each setting that
   * would lose events or wedge consumers. See `ensureKafkaTopics`.
   */
  ensureTopics(): Promise<EnsureTopicsResult> {
    return ensureKafkaTopics(this.admin, {
      partitions: this.options.partitions,
      replicationFactor: this.options.replicationFactor,
      hotWindowMs: this.options.hotWindowMs,
      names: this.options.topicNames,
      logger: this.options.logger,
    });
  }

  /**
   * The trimmer of the event topic on this bus's admin client (see KafkaLogTrimmer): `registeredGroups` are
   * the groups of the capabilities the deployment runs, which hold the log even before their first commit.
   */
  logTrimmer(registeredGroups: string[], over: Partial<Pick<KafkaLogTrimmerOptions, 'intervalMs' | 'now'>> = {}): KafkaLogTrimmer {
    return new KafkaLogTrimmer({
      admin: this.admin,
      topic: (this.options.topicNames ?? DEFAULT_TOPIC_NAMES).events,
      hotWindowMs: this.options.hotWindowMs,
      registeredGroups,
      logger: this.options.logger,
      ...over,
    });
  }

  /**
   * A group without a committed offset starts at the oldest record the topic still holds (fromBeginning)
   * or at its end; either way the log says where, since beyond the hot window only the archives hold more.
   * For a new group that starts at the end, the end offsets read here are returned: the consumer seeks its
   * partitions to them on its first join (see subscribe), so "the end" is the moment of this call and a record
   * published once subscribe returns is consumed. kafkajs alone takes "latest" at the group's first fetch,
   * seconds later, and skipped what was published in between.
   */
  private async announceNewGroup(group: string, topic: string, fromBeginning: boolean): Promise<Record<number, string> | undefined> {
    const [committed] = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    if ((committed?.partitions ?? []).some((p) => BigInt(p.offset) >= 0n)) return undefined;
    const ends = await this.admin.fetchTopicOffsets(topic);
    const start = Object.fromEntries(ends.map((e) => [e.partition, fromBeginning ? Number(e.low) : Number(e.high)]));
    const trimmed = ends.some((e) => BigInt(e.low) > 0n);
    this.options.logger.info(
      { group, topic, start_offsets: start },
      !fromBeginning
        ? 'a new consumer group starts at the end of the topic'
        : trimmed
          ? 'a new consumer group starts at the oldest record held; older records are only in the archives'
          : 'a new consumer group starts at offset 0 of every partition: the topic holds every record since it began',
    );
    return fromBeginning ? undefined : Object.fromEntries(ends.map((e) => [e.partition, e.high]));
  }

  async publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const wait = this.circuit.remainingMs();
    if (wait > 0) {
      throw new UnavailableError('the event log (Kafka) is unavailable; retry shortly', Math.ceil(wait / 1000));
    }
    try {
      await withDeadline(
        this.producer.send({
          topic,
          acks: -1,
          timeout: this.produceRequestTimeoutMs,
          compression: CompressionTypes.None,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        }),
        this.publishTimeoutMs,
        'the Kafka write',
      );
      this.circuit.onSuccess();
    } catch (e) {
      const permanent = requestErrorType(e);
      if (permanent !== undefined) {
        // About this request, not the broker: no circuit, no 503 (a retry would fail the same way).
        throw new LogWriteRejectedError(permanent, `the event log (Kafka) refused the write: ${permanent}`);
      }
      this.circuit.onFailure();
      this.options.logger.warn({ err: message(e), failures: this.circuit.consecutiveFailures }, 'Kafka did not acknowledge a write');
      throw new UnavailableError(
        `the event log (Kafka) did not acknowledge the write: ${message(e)}`,
        Math.max(1, Math.ceil(this.circuit.remainingMs() / 1000)),
      );
    }
  }

  async subscribe(group: string, handler: BatchHandler, options: SubscribeOptions = {}): Promise<Subscription> {
    const topic = options.topic ?? TOPIC_EVENTS;
    const consumer = this.kafka.consumer({
      groupId: group,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
      ...this.fetch,
    });
    const state: ConsumerState = {
      group,
      topic,
      consumer,
      generation: 0,
      assigned: new Set(),
      failures: new Map(),
      resumeTimers: new Map(),
      retryRequested: false,
      closed: false,
    };
    // A new group that starts at the end: where announceNewGroup found the end. Applied on the first join only,
    // to the partitions this member got (kafkajs commits a seek at the first fetch, before it would resolve
    // "latest"); the partitions another member got are that member's to start.
    let startAt: Record<number, string> | undefined;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      state.generation++;
      state.assigned = new Set(payload.memberAssignment[topic] ?? []);
      if (startAt) {
        for (const partition of state.assigned) {
          if (startAt[partition] !== undefined) consumer.seek({ topic, partition, offset: startAt[partition] });
        }
        startAt = undefined;
      }
      this.options.logger.info(
        { group, topic, partitions: [...state.assigned], generation: state.generation },
        'joined the consumer group',
      );
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || state.closed) return;
      state.fatal = message(payload.error);
      this.options.logger.error({ group, err: state.fatal }, 'the Kafka consumer stopped and will not restart');
      this.options.onConsumerFatal?.(group, payload.error);
    });
    startAt = await this.announceNewGroup(group, topic, options.fromBeginning ?? true).catch((e: unknown) => {
      this.options.logger.warn(
        { group, topic, err: message(e) },
        'could not read where the consumer group starts: a new group that starts at the end starts at its first fetch',
      );
      return undefined;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: true,
      // Every resolved offset is committed by the commit call right after it: one commit per handled batch.
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? this.options.partitions,
      eachBatch: (payload) => this.onBatch(state, handler, payload),
    });
    this.consumers.push(state);
    return {
      close: async () => {
        state.closed = true;
        for (const t of state.resumeTimers.keys()) clearTimeout(t);
        state.resumeTimers.clear();
        await consumer.disconnect();
        // indexOf is -1 after a second close or after bus.close(): splice(-1) would drop another consumer.
        const at = this.consumers.indexOf(state);
        if (at >= 0) this.consumers.splice(at, 1);
      },
      retryNow: () => {
        state.failures.clear();
        if (state.resumeTimers.size === 0) {
          state.retryRequested = true;
          return;
        }
        for (const [timer, resume] of [...state.resumeTimers]) {
          clearTimeout(timer);
          resume();
        }
      },
    };
  }

  private async onBatch(state: ConsumerState, handler: BatchHandler, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
    for (let i = 0; i < records.length; i += this.options.maxBatchRecords) {
      if (!payload.isRunning() || payload.isStale() || state.closed) return;
      const chunk = records.slice(i, i + this.options.maxBatchRecords);
      const busBatch: BusBatch = {
        topic: batch.topic,
        partition: batch.partition,
        records: chunk,
        firstOffset: chunk[0].offset,
        lastOffset: chunk[chunk.length - 1].offset,
        generation: state.generation,
        heartbeat: async () => {
          try {
            await payload.heartbeat();
          } catch (e) {
            // A rebalance is not the handler's failure: its write may finish (a redelivery is deduplicated,
            // and the partition's next owner waits for this member to rejoin); the commit after it then
            // fails and kafkajs rejoins the group.
            if (!REBALANCE_ERRORS.has(errorType(e) ?? '')) throw e;
          }
        },
      };
      try {
        await handler(busBatch);
      } catch (error) {
        if (REBALANCE_ERRORS.has(errorType(error) ?? '')) throw error;
        this.retryLater(state, payload, busBatch, error);
        return;
      }
      state.failures.delete(batch.partition);
      state.retryRequested = false;
      payload.resolveOffset(busBatch.lastOffset);
      await payload.commitOffsetsIfNecessary();
    }
  }

  /**
   * Pauses the partition, and after an exponential back-off seeks back to the first record not handled and
   * resumes: the same records come again, nothing after them is read meanwhile, and the consumer stays in
   * its group (kafkajs keeps heartbeating while a partition is paused).
   */
  private retryLater(state: ConsumerState, payload: EachBatchPayload, batch: BusBatch, error: unknown): void {
    const attempt = state.failures.get(batch.partition) ?? 0;
    state.failures.set(batch.partition, attempt + 1);
    const { baseMs, maxMs } = this.options.retryBackoff ?? { baseMs: 200, maxMs: 30_000 };
    const delay = state.retryRequested ? 0 : backoffDelayMs(attempt, baseMs, maxMs);
    state.retryRequested = false;
    this.options.onHandlerError?.(state.group, error, attempt, delay);
    const resume = payload.pause();
    const generation = state.generation;
    const run = (): void => {
      state.resumeTimers.delete(timer);
      if (state.closed) return;
      // A seek on a partition this member no longer owns would be applied if it came back later and move
      // the group's position backwards; after a rebalance kafkajs starts from the committed offset anyway.
      if (generation === state.generation && state.assigned.has(batch.partition)) {
        state.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: batch.firstOffset });
      }
      resume();
    };
    const timer = setTimeout(run, delay);
    state.resumeTimers.set(timer, run);
  }

  async endOffsets(topic: string): Promise<Record<number, string>> {
    const ends = await withDeadline(this.admin.fetchTopicOffsets(topic), 2000, 'reading the end of the topic');
    return Object.fromEntries(ends.map((e) => [e.partition, e.high]));
  }

  /** Records not yet committed by each consumer group of this process (the consumer host's lag metric). */
  async lag(): Promise<Record<string, number>> {
    return (await this.positions()).lag;
  }

  /** How far each consumer group of this process is behind the end of its topic, in records, and the oldest offset still held on each partition of the groups' topics. */
  private async positions(): Promise<{ lag: Record<string, number>; oldest: Record<string, Record<number, number>> }> {
    const out: Record<string, number> = {};
    const oldest: Record<string, Record<number, number>> = {};
    for (const c of this.consumers) {
      const [committed, ends] = await Promise.all([
        this.admin.fetchOffsets({ groupId: c.group, topics: [c.topic] }),
        this.admin.fetchTopicOffsets(c.topic),
      ]);
      const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const end of ends) {
        const done = byPartition.get(end.partition) ?? -1n;
        const from = done < 0n ? BigInt(end.low) : done;
        if (BigInt(end.high) > from) lag += BigInt(end.high) - from;
      }
      out[c.group] = Number(lag);
      oldest[c.topic] = Object.fromEntries(ends.map((e) => [e.partition, Number(e.low)]));
    }
    return { lag: out, oldest };
  }

  health(): Promise<BusHealth> {
    // Concurrent probes share one round trip, so a slow broker does not pile up admin requests.
    this.healthInFlight ??= this.checkHealth().finally(() => {
      this.healthInFlight = undefined;
    });
    return this.healthInFlight;
  }

  private async checkHealth(): Promise<BusHealth> {
    const detail: Record<string, unknown> = { kind: 'kafka', publish_circuit: this.circuit.state };
    const fatal = this.consumers.filter((c) => c.fatal !== undefined);
    if (fatal.length > 0) detail.stopped_consumers = Object.fromEntries(fatal.map((c) => [c.group, c.fatal]));
    try {
      const cluster = await withDeadline(this.admin.describeCluster(), 2000, 'describing the Kafka cluster');
      detail.brokers = cluster.brokers.length;
      detail.controller = cluster.controller;
      if (this.consumers.length > 0) {
        try {
          const { lag, oldest } = await withDeadline(this.positions(), 2000, 'reading consumer lag');
          detail.consumer_lag = lag;
          detail.oldest_offsets = oldest;
        } catch (e) {
          detail.consumer_lag = { error: message(e) };
        }
      }
      return { ok: fatal.length === 0, detail };
    } catch (e) {
      return { ok: false, detail: { ...detail, error: message(e) } };
    }
  }

  async close(): Promise<void> {
    for (const c of [...this.consumers]) {
      c.closed = true;
      for (const t of c.resumeTimers.keys()) clearTimeout(t);
      await c.consumer.disconnect().catch(() => undefined);
    }
    this.consumers.length = 0;
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }
}
