import {
  CONTROL_CHARS_MESSAGE,
  deserializeNormalizedEvent,
  LONE_SURROGATE_MESSAGE,
  normalizeEvent,
  serializeEvent,
} from './validate-event';
import { formatMicros, parseTimestampMicros } from './time';
import { deterministicUuid, isUuid, uuidv7 } from './ids';
import { canonicalCategory, EVENT_TYPES, findEventType } from './catalogue';

const ctx = { tenantId: 'default', receivedAtMicros: Date.UTC(2026, 0, 2) * 1000, trustTenantField: false };

describe('normalizeEvent', () => {
  it('should fill category, severity and description from the catalogue', () => {
    const r = normalizeEvent({ event_type: 'login_failed' }, ctx);
    expect(r.ok && r.event).toMatchObject({
      category: 'security_events',
      severity: 'warning',
      description: 'Failed login attempt',
      tenant_id: 'default',
    });
  });

  it('should take request facts only where the body lacks them', () => {
    const r = normalizeEvent(
      { event_type: 'login_failed', ip_address: '10.0.0.1' },
      { ...ctx, ipAddress: '127.0.0.1', userAgent: 'ua', sessionId: 's' },
    );
    expect(r.ok && r.event).toMatchObject({ ip_address: '10.0.0.1', user_agent: 'ua', session_id: 's' });
  });

  it('should read a timestamp without a zone as UTC and keep microseconds', () => {
    const r = normalizeEvent({ event_type: 'login_failed', timestamp: '2025-09-01T15:30:45.123456' }, ctx);
    expect(r.ok && r.event.timestamp).toBe('2025-09-01T15:30:45.123456Z');
  });

  it('should map category aliases and require a category for custom types', () => {
    const ok = normalizeEvent({ event_type: 'transaction_processed', category: 'business' }, ctx);
    expect(ok.ok && ok.event.category).toBe('business_events');
    const bad = normalizeEvent({ event_type: 'transaction_processed' }, ctx);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors[0].field).toBe('/category');
  });

  it('should refuse a tenant in the body unless the source is trusted', () => {
    const http = normalizeEvent({ event_type: 'login_failed', tenant_id: 'other' }, ctx);
    expect(http.ok).toBe(false);
    expect(!http.ok && http.errors).toEqual([
      { field: '/tenant_id', message: 'must not be set over HTTP: the tenant comes from the API key' },
    ]);
    const kafka = normalizeEvent({ event_type: 'login_failed', tenant_id: 'other' }, { ...ctx, trustTenantField: true });
    expect(kafka.ok && kafka.event.tenant_id).toBe('other');
  });

  it('should derive the same id from the same idempotency key, per event of a batch', () => {
    const a = normalizeEvent({ event_type: 'login_failed' }, { ...ctx, requestIdempotencyKey: 'k', batchIndex: 2 });
    const b = normalizeEvent({ event_type: 'login_failed' }, { ...ctx, requestIdempotencyKey: 'k', batchIndex: 2 });
    const c = normalizeEvent({ event_type: 'login_failed' }, { ...ctx, requestIdempotencyKey: 'k', batchIndex: 3 });
    if (!a.ok || !b.ok || !c.ok) throw new Error(`expected three valid events: ${JSON.stringify([a, b, c])}`);
    expect(b.event.id).toBe(a.event.id);
    expect(c.event.id).not.toBe(a.event.id);
    expect(a.event.idempotency_key).toBe('k:2');
  });

  it.each([
    [{ event_type: 'x', metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } }, '/metadata/a/b/c/d/e', /deeper/],
    [{ event_type: 'x', category: 'c', metadata: { 'bad key': 1 } }, '/metadata', /metadata key/],
    [{ event_type: 'x', category: 'c', description: 'a\u0000b' }, '/description', /control characters/],
    [{ event_type: 'x', category: 'c', timestamp: '1999-12-31T23:59:59Z' }, '/timestamp', /2000/],
    [{ event_type: 'x', category: 'c', severity: 'fatal' }, '/severity', /must be one of/],
    [{ event_type: 'x', category: 'c', surprise: 1 }, '/', /unknown field 'surprise'/],
  ])('should refuse %j at %s', (input, field, message) => {
    const r = normalizeEvent(input, ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.map((e) => e.field)).toContain(field);
      expect(r.errors.map((e) => e.message).join(' ')).toMatch(message);
    }
  });

  describe('strings the store cannot hold or a reader should not see', () => {
    const lone = ['a\ud800', '\ud800b', 'a\udc00b', 'a\udc00\ud800b', '\udbff'];
    const controls = ['a\u0000b', 'a\u001bb', 'a\u007fb', 'a\u0085b', 'a\u009bb', '\u000b'];
    const places: Array<[string, (s: string) => Record<string, unknown>]> = [
      ['/description', (s) => ({ description: s })],
      ['/user_agent', (s) => ({ user_agent: s })],
      ['/session_id', (s) => ({ session_id: s })],
      ['/metadata/k', (s) => ({ metadata: { k: s } })],
      ['/metadata/a/b/c/d', (s) => ({ metadata: { a: { b: { c: { d: s } } } } })],
      ['/metadata/a/1/x', (s) => ({ metadata: { a: [1, { x: s }] } })],
    ];

    it.each(places)('should refuse an unpaired surrogate at %s', (field, build) => {
      for (const s of lone) {
        const r = normalizeEvent({ event_type: 'x', category: 'c', ...build(s) }, ctx);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.errors).toEqual([{ field, message: LONE_SURROGATE_MESSAGE }]);
      }
    });

    it.each(places)('should refuse control characters alike at %s', (field, build) => {
      for (const s of controls) {
        const r = normalizeEvent({ event_type: 'x', category: 'c', ...build(s) }, ctx);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.errors).toEqual([{ field, message: CONTROL_CHARS_MESSAGE }]);
      }
    });

    it('should refuse a metadata key with an unpaired surrogate at any depth', () => {
      const top = normalizeEvent({ event_type: 'x', category: 'c', metadata: { 'k\ud800': 1 } }, ctx);
      expect(!top.ok && new Set(top.errors.map((e) => e.field))).toEqual(new Set(['/metadata']));
      const deep = normalizeEvent({ event_type: 'x', category: 'c', metadata: { a: { b: [{ 'k\udc00': 1 }] } } }, ctx);
      expect(!deep.ok && deep.errors.map((e) => e.field)).toEqual(['/metadata/a/b/0']);
    });

    it('should keep what the store holds byte for byte: pairs, noncharacters, bidi marks, tab, CR, LF', () => {
      const kept = 'a\ud83d\ude00 \ufffe\uffff\ufdd0\ud83f\udffe \u200f\u202e\u2066 \u2028\ufeff\t\r\n\ufffd';
      const r = normalizeEvent(
        { event_type: 'x', category: 'c', description: kept, session_id: kept, metadata: { k: kept, a: [kept] } },
        ctx,
      );
      expect(r.ok && r.event.description).toBe(kept);
      expect(r.ok && r.event.session_id).toBe(kept);
      expect(r.ok && r.event.metadata).toEqual({ k: kept, a: [kept] });
    });

    it('should refuse the same on the Kafka path', () => {
      const r = normalizeEvent(
        { event_type: 'x', category: 'c', tenant_id: 't', metadata: { k: 'a\ud800' } },
        { ...ctx, trustTenantField: true },
      );
      expect(!r.ok && r.errors).toEqual([{ field: '/metadata/k', message: LONE_SURROGATE_MESSAGE }]);
    });
  });

  it('should serialize to JSON that validates again as input', () => {
    const r = normalizeEvent({ event_type: 'device_registered', metadata: { site_id: 'S' } }, ctx);
    if (!r.ok) throw new Error('expected ok');
    const again = normalizeEvent(JSON.parse(serializeEvent(r.event)), { ...ctx, trustTenantField: true });
    expect(again.ok && again.event).toEqual(r.event);
  });

  it('should read its own serialization back as written, and refuse anything of another shape', () => {
    const r = normalizeEvent({ event_type: 'login_failed', metadata: { user_id: 'u' }, source: 'pos', idempotency_key: 'k' }, ctx);
    if (!r.ok) throw new Error('expected ok');
    expect(deserializeNormalizedEvent(JSON.parse(serializeEvent(r.event)))).toEqual(r.event);
    const wire = JSON.parse(serializeEvent(r.event)) as Record<string, unknown>;
    for (const bad of [{ schema_version: 2 }, { id: 1 }, { metadata: [] }, { metadata: null }, { source: 5 }, { timestamp: undefined }]) {
      expect(deserializeNormalizedEvent({ ...wire, ...bad })).toBeUndefined();
    }
    expect(deserializeNormalizedEvent('x')).toBeUndefined();
  });

  it('should keep a per-source sequence through the log encoding and refuse one that is not a safe integer >= 0', () => {
    const r = normalizeEvent({ event_type: 'login_failed', source: 'pos-7', sequence: 42 }, ctx);
    if (!r.ok) throw new Error('expected ok');
    expect(r.event.sequence).toBe(42);
    expect(deserializeNormalizedEvent(JSON.parse(serializeEvent(r.event)))).toEqual(r.event);
    const plain = normalizeEvent({ event_type: 'login_failed' }, ctx);
    expect(plain.ok && 'sequence' in plain.event).toBe(false);
    for (const sequence of [-1, 1.5, '3', 2 ** 53]) {
      const bad = normalizeEvent({ event_type: 'login_failed', source: 'pos-7', sequence }, ctx);
      expect(!bad.ok && bad.errors.map((e) => e.field)).toEqual(['/sequence']);
    }
    const orphan = normalizeEvent({ event_type: 'login_failed', sequence: 1 }, ctx);
    expect(!orphan.ok && orphan.errors).toEqual([
      { field: '/sequence', message: 'needs a source: a sequence counts the events of one source' },
    ]);
    expect(normalizeEvent({ event_type: 'login_failed', sequence: 1 }, { ...ctx, source: 'hdr' }).ok).toBe(true);
  });
});

describe('time and ids', () => {
  it('should parse zones, fractions and refuse impossible dates', () => {
    expect(parseTimestampMicros('2025-01-01T01:00:00+01:00')).toBe(Date.UTC(2025, 0, 1) * 1000);
    expect(parseTimestampMicros('2025-01-01 00:00:00.5Z')).toBe(Date.UTC(2025, 0, 1) * 1000 + 500_000);
    expect(parseTimestampMicros('2025-02-30T00:00:00Z')).toBeUndefined();
    expect(parseTimestampMicros('24h')).toBeUndefined();
    expect(formatMicros(Date.UTC(2025, 0, 1) * 1000 + 7)).toBe('2025-01-01T00:00:00.000007Z');
  });

  it('should make time-ordered v7 ids and stable name-based ids', () => {
    const ids = Array.from({ length: 1000 }, () => uuidv7(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every(isUuid)).toBe(true);
    expect(deterministicUuid('a')).toBe(deterministicUuid('a'));
    expect(deterministicUuid('a')).not.toBe(deterministicUuid('b'));
  });

  it('should have a catalogue of 40+ unique types whose categories are canonical', () => {
    expect(EVENT_TYPES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(EVENT_TYPES.map((t) => t.event_type)).size).toBe(EVENT_TYPES.length);
    for (const t of EVENT_TYPES) expect(canonicalCategory(t.category)).toBe(t.category);
    expect(findEventType('config_updated')?.category).toBe('system_events');
  });
});
