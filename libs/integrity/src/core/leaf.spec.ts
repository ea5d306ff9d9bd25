import { AuditEvent } from '@app/contracts';
import { hashLeaf } from './merkle';
import {
  canonicalJson,
  encodeLeaf,
  encodeLeafV1,
  LEAF_V1_FIELDS,
  LEAF_V2_FIELDS,
  LEAF_VERSION_2,
  leafEncodingOf,
  leafHashOf,
} from './leaf';

const event: AuditEvent = {
  schema_version: 1,
  id: '0190b0c6-0000-7000-8000-000000000001',
  tenant_id: 't1',
  event_type: 'user_login',
  category: 'authentication',
  severity: 'info',
  description: 'login',
  metadata: { z: 1, a: { y: [1, 'é'], b: null } },
  timestamp: '2026-01-02T03:04:05.123456Z',
  received_at: '2026-01-02T03:04:05.200000Z',
  ip_address: '10.0.0.1',
  user_agent: 'ua',
  session_id: 's',
  source: 'app',
  idempotency_key: '',
};

describe('leaf encoding v1', () => {
  it('should serialise JSON as RFC 8785 does (sorted keys by UTF-16 units, ES numbers)', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 1e21, 0.1], '\u20ac': 'x', '\ud83d\ude00': 'y', c: -0 })).toBe(
      '{"a":[true,null,1e+21,0.1],"b":1,"c":0,"\u20ac":"x","\ud83d\ude00":"y"}',
    );
    expect(() => canonicalJson({ a: NaN })).toThrow(TypeError);
  });

  it('should start with the version byte and cover every field but the log position', () => {
    const bytes = encodeLeafV1({ ...event, position: { partition: 1, offset: '9' } } as AuditEvent);
    expect(bytes[0]).toBe(0x01);
    const json = bytes.subarray(1).toString('utf8');
    expect(json.startsWith('{"category":"authentication","description":"login","event_type":"user_login","id":')).toBe(true);
    expect(json).not.toContain('position');
    expect(JSON.parse(json)).toEqual(event);
  });

  it('should build the same bytes as the generic JCS of the fields (the fixed key order is only a shortcut)', () => {
    const fields = Object.fromEntries(LEAF_V1_FIELDS.map((f) => [f, event[f]]));
    expect(encodeLeafV1(event).subarray(1).toString('utf8')).toBe(canonicalJson(fields));
  });

  it('should hash exactly the leaf bytes (RFC 6962 leaf of encodeLeafV1), multi-byte text included', () => {
    for (const e of [event, { ...event, description: 'zwölf € \ud83d\ude00 "quoted" \\ \u0000 end', metadata: { '\u20ac': ['ü'] } }]) {
      expect(leafHashOf(e)).toEqual(hashLeaf(encodeLeafV1(e)));
    }
    expect(leafHashOf(event).toString('hex')).not.toBe(hashLeaf(encodeLeafV1({ ...event, source: 'other' })).toString('hex'));
  });

  it('should give one hash for one event whatever the key order or timestamp spelling, another for any edit', () => {
    const reordered = { ...event, metadata: { a: { b: null, y: [1, 'é'] }, z: 1 }, timestamp: '2026-01-02T04:04:05.123456+01:00' };
    expect(leafHashOf(reordered)).toEqual(leafHashOf(event));
    expect(leafHashOf({ ...event, description: 'login!' })).not.toEqual(leafHashOf(event));
    expect(leafHashOf({ ...event, metadata: { z: 2, a: { y: [1, 'é'], b: null } } })).not.toEqual(leafHashOf(event));
  });
});

describe('leaf encoding v2 (events with a sequence)', () => {
  const sequenced = { ...event, sequence: 42 } as AuditEvent;

  it('should be v2 exactly for an event with a sequence, v1 (unchanged) for the rest', () => {
    expect([leafEncodingOf(event), leafEncodingOf(sequenced)]).toEqual(['v1', 'v2']);
    expect(encodeLeaf(event)).toEqual(encodeLeafV1(event));
    const bytes = encodeLeaf(sequenced);
    expect(bytes[0]).toBe(LEAF_VERSION_2);
    const fields = Object.fromEntries(LEAF_V2_FIELDS.map((f) => [f, (sequenced as unknown as Record<string, unknown>)[f]]));
    expect(bytes.subarray(1).toString('utf8')).toBe(canonicalJson(fields));
    expect(JSON.parse(bytes.subarray(1).toString('utf8')).sequence).toBe(42);
  });

  it('should change the leaf when a sequence is edited, stripped or added', () => {
    const base = leafHashOf(sequenced);
    expect(leafHashOf({ ...sequenced, sequence: 43 })).not.toEqual(base);
    const { sequence: _s, ...stripped } = sequenced;
    expect(leafHashOf(stripped as AuditEvent)).not.toEqual(base);
    expect(leafHashOf(stripped as AuditEvent)).toEqual(leafHashOf(event));
    expect(leafHashOf({ ...event, sequence: 0 } as AuditEvent)).not.toEqual(leafHashOf(event));
  });
});

it('should hash a v2 leaf in one call exactly as hashLeaf(encodeLeaf(event))', () => {
  const sequenced = { ...event, sequence: 7, description: 'naïve ✓ 😀' } as AuditEvent;
  expect(leafHashOf(sequenced)).toEqual(hashLeaf(encodeLeaf(sequenced)));
});
