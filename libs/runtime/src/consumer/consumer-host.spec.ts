import pino from 'pino';
import { INGEST_HEADER, normalizeEvent, serializeEvent, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BatchHandler, BusBatch, BusHealth, BusRecord, EventBus, OutgoingRecord, SubscribeOptions, Subscription } from '@app/event-bus';
import { Metrics } from '../metrics';
import { ConsumedEvent, ConsumerHost, isRecordDataError, PartitionPosition, SHARED_DECODE_ENTRIES } from './consumer-host';

/** A bus in memory: the test delivers batches to each subscribed group by hand and sees what was published. */
class FakeBus implements EventBus {
  readonly kind = 'kafka' as const;
  readonly published: Array<{ topic: string; records: OutgoingRecord[] }> = [];
  readonly handlers = new Map<string, BatchHandler>();
  closed: string[] = [];
  retried: string[] = [];

  async publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    this.published.push({ topic, records });
  }
  async subscribe(group: string, handler: BatchHandler, _options?: SubscribeOptions): Promise<Subscription> {
    this.handlers.set(group, handler);
    return { close: async () => void this.closed.push(group), retryNow: () => void this.retried.push(group) };
  }
  async health(): Promise<BusHealth> {
    return { ok: true, detail: {} };
  }
  async lag(): Promise<Record<string, number>> {
    return { 'audit.alerting.v1': 7, 'someone.else.v1': 3 };
  }
  async close(): Promise<void> {}

  deliver(group: string, batch: BusBatch): Promise<void> {
    const handler = this.handlers.get(group);
    if (!handler) throw new Error(`${group} is not subscribed`);
    return handler(batch);
  }
}

const record = (offset: number, value: string, headers: Record<string, string> = {}): BusRecord => ({
  topic: TOPIC_EVENTS,
  partition: 0,
  offset: String(offset),
  timestampMs: 1.7e12,
  key: null,
  value: Buffer.from(value),
  headers,
});

const gatewayRecord = (offset: number): BusRecord => {
  const r = normalizeEvent({ event_type: 'login_failed' }, { tenantId: 'acme', receivedAtMicros: 1.7e15, trustTenantField: false });
  if (!r.ok) throw new Error('invalid test event');
  return record(offset, serializeEvent(r.event), { [INGEST_HEADER.name]: INGEST_HEADER.value });
};

const batchOf = (records: BusRecord[], generation = 1): BusBatch => ({
  topic: TOPIC_EVENTS,
  partition: 0,
  records,
  firstOffset: records[0].offset,
  lastOffset: records[records.length - 1].offset,
  generation,
  heartbeat: async () => undefined,
});

function newHost(bus: FakeBus, metrics = new Metrics(false)): ConsumerHost {
  return new ConsumerHost({ bus, metrics, logger: pino({ level: 'silent' }), trust: 'none', defaultTenant: 'default' });
}

describe(ConsumerHost.name, () => {
  it('should hand an events consumer decoded, validated events and write the DLQ only from the group that owns it', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    const seen: Record<string, ConsumedEvent[]> = { owner: [], other: [] };
    sut.declare({ kind: 'events', group: 'audit.query-store.v1', ownsDeadLetters: true, handle: async (e) => void seen.owner.push(...e) });
    sut.declare({ kind: 'events', group: 'audit.alerting.v1', handle: async (e) => void seen.other.push(...e) });
    await sut.start();

    const batch = batchOf([gatewayRecord(0), record(1, '{not json'), record(2, JSON.stringify({ event_type: 'BAD TYPE' }))]);
    await bus.deliver('audit.query-store.v1', batch);
    await bus.deliver('audit.alerting.v1', batch);

    expect(seen.owner.map((e) => [e.event.event_type, e.offset, e.fromGateway])).toEqual([['login_failed', '0', true]]);
    expect(seen.other.map((e) => e.event.tenant_id)).toEqual(['acme']);
    expect(bus.published.map((p) => [p.topic, p.records.length])).toEqual([[TOPIC_EVENTS_DLQ, 2]]);
    const text = await sut['options'].metrics.registry.metrics();
    expect(text).toMatch(/audit_consumer_records_total\{group="audit.alerting.v1",outcome="invalid"\} 2/);
    expect(text).toMatch(/audit_consumer_records_total\{group="audit.alerting.v1",outcome="handled"\} 1/);
    expect(text).toMatch(/audit_consumer_lag_records\{group="audit.alerting.v1"\} 7/);
    expect(text).not.toMatch(/someone\.else/);
  });

  describe("a record whose data the group's store refuses", () => {
    // What pg's DatabaseError (and PGlite's) carries for a value an integer column cannot hold, as Postgres 15
    // and PGlite 0.5 raise it for `INSERT ... VALUES (99999999999)` into an integer column.
    const outOfRange = (value: number) =>
      Object.assign(new Error(`value "${value}" is out of range for type integer`), { code: '22003', severity: 'ERROR' });
    const numbered = (n: number): BusRecord => {
      const r = normalizeEvent(
        { event_type: 'login_failed', metadata: { n: String(n) } },
        { tenantId: 'acme', receivedAtMicros: 1.7e15 + n, trustTenantField: false },
      );
      if (!r.ok) throw new Error('invalid test event');
      return record(n, serializeEvent(r.event), { [INGEST_HEADER.name]: INGEST_HEADER.value });
    };

    it('should skip only that event for that group, store the rest, and count it as quarantined', async () => {
      const stored: number[] = [];
      const bus = new FakeBus();
      const metrics = new Metrics(false);
      const sut = newHost(bus, metrics);
      const calls: number[] = [];
      sut.declare({
        kind: 'events',
        group: 'audit.alerting.v1',
        handle: async (events) => {
          calls.push(events.length);
          // One transaction per batch: all of it or nothing, as a capability's store writes.
          const values = events.map((e) => Number(e.event.metadata.n));
          const bad = values.find((n) => n > 2 ** 31 - 1);
          if (bad !== undefined) throw outOfRange(bad);
          for (const n of values) if (!stored.includes(n)) stored.push(n);
        },
      });
      await sut.start();
      // 5 of 8 is out of range for an integer column: Postgres refuses it (22003) on every try.
      const records = Array.from({ length: 8 }, (_, i) => numbered(i === 5 ? 99_999_999_999 : i));
      await bus.deliver('audit.alerting.v1', batchOf(records));

      expect(stored.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7]);
      expect(calls[0]).toBe(8);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/audit_consumer_records_total\{group="audit.alerting.v1",outcome="quarantined"\} 1/);
      expect(text).toMatch(/audit_consumer_records_total\{group="audit.alerting.v1",outcome="handled"\} 7/);
    });

    it('should still throw (the batch comes again) for an error that is not about the data', async () => {
      const bus = new FakeBus();
      const sut = newHost(bus);
      const calls: number[] = [];
      const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      sut.declare({
        kind: 'events',
        group: 'audit.alerting.v1',
        handle: async (events) => {
          calls.push(events.length);
          throw unreachable;
        },
      });
      await sut.start();
      await expect(bus.deliver('audit.alerting.v1', batchOf([numbered(0), numbered(1)]))).rejects.toBe(unreachable);
      expect(calls).toEqual([2]);
    });

    it('should tell data errors from the rest by SQLSTATE class', () => {
      for (const code of ['22003', '22021', '22P02', '23505', '23514']) expect([code, isRecordDataError({ code })]).toEqual([code, true]);
      for (const code of ['08006', '40001', '40P01', '53100', '57P01', 'ECONNRESET', '25', undefined])
        expect([code, isRecordDataError({ code })]).toEqual([code, false]);
      expect(isRecordDataError(new Error('x', { cause: { code: '22003' } }))).toBe(true);
    });
  });

  it('should decode a record once for all its event groups, and forget it once every group took it', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    const seen: Record<string, ConsumedEvent[]> = { a: [], b: [], c: [] };
    for (const g of ['a', 'b', 'c']) sut.declare({ kind: 'events', group: g, handle: async (e) => void seen[g].push(...e) });
    await sut.start();
    const batch = batchOf([gatewayRecord(0), gatewayRecord(1), record(2, '{not json')]);
    await bus.deliver('a', batch);
    expect(sut['decoded'].size).toBe(3);
    await bus.deliver('b', batch);
    await bus.deliver('c', batch);
    expect(sut['decoded'].size).toBe(0);
    expect(seen.b[0].event).toBe(seen.a[0].event);
    expect(seen.c.map((e) => [e.offset, e.event.event_type, e.event.tenant_id])).toEqual([
      ['0', 'login_failed', 'acme'],
      ['1', 'login_failed', 'acme'],
    ]);
  });

  it('should keep at most SHARED_DECODE_ENTRIES shared records, and a group behind them decodes for itself', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    const seen: Record<string, ConsumedEvent[]> = { a: [], b: [] };
    for (const g of ['a', 'b']) sut.declare({ kind: 'events', group: g, handle: async (e) => void seen[g].push(...e) });
    await sut.start();
    const one = gatewayRecord(0);
    const records = Array.from({ length: SHARED_DECODE_ENTRIES + 10 }, (_, i) => ({ ...one, offset: String(i) }));
    await bus.deliver('a', batchOf(records));
    expect(sut['decoded'].size).toBe(SHARED_DECODE_ENTRIES);
    await bus.deliver('b', batchOf(records));
    // b is more than the bound behind a: every record b asks for was pushed out, so b decodes them all itself.
    expect(sut['decoded'].size).toBeLessThanOrEqual(SHARED_DECODE_ENTRIES);
    expect(seen.b.map((e) => e.offset)).toEqual(records.map((r) => r.offset));
    expect(seen.b[0].event).not.toBe(seen.a[0].event);
    expect(seen.b[0].event).toEqual(seen.a[0].event);
  });

  it('should not keep what it decoded for a group that every other group has passed', async () => {
    // given a group b so far behind a that the records it reads are no longer shared
    const bus = new FakeBus();
    const sut = newHost(bus);
    for (const g of ['a', 'b']) sut.declare({ kind: 'events', group: g, handle: async () => undefined });
    await sut.start();
    const one = gatewayRecord(0);
    const records = Array.from({ length: SHARED_DECODE_ENTRIES + 10 }, (_, i) => ({ ...one, offset: String(i) }));
    await bus.deliver('a', batchOf(records));
    // when b reads them, the first 10 decoded by itself
    await bus.deliver('b', batchOf(records));
    // then nothing is left: b's own decodes were not kept for a, which has passed them
    expect(sut['decoded'].size).toBe(0);
  });

  it('should never hand a group the shared event of another record at the same partition and offset', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    const seen: Record<string, ConsumedEvent[]> = { a: [], b: [] };
    for (const g of ['a', 'b']) sut.declare({ kind: 'events', group: g, handle: async (e) => void seen[g].push(...e) });
    await sut.start();
    await bus.deliver('a', batchOf([gatewayRecord(0)]));
    // another topic's record 0 (a group on its own topic), and one of this topic that is not the same record
    const other = normalizeEvent({ event_type: 'job_failed' }, { tenantId: 'acme', receivedAtMicros: 1.7e15, trustTenantField: false });
    if (!other.ok) throw new Error('invalid test event');
    const value = Buffer.from(serializeEvent(other.event));
    const headers = { [INGEST_HEADER.name]: INGEST_HEADER.value };
    await bus.deliver('b', batchOf([{ ...record(0, ''), topic: 'audit.other.v1', value, headers }]));
    await bus.deliver('b', batchOf([{ ...record(0, ''), value, headers }]));
    expect(seen.b.map((e) => e.event.event_type)).toEqual(['job_failed', 'job_failed']);
  });

  it("should end the back-off of one group's subscription on retryNow, and no other group's", async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    for (const g of ['a', 'b']) sut.declare({ kind: 'events', group: g, handle: async () => undefined });
    await sut.start();
    sut.retryNow('b');
    expect(bus.retried).toEqual(['b']);
  });

  it('should refuse two owners of the DLQ', () => {
    const sut = newHost(new FakeBus());
    sut.declare({ kind: 'raw', group: 'a', ownsDeadLetters: true, handle: async () => undefined });
    expect(() => sut.declare({ kind: 'raw', group: 'b', ownsDeadLetters: true, handle: async () => undefined })).toThrow(
      /two consumer groups own the DLQ/,
    );
  });

  it('should mark the first batch of a partition in each generation as fresh', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    const fresh: boolean[] = [];
    sut.declare({ kind: 'raw', group: 'g', handle: async (_b, p: PartitionPosition) => void fresh.push(p.fresh) });
    await sut.start();
    await bus.deliver('g', batchOf([gatewayRecord(0)], 1));
    await bus.deliver('g', batchOf([gatewayRecord(1)], 1));
    await bus.deliver('g', batchOf([gatewayRecord(2)], 2));
    expect(fresh).toEqual([true, false, true]);
  });

  it('should count a failed batch and rethrow it so the bus redelivers it', async () => {
    const bus = new FakeBus();
    const metrics = new Metrics(false);
    const sut = newHost(bus, metrics);
    sut.declare({
      kind: 'raw',
      group: 'g',
      handle: async () => {
        throw new Error('store down');
      },
    });
    await sut.start();
    await expect(bus.deliver('g', batchOf([gatewayRecord(0)]))).rejects.toThrow('store down');
    expect(await metrics.registry.metrics()).toMatch(/audit_consumer_batches_total\{group="g",outcome="failed"\} 1/);
  });

  it('should let the batch in hand finish before it closes the subscriptions, and refuse new batches meanwhile', async () => {
    const bus = new FakeBus();
    const sut = newHost(bus);
    let release: () => void = () => undefined;
    const order: string[] = [];
    sut.declare({
      kind: 'raw',
      group: 'g',
      handle: () =>
        new Promise<void>((resolve) => {
          release = () => {
            order.push('batch done');
            resolve();
          };
        }),
    });
    await sut.start();
    const inHand = bus.deliver('g', batchOf([gatewayRecord(0)]));
    const stopped = sut.stop().then(() => order.push('closed'));
    await expect(bus.deliver('g', batchOf([gatewayRecord(1)]))).rejects.toThrow(/stopping/);
    expect(bus.closed).toEqual([]);
    release();
    await inHand;
    await stopped;
    expect(order).toEqual(['batch done', 'closed']);
    expect(bus.closed).toEqual(['g']);
  });
});
