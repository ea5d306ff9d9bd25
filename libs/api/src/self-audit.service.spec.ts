import { IngestRequest, IngestResponse } from '@app/ingest';
import { IngestPort } from '@app/ingest';
import { ComponentHealth } from '@app/runtime';
import { SelfAuditEvent, SelfAuditService } from './self-audit.service';

class FakeIngest implements IngestPort {
  readonly requests: IngestRequest[] = [];
  failing = false;

  async ingest(request: IngestRequest): Promise<IngestResponse> {
    if (this.failing) throw new Error('log unavailable');
    this.requests.push(request);
    return { accepted: 1, duplicates: 0, rejected: 0, results: [] };
  }

  async expireIdempotencyKeys(): Promise<{ expired: number; window_hours: number | null }> {
    return { expired: 0, window_hours: null };
  }

  async health(): Promise<ComponentHealth> {
    return { ok: true };
  }
}

const denial = (ip: string, extra: Partial<SelfAuditEvent> = {}): SelfAuditEvent => ({
  tenantId: 't1',
  eventType: 'unauthorized_access',
  description: 'GET /audit/events denied',
  ipAddress: ip,
  metadata: { method: 'GET' },
  ...extra,
});

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe(SelfAuditService.name, () => {
  let ingest: FakeIngest;

  beforeEach(() => {
    ingest = new FakeIngest();
  });

  afterEach(() => jest.useRealTimers());

  it('should record an event through the ingest port as the service itself, in the given tenant', async () => {
    new SelfAuditService(ingest, true).record(denial('10.0.0.1', { userAgent: 'curl/8' }));
    await flush();
    expect(ingest.requests).toEqual([
      {
        events: [
          {
            event_type: 'unauthorized_access',
            description: 'GET /audit/events denied',
            metadata: { method: 'GET' },
            source: 'homepot-audit',
          },
        ],
        batch: false,
        tenantId: 't1',
        ipAddress: '10.0.0.1',
        userAgent: 'curl/8',
      },
    ]);
  });

  it('should record at most the limit of denials a minute per address, then say how many it suppressed', async () => {
    jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    // given a limit of 3 a minute
    const sut = new SelfAuditService(ingest, true, 3);
    // when one address is denied 5 times and another once
    for (let i = 0; i < 5; i++) sut.record(denial('10.0.0.1'));
    sut.record(denial('10.0.0.2'));
    // then 3 + 1 are recorded
    expect(ingest.requests.map((r) => r.ipAddress)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2']);
    // and the first denial of the next minute carries the count of the suppressed ones
    jest.setSystemTime(Date.UTC(2026, 0, 1, 0, 1, 1));
    sut.record(denial('10.0.0.1'));
    expect(ingest.requests).toHaveLength(5);
    expect(ingest.requests[4].events[0]).toMatchObject({ metadata: { suppressed_in_previous_minute: 2 } });
  });

  it('should not limit reads and configuration changes', () => {
    const sut = new SelfAuditService(ingest, true, 1);
    for (let i = 0; i < 3; i++) sut.record(denial('10.0.0.1', { eventType: 'config_updated' }));
    expect(ingest.requests).toHaveLength(3);
  });

  it('should record reads only when read auditing is on, with path and query apart', () => {
    const req = { url: '/audit/events?category=security', method: 'GET' };
    const who = { ipAddress: '10.0.0.9', principal: { name: 'reader' } };
    new SelfAuditService(ingest, false).recordRead(req, 't1', 'searched audit events', who);
    expect(ingest.requests).toEqual([]);
    new SelfAuditService(ingest, true).recordRead(req, 't1', 'searched audit events', who, { result_count: 4 });
    expect(ingest.requests[0].events[0]).toMatchObject({
      event_type: 'api_access',
      metadata: { method: 'GET', path: '/audit/events', query: 'category=security', api_key: 'reader', result_count: 4 },
    });
  });

  it('should survive a log that refuses the event (the request it audits still gets its answer)', async () => {
    ingest.failing = true;
    expect(() => new SelfAuditService(ingest, true).record(denial('10.0.0.1'))).not.toThrow();
    await flush();
    expect(ingest.requests).toEqual([]);
  });
});
