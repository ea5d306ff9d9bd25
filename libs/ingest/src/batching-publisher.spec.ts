import { AuditEvent, LogWriteRejectedError, normalizeEvent, UnavailableError } from '@app/contracts';
import { BusHealth, EventBus, OutgoingRecord, Subscription } from '@app/event-bus';
import { BatchingPublisher } from './batching-publisher';

/** An event log that records each write, and fails the writes `fail` picks. */
class FakeBus implements EventBus {
  readonly kind = 'embedded' as const;
  readonly writes: OutgoingRecord[][] = [];
  fail: (records: OutgoingRecord[]) => Error | undefined = () => undefined;

  async publish(_topic: string, records: OutgoingRecord[]): Promise<void> {
    await Promise.resolve();
    const err = this.fail(records);
    if (err) throw err;
    this.writes.push(records);
  }
  subscribe(): Promise<Subscription> {
    throw new Error('not used');
  }
  async health(): Promise<BusHealth> {
    return { ok: true, detail: {} };
  }
  async close(): Promise<void> {}
}

const event = (description: string, metadata: Record<string, string> = {}): AuditEvent => {
  const r = normalizeEvent(
    { event_type: 'login_failed', description, metadata },
    { tenantId: 't1', receivedAtMicros: 1.7e15, trustTenantField: false },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.event;
};
const descriptions = (records: OutgoingRecord[]): string[] => records.map((r) => (JSON.parse(String(r.value)) as AuditEvent).description);

describe(BatchingPublisher.name, () => {
  let bus: FakeBus;

  beforeEach(() => {
    bus = new FakeBus();
  });

  it('should gather concurrent requests into one write and resolve each after it', async () => {
    const sut = new BatchingPublisher(bus, { lingerMs: 5, maxBatchRecords: 100, maxQueuedRecords: 1000 });
    await Promise.all([sut.publish([event('a')]), sut.publish([event('b'), event('c')])]);
    expect(bus.writes.map(descriptions)).toEqual([['a', 'b', 'c']]);
    expect(sut.pending).toBe(0);
  });

  it('should write at once when the count bound is reached, and key records by device', async () => {
    const sut = new BatchingPublisher(bus, { lingerMs: 60_000, maxBatchRecords: 2, maxQueuedRecords: 1000 });
    await sut.publish([event('a', { device_id: 'POS_1' }), event('b', { site_id: 'S1' })]);
    expect(bus.writes[0].map((r) => r.key)).toEqual(['t1/POS_1', 't1/S1']);
  });

  it('should refuse beyond the queue bound with a retryable 503', async () => {
    const sut = new BatchingPublisher(bus, { lingerMs: 60_000, maxBatchRecords: 100, maxQueuedRecords: 2 });
    const first = sut.publish([event('a'), event('b')]);
    await expect(sut.publish([event('c')])).rejects.toBeInstanceOf(UnavailableError);
    await sut.drain();
    await first;
  });

  it('should keep every write within the byte bound, splitting a request larger than one write', async () => {
    // given a bound of about three events' worth of bytes
    const one = Buffer.byteLength(JSON.stringify(event('x'.repeat(1000)))) + 64;
    const sut = new BatchingPublisher(bus, { lingerMs: 5, maxBatchRecords: 5000, maxBatchBytes: 3 * one, maxQueuedRecords: 10_000 });
    // when one request of seven such events and two of one each arrive together
    const big = Array.from({ length: 7 }, (_, i) => event(`big-${i}${'x'.repeat(995)}`));
    await Promise.all([sut.publish(big), sut.publish([event(`s1${'x'.repeat(998)}`)]), sut.publish([event(`s2${'x'.repeat(998)}`)])]);
    // then no write exceeds the bound, every event is written once and in order
    const sizes = bus.writes.map((w) => w.reduce((n, r) => n + Buffer.byteLength(r.value) + Buffer.byteLength(r.key), 0));
    for (const s of sizes) expect(s).toBeLessThanOrEqual(3 * one);
    expect(bus.writes.flatMap(descriptions).map((d) => d.slice(0, 5))).toEqual([
      ...Array.from({ length: 7 }, (_, i) => `big-${i}`),
      's1xxx',
      's2xxx',
    ]);
    expect(bus.writes.length).toBeGreaterThan(1);
  });

  it('should turn an unexplained write failure into a retryable 503 for the requests of that write', async () => {
    bus.fail = () => new Error('socket hang up');
    const sut = new BatchingPublisher(bus, { lingerMs: 1, maxBatchRecords: 100, maxQueuedRecords: 1000 });
    const results = await Promise.allSettled([sut.publish([event('a')]), sut.publish([event('b')])]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(UnavailableError);
      expect((r as PromiseRejectedResult).reason.headers).toHaveProperty('retry-after');
    }
  });

  it('should fail only the request a permanent refusal is about, non-retryable, and store the others', async () => {
    // given a log that refuses any write holding the poisoned event (as Kafka refuses a too large record)
    bus.fail = (records) =>
      descriptions(records).includes('poison')
        ? new LogWriteRejectedError('MESSAGE_TOO_LARGE', 'the event log refused the write')
        : undefined;
    const sut = new BatchingPublisher(bus, { lingerMs: 5, maxBatchRecords: 100, maxQueuedRecords: 1000 });
    // when three requests share a flush and the middle one holds it
    const [a, poisoned, c] = await Promise.allSettled([
      sut.publish([event('a')]),
      sut.publish([event('poison'), event('b')]),
      sut.publish([event('c')]),
    ]);
    // then the other two are stored and acknowledged, and the culprit gets a 422 that says retrying will not help
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(poisoned.status).toBe('rejected');
    const reason = (poisoned as PromiseRejectedResult).reason as LogWriteRejectedError;
    expect(reason).toBeInstanceOf(LogWriteRejectedError);
    expect(reason).toMatchObject({ code: 'log_write_rejected', status: 422, headers: {} });
    expect(reason.message).toContain('will not help');
    expect(bus.writes.flatMap(descriptions).sort()).toEqual(['a', 'c']);
  });
});
