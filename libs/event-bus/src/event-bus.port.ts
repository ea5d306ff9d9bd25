/** A record as a consumer sees it: the raw value, so invalid direct-producer messages can be sent to the DLQ. */
export interface BusRecord {
  topic: string;
  partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: string;
  /** Broker (or log) append time, ms since the epoch. */
  timestampMs: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface BusBatch {
  topic: string;
  partition: number;
  records: BusRecord[];
  firstOffset: string;
  lastOffset: string;
  /**
   * Which assignment of partitions to this consumer the batch belongs to; it changes after every rebalance.
   * Whatever a handler cached about a partition (how far it was stored) holds only within one generation,
   * because another consumer may have written the partition meanwhile. The embedded log has one consumer
   * per group and leaves it unset.
   */
  generation?: number;
  /** Keeps the consumer's group membership alive during a long write (no-op for the embedded log). */
  heartbeat(): Promise<void>;
}

export type BatchHandler = (batch: BusBatch) => Promise<void>;

export interface OutgoingRecord {
  key: string;
  value: string | Buffer;
  headers?: Record<string, string>;
}

export interface SubscribeOptions {
  /** Read the topic from its beginning when the group has no committed position (projections do). */
  fromBeginning?: boolean;
  topic?: string;
}

export interface Subscription {
  close(): Promise<void>;
  /**
   * Ends the back-off of a failed batch now: it is tried again at once, and the back-off starts over from its
   * base. For a handler whose cause of failure has gone (an integration resumed, a destination changed), so it
   * need not wait out a delay of up to the cap. Called while no batch is backing off, it makes the next
   * failure's retry immediate.
   */
  retryNow?(): void;
}

/** The delay before a failed batch is tried again: exponential from `baseMs`, capped at `maxMs`, with jitter. */
export interface RetryBackoff {
  baseMs: number;
  maxMs: number;
}

export interface BusHealth {
  ok: boolean;
  detail: Record<string, unknown>;
}

/**
 * The event log port. `publish` resolves only once the records are durable (fsync for the embedded log,
 * acks=-1 for Kafka); `subscribe` delivers at least once, in order per partition, and commits a batch's
 * position only after the handler resolved. A handler that throws gets the same batch again after back-off.
 */
export interface EventBus {
  readonly kind: 'embedded' | 'kafka';
  publish(topic: string, records: OutgoingRecord[]): Promise<void>;
  subscribe(group: string, handler: BatchHandler, options?: SubscribeOptions): Promise<Subscription>;
  health(): Promise<BusHealth>;
  /** Records not yet handled per consumer group of this process (the consumer host's lag metric). */
  lag?(): Promise<Record<string, number>>;
  /**
   * The end of a topic: per partition, the offset the next record will get. Records below it are durable,
   * so a projection that stored up to it has everything acknowledged before the call (read after write).
   */
  endOffsets?(topic: string): Promise<Record<number, string>>;
  close(): Promise<void>;
}
