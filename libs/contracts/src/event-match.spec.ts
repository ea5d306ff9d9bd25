import type { AuditEvent } from './audit-event';
import { flattenMetadata, matchesEventFilter } from './event-match';
import { parseEventFilter } from './event-filter';
import { parseTimestampMicros } from './time';

const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
  schema_version: 1,
  id: '0190a5c2-7b1e-7000-8000-000000000001',
  tenant_id: 'acme',
  event_type: 'login_failed',
  category: 'security_events',
  severity: 'warning',
  description: 'Login failed for Bob',
  metadata: { site_id: 's-1', device: { id: 'd-7', tags: ['a', 'b'] }, retries: 2, admin: false },
  timestamp: '2026-01-05T10:00:00.000000Z',
  received_at: '2026-01-05T10:00:00.100000Z',
  ip_address: '10.0.0.5',
  user_agent: 'curl/8',
  session_id: 'sess-1',
  source: 'auth-service',
  idempotency_key: '',
  ...over,
});

/** The filter as GET /audit/events parses it from its query string. */
const filter = (query: Record<string, string | string[]>) =>
  parseEventFilter(query, parseTimestampMicros('2026-01-05T12:00:00Z')!, false).filter;

describe(matchesEventFilter.name, () => {
  it('should match everything with an empty filter', () => {
    expect(matchesEventFilter(event(), filter({}))).toBe(true);
  });

  it.each<[Record<string, string | string[]>, boolean]>([
    [{ event_type: 'login_failed' }, true],
    [{ event_type: 'login_success,login_failed' }, true],
    [{ event_type: 'login_success' }, false],
    [{ category: 'security' }, true],
    [{ category: 'system_events' }, false],
    [{ severity: 'warning,error' }, true],
    [{ severity: 'info' }, false],
    [{ 'metadata.site_id': 's-1' }, true],
    [{ 'metadata.site_id': 's-2' }, false],
    [{ 'metadata.device.id': 'd-7' }, true],
    [{ 'metadata.device.tags': '["a","b"]' }, true],
    [{ 'metadata.retries': '2', 'metadata.admin': 'false' }, true],
    [{ 'metadata.site_id': ['s-1', 's-2'] }, false],
    [{ 'metadata.missing': '' }, true],
    [{ 'metadata.missing': 'x' }, false],
    [{ q: 'FAILED for bob' }, true],
    [{ q: 'succeeded' }, false],
    [{ source: 'auth-service' }, true],
    [{ source: 'auth' }, false],
    [{ ip_address: '10.0.0.5', session_id: 'sess-1' }, true],
    [{ session_id: 'sess-2' }, false],
    [{ since: '2h' }, true],
    [{ since: '1h' }, false],
    [{ start: '2026-01-05', end: '2026-01-05' }, true],
    [{ end: '2026-01-04' }, false],
    [{ category: 'security', severity: 'warning', 'metadata.site_id': 's-2' }, false],
  ])('given %j, should answer %s', (query, expected) => {
    expect(matchesEventFilter(event(), filter(query))).toBe(expected);
  });
});

describe(flattenMetadata.name, () => {
  it('should dot nested keys, stringify scalars and keep arrays as JSON', () => {
    expect(flattenMetadata({ a: { b: 1, c: [1, 2] }, d: null, e: true })).toEqual({ 'a.b': '1', 'a.c': '[1,2]', d: '', e: 'true' });
  });
});
