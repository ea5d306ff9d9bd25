import { AuditError, AuditEvent, ErrorCode } from '@app/contracts';
import { IdempotencyRecord } from './idempotency';
import { EventPublisher, IdempotencyStore, IngestRequest, IngestService } from './ingest.service';

class FakePublisher implements EventPublisher {
  readonly published: AuditEvent[][] = [];
  failWith: Error | undefined;

  async publish(events: AuditEvent[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.published.push(events);
  }
}

class FakeKeys implements IdempotencyStore {
  readonly rows = new Map<string, IdempotencyRecord>();
  readonly ttlHours = 24;
  expireCalls = 0;
  /** Keys past their window, as the store would count them. */
  expiredRows = 0;

  async find(tenantId: string, keys: string[]): Promise<Map<string, IdempotencyRecord>> {
    return new Map(keys.flatMap((k) => (this.rows.has(`${tenantId}/${k}`) ? [[k, this.rows.get(`${tenantId}/${k}`)!] as const] : [])));
  }

  async save(tenantId: string, records: IdempotencyRecord[]): Promise<void> {
    for (const r of records) this.rows.set(`${tenantId}/${r.key}`, r);
  }

  async expire(): Promise<number> {
    this.expireCalls++;
    const n = this.expiredRows;
    this.expiredRows = 0;
    return n;
  }

  async countExpired(): Promise<number> {
    return this.expiredRows;
  }
}

const request = (events: unknown[], extra: Partial<IngestRequest> = {}): IngestRequest => ({
  events,
  batch: events.length > 1,
  tenantId: 't1',
  ...extra,
});

describe(IngestService.name, () => {
  let publisher: FakePublisher;
  let keys: FakeKeys;
  let sut: IngestService;

  beforeEach(() => {
    publisher = new FakePublisher();
    keys = new FakeKeys();
    sut = new IngestService(publisher, keys, { expireEveryMs: 0 });
  });

  describe('idempotency keys', () => {
    it('should answer a replay of a key with the first event id, publishing nothing more', async () => {
      // given a request stored under an Idempotency-Key
      const body = { event_type: 'login_failed', metadata: { user_id: 'alice' } };
      const first = await sut.ingest(request([body], { idempotencyKey: 'txn-1' }));
      expect(first.results[0].status).toBe('accepted');
      // when the same body comes again with the same key
      const replay = await sut.ingest(request([body], { idempotencyKey: 'txn-1' }));
      // then it is a duplicate of the first, and the log got one event
      expect(replay).toMatchObject({ accepted: 0, duplicates: 1, rejected: 0 });
      expect(replay.results[0]).toEqual({ index: 0, status: 'duplicate', id: (first.results[0] as { id: string }).id });
      expect(publisher.published.flat()).toHaveLength(1);
    });

    it('should refuse a key reused for a different body, naming the key', async () => {
      await sut.ingest(request([{ event_type: 'login_failed' }], { idempotencyKey: 'txn-2' }));
      const reused = await sut.ingest(request([{ event_type: 'login_success' }], { idempotencyKey: 'txn-2' }));
      expect(reused).toMatchObject({ accepted: 0, duplicates: 0, rejected: 1 });
      expect(reused.results[0]).toMatchObject({
        status: 'rejected',
        errors: [{ field: '/idempotency_key', code: ErrorCode.IdempotencyKeyReused, message: expect.stringContaining("'txn-2'") }],
      });
      expect(publisher.published.flat()).toHaveLength(1);
    });

    it('should keep keys per tenant', async () => {
      const body = { event_type: 'login_failed' };
      await sut.ingest(request([body], { idempotencyKey: 'k' }));
      const other = await sut.ingest(request([body], { idempotencyKey: 'k', tenantId: 't2' }));
      expect(other.accepted).toBe(1);
    });

    it('should publish a key repeated inside one batch once', async () => {
      const res = await sut.ingest(
        request([
          { event_type: 'login_failed', idempotency_key: 'same' },
          { event_type: 'login_failed', idempotency_key: 'same' },
        ]),
      );
      expect(res).toMatchObject({ accepted: 1, duplicates: 1, rejected: 0 });
      expect(res.results[1]).toEqual({ index: 1, status: 'duplicate', id: (res.results[0] as { id: string }).id });
      expect(publisher.published.flat()).toHaveLength(1);
    });

    it('should not record a key whose write failed, so the retry publishes', async () => {
      const body = { event_type: 'login_failed' };
      publisher.failWith = new Error('broker down');
      await expect(sut.ingest(request([body], { idempotencyKey: 'k' }))).rejects.toThrow('broker down');
      expect(keys.rows.size).toBe(0);
      publisher.failWith = undefined;
      const retry = await sut.ingest(request([body], { idempotencyKey: 'k' }));
      expect(retry.accepted).toBe(1);
      expect(keys.rows.size).toBe(1);
    });
  });

  describe('restore (internal: events coming back from a checked archive)', () => {
    const archived = {
      id: '0190a8e2-7c3b-7000-8000-000000000001',
      event_type: 'user_login',
      timestamp: '2025-06-01T10:00:00.000000Z',
      received_at: '2025-06-01T10:00:00.250000Z',
      idempotency_key: 'txn-9',
    };

    it('should keep the archived received_at, which any other request has stamped by the server', async () => {
      const restored = await sut.ingest(request([archived], { restore: true }));
      expect(restored.results[0]).toMatchObject({ status: 'accepted', event: { received_at: '2025-06-01T10:00:00.250000Z' } });
      const posted = await sut.ingest(request([{ ...archived, id: undefined, idempotency_key: undefined }]));
      expect(posted.results[0]).toMatchObject({ status: 'accepted' });
      expect((posted.results[0] as { event: AuditEvent }).event.received_at).not.toBe('2025-06-01T10:00:00.250000Z');
    });

    it('should neither check nor record idempotency keys: the ids dedupe what is online', async () => {
      await sut.ingest(request([{ event_type: 'login_failed' }], { idempotencyKey: 'txn-9' }));
      const restored = await sut.ingest(request([archived], { restore: true }));
      expect(restored.results[0]).toMatchObject({ status: 'accepted', id: archived.id });
      expect([...keys.rows.values()].map((r) => r.eventId)).not.toContain(archived.id);
    });

    it('should name an unreadable received_at', async () => {
      const r = await sut.ingest(request([{ ...archived, received_at: 'yesterday' }], { restore: true }));
      expect(r.results[0]).toMatchObject({ status: 'rejected', errors: [{ field: '/received_at' }] });
    });
  });

  describe('batches', () => {
    it('should publish the valid events of a batch and reject the others with a result each', async () => {
      const res = await sut.ingest(request([{ event_type: 'login_failed' }, { description: 'no type' }, { event_type: 'job_failed' }]));
      expect(res).toMatchObject({ accepted: 2, duplicates: 0, rejected: 1 });
      expect(res.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
      expect(publisher.published).toHaveLength(1);
      expect(publisher.published[0].map((e) => e.event_type)).toEqual(['login_failed', 'job_failed']);
    });

    it('should refuse an empty batch and one over 5000 events before publishing', async () => {
      await expect(sut.ingest(request([]))).rejects.toMatchObject({ code: ErrorCode.ValidationFailed, status: 400 });
      const big = Array.from({ length: 5001 }, () => ({ event_type: 'login_failed' }));
      const err = await sut.ingest(request(big)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditError);
      expect(err).toMatchObject({ code: ErrorCode.BatchTooLarge, status: 413 });
      expect(publisher.published).toEqual([]);
    });
  });

  describe('key expiry', () => {
    afterEach(() => jest.useRealTimers());

    it('should delete expired keys on its interval until closed', async () => {
      jest.useFakeTimers();
      // given a service that expires keys every minute
      const timed = new IngestService(publisher, keys, { expireEveryMs: 60_000 });
      // when three minutes pass
      await jest.advanceTimersByTimeAsync(3 * 60_000);
      // then it expired three times, and none after close
      expect(keys.expireCalls).toBe(3);
      await timed.close();
      await jest.advanceTimersByTimeAsync(3 * 60_000);
      expect(keys.expireCalls).toBe(3);
    });

    it('should survive a failed expiry and try again on the next run', async () => {
      let calls = 0;
      const failing: IdempotencyStore = {
        find: keys.find.bind(keys),
        save: keys.save.bind(keys),
        countExpired: keys.countExpired.bind(keys),
        ttlHours: keys.ttlHours,
        expire: async () => {
          calls++;
          if (calls === 1) throw new Error('database away');
          return 2;
        },
      };
      const svc = new IngestService(publisher, failing, { expireEveryMs: 0 });
      await expect(svc.expireKeys()).resolves.toBe(0);
      await expect(svc.expireKeys()).resolves.toBe(2);
    });

    it("should count the expired keys for a dry run and delete them on demand, a failure being the caller's", async () => {
      // given a store holding 4 keys past their window
      keys.expiredRows = 4;
      const svc = new IngestService(publisher, keys, { expireEveryMs: 0 });
      // when asked for a dry run, then they are counted and kept
      await expect(svc.expiredIdempotencyKeys(false)).resolves.toEqual({ expired: 4, window_hours: 24 });
      expect(keys.expireCalls).toBe(0);
      // when applied, then they are deleted, and a second run finds none
      await expect(svc.expiredIdempotencyKeys(true)).resolves.toEqual({ expired: 4, window_hours: 24 });
      await expect(svc.expiredIdempotencyKeys(true)).resolves.toEqual({ expired: 0, window_hours: 24 });
      // and a store that fails answers with its error (the timer's run swallows it; a request must not)
      const broken: IdempotencyStore = {
        find: keys.find.bind(keys),
        save: keys.save.bind(keys),
        countExpired: keys.countExpired.bind(keys),
        ttlHours: keys.ttlHours,
        expire: () => Promise.reject(new Error('database away')),
      };
      const failing = new IngestService(publisher, broken, { expireEveryMs: 0 });
      await expect(failing.expiredIdempotencyKeys(true)).rejects.toThrow('database away');
      // and without a key store there is nothing to expire
      await expect(new IngestService(publisher, undefined).expiredIdempotencyKeys(true)).resolves.toEqual({
        expired: 0,
        window_hours: null,
      });
    });
  });
});
