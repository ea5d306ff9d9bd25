import { INGEST_HEADER, LIMITS, normalizeEvent, PRODUCER_ID_HEADER, serializeEvent, TOPIC_EVENTS } from '@app/contracts';
import { BusBatch, BusRecord } from '@app/event-bus';
import { EventRow, eventToRow } from './event-row.mapper';
import { processBatch } from './projector';

const record = (offset: number, value: unknown, headers: Record<string, string> = {}): BusRecord => ({
  topic: TOPIC_EVENTS,
  partition: 0,
  offset: String(offset),
  timestampMs: Date.UTC(2026, 0, 1, 12),
  key: null,
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers,
});

const batch = (records: BusRecord[]): BusBatch => ({
  topic: TOPIC_EVENTS,
  partition: 0,
  records,
  firstOffset: records[0].offset,
  lastOffset: records[records.length - 1].offset,
  heartbeat: async () => undefined,
});

/** The stored rows of a processed batch, as the store receives them. */
const rowsOf = (out: ReturnType<typeof processBatch>): EventRow[] => out.rows.map((r) => JSON.parse(r.line) as EventRow);

describe('processBatch', () => {
  it('should send duplicate keys, excessive nesting and invalid UTF-8 to the DLQ and keep the rest', () => {
    const deep = '{"event_type":"x","category":"c","metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5001);
    const records = [
      record(0, '{"event_type":"login_failed","event_type":"logout"}'),
      record(1, deep),
      { ...record(2, ''), value: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) },
      record(3, { event_type: 'login_failed' }),
    ];
    const out = processBatch(batch(records), -1n, { defaultTenant: 'default' });
    expect(out.rows).toHaveLength(1);
    expect(out.rejected.map((r) => r.headers?.['x-audit-error-code'])).toEqual(['invalid_json', 'invalid_json', 'invalid_json']);
    const reasons = out.rejected.map((r) => r.headers?.['x-audit-error-message']);
    expect(reasons[0]).toMatch(/'event_type' appears twice/);
    expect(reasons[1]).toMatch(/nested deeper than 64/);
    expect(reasons[2]).toMatch(/not valid UTF-8/);
  });

  const declared = { event_type: 'login_failed', received_at: '2025-01-01T00:00:00Z', timestamp: '2025-01-01T00:00:00Z' };

  it('should keep received_at only from the ingest gateway, else take the broker time', () => {
    const out = processBatch(batch([record(0, declared, { [INGEST_HEADER.name]: INGEST_HEADER.value }), record(1, declared)]), -1n, {
      defaultTenant: 'default',
    });
    expect(rowsOf(out).map((e) => e.received_at)).toEqual(['2025-01-01 00:00:00.000000', '2026-01-01 12:00:00.000000']);
  });

  it('should give an id-less message a stable id from its position, and mark redeliveries as suspects', () => {
    const a = processBatch(batch([record(5, { event_type: 'job_created' })]), -1n, { defaultTenant: 'default' });
    const b = processBatch(batch([record(5, { event_type: 'job_created' })]), 5n, { defaultTenant: 'default' });
    expect(a.rows[0].id).toBe(b.rows[0].id);
    expect(a.suspectIds).toEqual([]);
    expect(b.suspectIds).toEqual([b.rows[0].id]);
  });

  it('should check a copy of the same bytes by time, and a retried request or producer-chosen id at any time', () => {
    const gateway = { [INGEST_HEADER.name]: INGEST_HEADER.value };
    const chosen = { ...gateway, [PRODUCER_ID_HEADER.name]: PRODUCER_ID_HEADER.value };
    const id = (n: number) => `0190f0f0-0000-7000-8000-00000000000${n}`;
    const records = [
      record(0, { event_type: 'job_created', id: id(1) }, gateway),
      record(1, { event_type: 'job_created', idempotency_key: 'k1' }, gateway),
      record(2, { event_type: 'job_created', id: id(2) }),
      record(3, { event_type: 'job_created', id: id(3) }, chosen),
    ];
    const kafka = processBatch(batch(records), -1n, { defaultTenant: 'default' });
    expect(kafka.suspectIds).toEqual([]);
    expect(kafka.retrySuspectIds).toEqual([id(1)]);
    expect(kafka.anyTimeSuspectIds).toEqual([kafka.rows[1].id, id(2), id(3)]);
    // On the embedded log a gateway record is appended once: only a redelivery of it can be a copy.
    const embedded = processBatch(batch(records), -1n, { defaultTenant: 'default', trustGatewayRecords: true });
    expect(embedded.suspectIds).toEqual([]);
    expect(embedded.retrySuspectIds).toEqual([]);
    expect(embedded.anyTimeSuspectIds).toEqual(kafka.anyTimeSuspectIds);
    const replayed = processBatch(batch(records), 0n, { defaultTenant: 'default', trustGatewayRecords: true });
    expect(replayed.suspectIds).toEqual([id(1)]);
  });

  it('should send unparsable, invalid and oversized messages to the DLQ with the reason', () => {
    const big = { event_type: 'login_failed', description: 'x'.repeat(8000), metadata: { pad: 'y'.repeat(LIMITS.eventBytes) } };
    const out = processBatch(
      batch([record(0, '{nope'), record(1, { event_type: 'Bad' }), record(2, big), record(3, { event_type: 'login_failed' })]),
      -1n,
      { defaultTenant: 'default' },
    );
    expect(out.rows).toHaveLength(1);
    expect(out.rejected.map((r) => r.headers?.['x-audit-error-code'])).toEqual(['invalid_json', 'validation_failed', 'payload_too_large']);
    expect(out.rejected[1].headers?.['x-audit-source-offset']).toBe('1');
  });

  it('should take a record of its own embedded log as written, and still validate one that is not in that shape', () => {
    const gateway = { [INGEST_HEADER.name]: INGEST_HEADER.value };
    const ok = normalizeEvent(
      { event_type: 'device_registered', metadata: { site_id: 'S1', nested: { a: 1 } }, ip_address: '10.0.0.1' },
      { tenantId: 't1', receivedAtMicros: Date.UTC(2026, 0, 1) * 1000, trustTenantField: false },
    );
    if (!ok.ok) throw new Error('expected a valid event');
    const written = JSON.parse(serializeEvent(ok.event)) as unknown;
    const forged = { event_type: 'Not a type', tenant_id: 't1' };
    const options = { defaultTenant: 'default', trustGatewayRecords: true };
    const out = processBatch(batch([record(0, written, gateway), record(1, forged, gateway)]), -1n, options);
    expect(rowsOf(out)).toEqual([eventToRow(ok.event, { partition: 0, offset: '0' })]);
    expect(out.rejected.map((r) => r.headers?.['x-audit-error-code'])).toEqual(['validation_failed']);
    // The same record validated in full gives the same row.
    const full = processBatch(batch([record(0, written, gateway)]), -1n, { defaultTenant: 'default' });
    expect(full.rows).toEqual(out.rows);
    expect(JSON.parse(out.rows[0].line)).toMatchObject({ tenant_id: 't1', metadata: { site_id: 'S1', 'nested.a': '1' } });
  });
});
