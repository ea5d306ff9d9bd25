import { performance } from 'node:perf_hooks';
import { Logger } from 'pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import { AuditEvent, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BusBatch, BusRecord, decodeRecord, DecodedRecord, EventBus, OutgoingRecord, Subscription, TrustPolicy } from '@app/event-bus';
import { Metrics } from '../metrics';

/** Where a batch sits in its partition, as the host tracks it across rebalances. */
export interface PartitionPosition {
  partition: number;
  /** The assignment this batch belongs to (see BusBatch.generation). */
  generation: number;
  /**
   * First batch of this partition in this generation: whatever the handler cached about the partition
   * (how far it stored) must be read again, another member may have written it meanwhile.
   */
  fresh: boolean;
  /**
   * Sends refused records to audit.events.dlq.v1, before the handler's own write, so whatever is stored was
   * also refused where it had to be. Only the group that owns the DLQ writes it: every other group counts
   * and skips them, so five consumers never write five copies of one bad record.
   */
  deadLetter(records: OutgoingRecord[]): Promise<void>;
  /**
   * Hands `items` to `handle` so that one whose data the group's store refuses (a data error,
   * isRecordDataError) cannot wedge the group: the items are split in halves and handed again until the ones
   * that fail alone are found; those are skipped by this group only (counted as quarantined, logged with
   * `describe`). Any other error throws and the batch comes again. Returns how many were skipped. Event
   * consumers get this from the host; a raw consumer calls it itself.
   */
  isolating<T>(items: T[], handle: (items: T[]) => Promise<void>, describe: (item: T) => QuarantinedItem): Promise<number>;
}

/** What the log says of a skipped event: its id, tenant and position. */
export interface QuarantinedItem {
  eventId: string;
  tenantId: string;
  partition: number;
  offset: string;
}

/**
 * Splits `items` in halves until the ones whose data `handle` refuses alone are found (see
 * PartitionPosition.isolating); each is passed to `skip`. Handlers are idempotent per event (the log
 * redelivers anyway), so halves that had succeeded before a split may be handled twice.
 */
export async function isolateDataErrors<T>(
  items: T[],
  handle: (items: T[]) => Promise<void>,
  skip: (item: T, error: unknown) => void,
  stopping: () => boolean = () => false,
): Promise<number> {
  try {
    await handle(items);
    return 0;
  } catch (e) {
    if (stopping() || !isRecordDataError(e)) throw e;
    if (items.length === 1) {
      skip(items[0], e);
      return 1;
    }
    const half = items.length >>> 1;
    return (
      (await isolateDataErrors(items.slice(0, half), handle, skip, stopping)) +
      (await isolateDataErrors(items.slice(half), handle, skip, stopping))
    );
  }
}

export interface ConsumedEvent {
  event: AuditEvent;
  partition: number;
  offset: string;
  fromGateway: boolean;
  producerChoseId: boolean;
}

interface DeclarationBase {
  /** The consumer group (`audit.<capability>.v<N>`): its own position on the log. */
  group: string;
  topic?: string;
  /** Where a group with no committed position starts: the oldest record still held (default), or the end. */
  fromBeginning?: boolean;
  /** This group writes the DLQ (one group per deployment: the query store's). */
  ownsDeadLetters?: boolean;
}

/** A handler over the raw batch, for a consumer that decodes itself (the query store, on a worker thread). */
export interface RawConsumer extends DeclarationBase {
  kind: 'raw';
  handle(batch: BusBatch, position: PartitionPosition): Promise<void>;
}

/** A handler over decoded, validated events: what a capability consumer (alerting, SIEM, ...) wants. */
export interface EventConsumer extends DeclarationBase {
  kind: 'events';
  handle(events: ConsumedEvent[], position: PartitionPosition, batch: BusBatch): Promise<void>;
}

export type ConsumerDeclaration = RawConsumer | EventConsumer;

export interface ConsumerHostOptions {
  bus: EventBus;
  metrics: Metrics;
  logger: Logger;
  trust: TrustPolicy;
  defaultTenant: string;
}

interface HostMetrics {
  batches: Counter<'group' | 'outcome'>;
  records: Counter<'group' | 'outcome'>;
  seconds: Histogram<'group'>;
  lag: Gauge<'group'>;
}

const hostMetrics = new WeakMap<Metrics, HostMetrics>();

function metricsOf(metrics: Metrics, host: () => ConsumerHost): HostMetrics {
  let m = hostMetrics.get(metrics);
  if (!m) {
    const registers = [metrics.registry];
    m = {
      batches: new Counter({
        name: 'audit_consumer_batches_total',
        help: 'Batches handled by each consumer group, by outcome (ok, or failed and retried after back-off)',
        labelNames: ['group', 'outcome'],
        registers,
      }),
      records: new Counter({
        name: 'audit_consumer_records_total',
        help: "Records seen by each consumer group: handled, invalid (sent to the DLQ by its owner, skipped by the others), or quarantined (valid, but this group's store refused its data: skipped by this group alone)",
        labelNames: ['group', 'outcome'],
        registers,
      }),
      seconds: new Histogram({
        name: 'audit_consumer_batch_duration_seconds',
        help: 'Time to handle one consumed batch, by consumer group',
        labelNames: ['group'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
      lag: new Gauge({
        name: 'audit_consumer_lag_records',
        help: 'Records on the log not yet handled by each consumer group of this process',
        labelNames: ['group'],
        registers,
        async collect() {
          const lag = await host()
            .lag()
            .catch(() => ({}));
          for (const [group, n] of Object.entries(lag)) this.set({ group }, n);
        },
      }),
    };
    hostMetrics.set(metrics, m);
  }
  return m;
}

/** A record decoded for one event group and kept for the others still to read it. */
interface SharedDecode {
  result: DecodedRecord;
  /** Other groups still to take it. */
  left: number;
  topic: string;
  timestampMs: number;
  bytes: number;
}

/** Decoded records kept for this host's other event consumers (about 1-2 KB each). */
export const SHARED_DECODE_ENTRIES = 5_000;

/**
 * Runs a process's consumers of the log, written once: each capability declares its group and a handler; the
 * host subscribes, decodes and validates (the trust policy is configuration), tracks each partition's
 * generation across rebalances, counts batches, records, failures and lag per group in /metrics, owns the one
 * DLQ writer, and on shutdown lets the batches in hand finish (the bus commits them) before it closes.
 * A handler that throws gets the same batch again after back-off; only an event whose data the group's store
 * refuses (a data error, isRecordDataError) is skipped by that group alone, so it cannot wedge the group.
 */
export class ConsumerHost {
  private readonly declarations: ConsumerDeclaration[] = [];
  private readonly subscriptions: Array<{ group: string; subscription: Subscription }> = [];
  private readonly generations = new Map<string, number>();
  private readonly metrics: HostMetrics;
  private inHand = 0;
  private stopping = false;
  /** Event consumers subscribed: with more than one, a record is decoded and validated once for all of them. */
  private eventGroups = 0;
  /**
   * Decoded records by log position, each with the number of other event groups still to take it: the
   * all-in-one's integrity and alerting (and SIEM) groups read the same records, and decoding plus validating
   * each record once per group was their largest shared cost. Bounded: a group far behind decodes for itself.
   * Handlers must treat the events as read-only, since the groups share them.
   */
  private readonly decoded = new Map<string, SharedDecode>();
  private readonly idle: Array<() => void> = [];
  /** Per event group and partition, the offset after the last batch it handled here (for `sharersOf`). */
  private readonly eventPositions = new Map<string, Map<string, number>>();

  constructor(private readonly options: ConsumerHostOptions) {
    this.metrics = metricsOf(options.metrics, () => this);
  }

  /** The deployment's trust policy, for a consumer that decodes records itself. */
  get trust(): TrustPolicy {
    return this.options.trust;
  }

  declare(declaration: ConsumerDeclaration): void {
    if (declaration.ownsDeadLetters && this.declarations.some((d) => d.ownsDeadLetters)) {
      throw new Error(`two consumer groups own the DLQ (${declaration.group}): only one may write it`);
    }
    this.declarations.push(declaration);
  }

  /** Subscribes one declared group (or all): a capability starts its consumer when its store is ready. */
  async start(group?: string): Promise<void> {
    for (const d of this.declarations) {
      if (group !== undefined && d.group !== group) continue;
      const subscription = await this.options.bus.subscribe(d.group, (batch) => this.handle(d, batch), {
        topic: d.topic ?? TOPIC_EVENTS,
        fromBeginning: d.fromBeginning ?? true,
      });
      this.subscriptions.push({ group: d.group, subscription });
      if (d.kind === 'events') this.eventGroups++;
    }
  }

  /**
   * Ends the back-off of `group`'s failed batch now (see Subscription.retryNow): for a capability that knows
   * the cause has gone, e.g. a SIEM integration resumed.
   */
  retryNow(group: string): void {
    for (const s of this.subscriptions) if (s.group === group) s.subscription.retryNow?.();
  }

  /**
   * The record decoded and validated, once for all of this host's event groups (see `decoded`). `sharers` is
   * how many other event groups may still read it (see `sharersOf`): with none, nothing is kept.
   */
  private decode(record: BusRecord, sharers: number): DecodedRecord {
    const options = { trust: this.options.trust, defaultTenant: this.options.defaultTenant };
    if (this.eventGroups < 2) return decodeRecord(record, options);
    // Keyed by partition and offset alone (short strings, no number formatting); the entry proves it is the
    // same record by its topic, append time and size.
    const key = `${record.partition}:${record.offset}`;
    const hit = this.decoded.get(key);
    if (hit && hit.topic === record.topic && hit.timestampMs === record.timestampMs && hit.bytes === record.value.length) {
      if (--hit.left <= 0) this.decoded.delete(key);
      return hit.result;
    }
    const result = decodeRecord(record, options);
    if (sharers === 0) return result;
    this.decoded.delete(key);
    this.decoded.set(key, { result, left: sharers, topic: record.topic, timestampMs: record.timestampMs, bytes: record.value.length });
    if (this.decoded.size > SHARED_DECODE_ENTRIES) this.decoded.delete(this.decoded.keys().next().value as string);
    return result;
  }

  /**
   * How many other event groups may still read some of `batch`: those not yet past its last record in this
   * process (a group with no batch handled yet counts). A group far behind the others, such as a SIEM
   * integration resumed after an hour, then decodes for itself without filling the shared entries with
   * records nobody else will ask for.
   */
  private sharersOf(d: ConsumerDeclaration, batch: BusBatch): number {
    const partitionKey = `${batch.topic}\u0000${batch.partition}`;
    const last = Number(batch.lastOffset);
    let others = this.eventGroups - 1;
    for (const [group, next] of this.eventPositions) {
      const at = next.get(partitionKey);
      if (group !== d.group && at !== undefined && at > last) others--;
    }
    return Math.max(0, others);
  }

  /** Records on the log not yet handled, per group of this process. */
  async lag(): Promise<Record<string, number>> {
    const all = (await this.options.bus.lag?.()) ?? {};
    const mine = new Set(this.declarations.map((d) => d.group));
    return Object.fromEntries(Object.entries(all).filter(([g]) => mine.has(g)));
  }

  /** Finishes the batches in hand (at most `maxMs`), then closes every subscription. */
  async stop(maxMs = 20_000): Promise<void> {
    this.stopping = true;
    if (this.inHand > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxMs);
        this.idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const s of this.subscriptions.splice(0)) await s.subscription.close();
  }

  private position(d: ConsumerDeclaration, batch: BusBatch): PartitionPosition {
    const key = `${d.group}\u0000${batch.topic}\u0000${batch.partition}`;
    const generation = batch.generation ?? 0;
    const fresh = this.generations.get(key) !== generation;
    this.generations.set(key, generation);
    return {
      partition: batch.partition,
      generation,
      fresh,
      deadLetter: async (records) => {
        if (records.length === 0) return;
        this.metrics.records.inc({ group: d.group, outcome: 'invalid' }, records.length);
        if (d.ownsDeadLetters) await this.options.bus.publish(TOPIC_EVENTS_DLQ, records);
      },
      // Issue 8's rule for the query store, applied to every consumer.
      isolating: (items, handle, describe) =>
        isolateDataErrors(
          items,
          handle,
          (item, e) => {
            const { eventId, tenantId, partition, offset } = describe(item);
            this.metrics.records.inc({ group: d.group, outcome: 'quarantined' });
            this.options.logger.error(
              { group: d.group, eventId, tenantId, partition, offset, err: e },
              `consumer group ${d.group} skipped event ${eventId}: its store refused the event's data (${(e as Error).message})`,
            );
          },
          () => this.stopping,
        ),
    };
  }

  private async handle(d: ConsumerDeclaration, batch: BusBatch): Promise<void> {
    // Thrown, the batch is retried later: after a restart it comes again from the committed position.
    if (this.stopping) throw new ConsumerStoppingError(d.group);
    this.inHand++;
    const started = performance.now();
    try {
      const position = this.position(d, batch);
      if (d.kind === 'raw') {
        await d.handle(batch, position);
      } else {
        const events: ConsumedEvent[] = [];
        const refused: OutgoingRecord[] = [];
        const sharers = this.sharersOf(d, batch);
        for (const record of batch.records) {
          const r = this.decode(record, sharers);
          if (r.ok)
            events.push({
              event: r.event,
              partition: record.partition,
              offset: record.offset,
              fromGateway: r.fromGateway,
              producerChoseId: r.producerChoseId,
            });
          else refused.push(r.deadLetter);
        }
        await position.deadLetter(refused);
        const quarantined = await position.isolating(
          events,
          (some) => d.handle(some, position, batch),
          (e) => ({ eventId: e.event.id, tenantId: e.event.tenant_id, partition: e.partition, offset: e.offset }),
        );
        this.metrics.records.inc({ group: d.group, outcome: 'handled' }, events.length - quarantined);
        let positions = this.eventPositions.get(d.group);
        if (!positions) this.eventPositions.set(d.group, (positions = new Map()));
        positions.set(`${batch.topic}\u0000${batch.partition}`, Number(batch.lastOffset) + 1);
      }
      this.metrics.batches.inc({ group: d.group, outcome: 'ok' });
      this.metrics.seconds.observe({ group: d.group }, (performance.now() - started) / 1000);
    } catch (e) {
      this.metrics.batches.inc({ group: d.group, outcome: 'failed' });
      throw e;
    } finally {
      this.inHand--;
      if (this.inHand === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}

/**
 * A batch handed back because the process is stopping: not a failure (the bus commits nothing for it, so it
 * comes again after the restart), logged as such rather than as a retried error.
 */
export class ConsumerStoppingError extends Error {
  constructor(readonly group: string) {
    super(`the consumer of ${group} is stopping`);
  }
}

/**
 * An error that names the data of one statement rather than the state of the database: SQLSTATE class 22
 * (data exception: a value Postgres cannot hold, such as a string it cannot convert, a number out of range)
 * or 23 (integrity constraint violation), from pg's DatabaseError and PGlite's alike. The same records fail
 * the same way on every retry. Connection errors (08), serialization failures and deadlocks (40), resources
 * (53), operator intervention (57) and every error without a SQLSTATE stay transient: the batch is retried.
 */
export function isRecordDataError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/**
 * The position of a batch handed to a handler without the host (a tool replaying the log, or a test driving
 * a consumer batch by batch): the DLQ is written to `bus`, and freshness is left to the handler's own
 * generation check.
 */
export function directPosition(bus: EventBus, batch: BusBatch): PartitionPosition {
  return {
    partition: batch.partition,
    generation: batch.generation ?? 0,
    fresh: false,
    deadLetter: async (records) => {
      if (records.length > 0) await bus.publish(TOPIC_EVENTS_DLQ, records);
    },
    isolating: (items, handle) => isolateDataErrors(items, handle, () => undefined),
  };
}
