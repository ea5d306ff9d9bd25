import {
  AuditEvent,
  deterministicUuid,
  DLQ_HEADERS,
  ErrorDetail,
  INGEST_HEADER,
  LIMITS,
  normalizeEvent,
  parseTimestampMicros,
  TOPIC_EVENTS_DLQ,
} from '@app/contracts';
import { BusBatch, BusRecord, OutgoingRecord } from '@app/event-bus';
import { EventRow, eventToRow } from './event-row.mapper';

export interface ProcessedBatch {
  rows: EventRow[];
  events: AuditEvent[];
  rejected: OutgoingRecord[];
  /**
   * Events whose id may already be stored, as a redelivery or a retried send of the same bytes (so a stored
   * copy has the same event time): checked only within the batch's time range, which the sort key prunes.
   */
  suspectIds: string[];
  /**
   * Events whose copy may carry another event time: a retried request with an idempotency key, or a direct
   * producer's retry with its own id. Checked by id alone.
   */
  anyTimeSuspectIds: string[];
}

function decode(record: BusRecord): unknown {
  return JSON.parse(record.value.toString('utf8'));
}

function toDlq(record: BusRecord, code: string, errors: ErrorDetail[]): OutgoingRecord {
  const message = errors
    .map((e) => `${e.field ?? ''}: ${e.message}`)
    .join('; ')
    .slice(0, 1000);
  return {
    key: record.key ?? `${record.partition}:${record.offset}`,
    value: record.value,
    headers: {
      ...record.headers,
      [DLQ_HEADERS.errorCode]: code,
      [DLQ_HEADERS.errorMessage]: message,
      [DLQ_HEADERS.sourceTopic]: record.topic,
      [DLQ_HEADERS.sourcePartition]: String(record.partition),
      [DLQ_HEADERS.sourceOffset]: record.offset,
    },
  };
}

/**
 * Pure message-to-row step of the query-store consumer. Messages are validated exactly like HTTP bodies
 * (direct producers are first-class); invalid ones become DLQ records carrying the reason.
 */
export function processBatch(batch: BusBatch, replayWatermark: bigint, defaultTenant: string): ProcessedBatch {
  const rows: EventRow[] = [];
  const events: AuditEvent[] = [];
  const rejected: OutgoingRecord[] = [];
  const suspectIds: string[] = [];
  const anyTimeSuspectIds: string[] = [];
  const seen = new Set<string>();
  for (const record of batch.records) {
    if (record.value.length > LIMITS.eventBytes) {
      rejected.push(
        toDlq(record, 'payload_too_large', [
          { field: '/', message: `the message is ${record.value.length} bytes; at most ${LIMITS.eventBytes} are allowed` },
        ]),
      );
      continue;
    }
    let raw: unknown;
    try {
      raw = decode(record);
    } catch (e) {
      rejected.push(toDlq(record, 'invalid_json', [{ field: '/', message: `not JSON: ${(e as Error).message}` }]));
      continue;
    }
    const declared = raw !== null && typeof raw === 'object' ? (raw as { received_at?: unknown; id?: unknown }) : {};
    const fromGateway = record.headers[INGEST_HEADER.name] === INGEST_HEADER.value;
    const receivedAtMicros =
      (fromGateway && typeof declared.received_at === 'string' ? parseTimestampMicros(declared.received_at) : undefined) ??
      Math.floor(record.timestampMs * 1000);
    const result = normalizeEvent(raw, {
      tenantId: defaultTenant,
      receivedAtMicros,
      trustTenantField: true,
      // A message without an id gets one from its log position, so its redelivery keeps the same id.
      fallbackId: deterministicUuid(`${record.topic}:${record.partition}:${record.offset}`),
    });
    if (!result.ok) {
      rejected.push(toDlq(record, 'validation_failed', result.errors));
      continue;
    }
    const event = result.event;
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const redelivered = BigInt(record.offset) <= replayWatermark;
    if (event.idempotency_key !== '' || (!fromGateway && !redelivered && typeof declared.id === 'string')) {
      anyTimeSuspectIds.push(event.id);
    } else if (redelivered || fromGateway) {
      suspectIds.push(event.id);
    }
    rows.push(eventToRow(event, { partition: record.partition, offset: record.offset }));
    events.push(event);
  }
  return { rows, events, rejected, suspectIds, anyTimeSuspectIds };
}

/** Same log range, same token: a retried insert of an unchanged batch is dropped by ClickHouse. */
export function dedupToken(batch: BusBatch): string {
  return `${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`;
}

export { TOPIC_EVENTS_DLQ };
