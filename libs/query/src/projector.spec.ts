import { INGEST_HEADER, LIMITS, TOPIC_EVENTS } from '@app/contracts';
import { BusBatch, BusRecord } from '@app/event-bus';
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

describe('processBatch', () => {
  const declared = { event_type: 'login_failed', received_at: '2025-01-01T00:00:00Z', timestamp: '2025-01-01T00:00:00Z' };

  it('should keep received_at only from the ingest gateway, else take the broker time', () => {
    const out = processBatch(
      batch([record(0, declared, { [INGEST_HEADER.name]: INGEST_HEADER.value }), record(1, declared)]),
      -1n,
      'default',
    );
    expect(out.events.map((e) => e.received_at)).toEqual(['2025-01-01T00:00:00.000000Z', '2026-01-01T12:00:00.000000Z']);
  });

  it('should give an id-less message a stable id from its position, and mark redeliveries as suspects', () => {
    const a = processBatch(batch([record(5, { event_type: 'job_created' })]), -1n, 'default');
    const b = processBatch(batch([record(5, { event_type: 'job_created' })]), 5n, 'default');
    expect(a.events[0].id).toBe(b.events[0].id);
    expect(a.suspectIds).toEqual([]);
    expect(b.suspectIds).toEqual([b.events[0].id]);
  });

  it('should check a copy of the same bytes by time, and a retried request or producer-chosen id at any time', () => {
    const gateway = { [INGEST_HEADER.name]: INGEST_HEADER.value };
    const id = '0190f0f0-0000-7000-8000-000000000001';
    const out = processBatch(
      batch([
        record(0, { event_type: 'job_created', id }, gateway),
        record(1, { event_type: 'job_created', idempotency_key: 'k1' }, gateway),
        record(2, { event_type: 'job_created', id: '0190f0f0-0000-7000-8000-000000000002' }),
      ]),
      -1n,
      'default',
    );
    expect(out.suspectIds).toEqual([id]);
    expect(out.anyTimeSuspectIds).toEqual([out.events[1].id, '0190f0f0-0000-7000-8000-000000000002']);
  });

  it('should send unparsable, invalid and oversized messages to the DLQ with the reason', () => {
    const big = { event_type: 'login_failed', description: 'x'.repeat(8000), metadata: { pad: 'y'.repeat(LIMITS.eventBytes) } };
    const out = processBatch(
      batch([record(0, '{nope'), record(1, { event_type: 'Bad' }), record(2, big), record(3, { event_type: 'login_failed' })]),
      -1n,
      'default',
    );
    expect(out.rows).toHaveLength(1);
    expect(out.rejected.map((r) => r.headers?.['x-audit-error-code'])).toEqual(['invalid_json', 'validation_failed', 'payload_too_large']);
    expect(out.rejected[1].headers?.['x-audit-source-offset']).toBe('1');
  });
});
