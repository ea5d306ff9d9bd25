import {
  AuditEvent,
  deserializeNormalizedEvent,
  deterministicUuid,
  DLQ_HEADERS,
  ErrorDetail,
  INGEST_HEADER,
  LIMITS,
  normalizeEvent,
  parseTimestampMicros,
  PRODUCER_ID_HEADER,
} from '@app/contracts';
import { BusRecord, OutgoingRecord } from '@app/event-bus';

/**
 * Which records a consumer may take as already normalized. The embedded log is written only by this
 * process's ingest side, which normalized each event just before appending it: there the gateway's records
 * are only shape-checked. On Kafka any producer may set the gateway header, so every record is validated.
 * Set by the host from the deployment, never from what a record claims.
 */
export type TrustPolicy = 'gateway-records' | 'none';

export type DecodedRecord =
  | {
      ok: true;
      event: AuditEvent;
      /** Written by the ingest gateway (its header), as opposed to a direct Kafka producer. */
      fromGateway: boolean;
      /** The producer chose the id (a direct producer's `id`, or a request's own `id` through the gateway). */
      producerChoseId: boolean;
    }
  | { ok: false; deadLetter: OutgoingRecord };

/** A refused record as it goes to audit.events.dlq.v1: its bytes unchanged, the reason and source in headers. */
export function deadLetterOf(record: BusRecord, code: string, errors: ErrorDetail[]): OutgoingRecord {
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
 * One log record to an event, validated exactly like an HTTP body (direct producers are first-class), or to
 * the dead letter that says why not. Pure: every consumer of the log decodes with it.
 */
export function decodeRecord(record: BusRecord, options: { trust: TrustPolicy; defaultTenant: string }): DecodedRecord {
  if (record.value.length > LIMITS.eventBytes) {
    return {
      ok: false,
      deadLetter: deadLetterOf(record, 'payload_too_large', [
        { field: '/', message: `the message is ${record.value.length} bytes; at most ${LIMITS.eventBytes} are allowed` },
      ]),
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(record.value.toString('utf8'));
  } catch (e) {
    return { ok: false, deadLetter: deadLetterOf(record, 'invalid_json', [{ field: '/', message: `not JSON: ${(e as Error).message}` }]) };
  }
  const declared = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown; received_at?: unknown }) : {};
  const fromGateway = record.headers[INGEST_HEADER.name] === INGEST_HEADER.value;
  const producerChoseId = fromGateway
    ? record.headers[PRODUCER_ID_HEADER.name] === PRODUCER_ID_HEADER.value
    : typeof declared.id === 'string';
  const trusted = fromGateway && options.trust === 'gateway-records' ? deserializeNormalizedEvent(raw) : undefined;
  if (trusted) return { ok: true, event: trusted, fromGateway, producerChoseId };
  // Only the gateway's received_at is believed; for a direct producer it is the record's log time.
  const receivedAtMicros =
    (fromGateway && typeof declared.received_at === 'string' ? parseTimestampMicros(declared.received_at) : undefined) ??
    Math.floor(record.timestampMs * 1000);
  const result = normalizeEvent(raw, {
    tenantId: options.defaultTenant,
    receivedAtMicros,
    trustTenantField: true,
    // A message without an id gets one from its log position, so its redelivery keeps the same id.
    fallbackId: typeof declared.id === 'string' ? undefined : deterministicUuid(`${record.topic}:${record.partition}:${record.offset}`),
  });
  if (!result.ok) return { ok: false, deadLetter: deadLetterOf(record, 'validation_failed', result.errors) };
  return { ok: true, event: result.event, fromGateway, producerChoseId };
}
