import { isUtf8 } from 'node:buffer';
import {
  AuditEvent,
  checkJsonStructure,
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
import { BusRecord, OutgoingRecord } from './event-bus.port';

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

/** `record` as the DLQ holds it: the message as it came, its origin and the reason in headers. */
export function dlqRecord(record: BusRecord, code: string, reason: string): OutgoingRecord {
  return {
    key: record.key ?? `${record.partition}:${record.offset}`,
    value: record.value,
    headers: {
      ...record.headers,
      [DLQ_HEADERS.errorCode]: code,
      [DLQ_HEADERS.errorMessage]: reason.slice(0, 1000),
      [DLQ_HEADERS.sourceTopic]: record.topic,
      [DLQ_HEADERS.sourcePartition]: String(record.partition),
      [DLQ_HEADERS.sourceOffset]: record.offset,
    },
  };
}

const refused = (record: BusRecord, code: string, errors: ErrorDetail[]): DecodedRecord => ({
  ok: false,
  deadLetter: dlqRecord(record, code, errors.map((e) => `${e.field ?? ''}: ${e.message}`).join('; ')),
});

/**
 * A message's value as JSON, held to the same rules as an HTTP body: UTF-8 (not decoded to U+FFFD), and no
 * duplicated key or excessive nesting (`checkJsonStructure`). Records this process's gateway wrote to the
 * embedded log are its own serialization and skip the structure pass.
 */
function parseValue(record: BusRecord, trustedWriter: boolean): unknown {
  if (trustedWriter) return JSON.parse(record.value.toString('utf8'));
  if (!isUtf8(record.value)) throw new Error('the value is not valid UTF-8');
  const text = record.value.toString('utf8');
  const raw: unknown = JSON.parse(text);
  const problem = checkJsonStructure(text, raw);
  if (problem) throw new Error(problem.message);
  return raw;
}

/**
 * One log record to an event, validated exactly like an HTTP body (direct producers are first-class), or to
 * the dead letter that says why not. Pure: every consumer of the log decodes with it.
 */
export function decodeRecord(record: BusRecord, options: { trust: TrustPolicy; defaultTenant: string }): DecodedRecord {
  if (record.value.length > LIMITS.eventBytes) {
    return refused(record, 'payload_too_large', [
      { field: '/', message: `the message is ${record.value.length} bytes; at most ${LIMITS.eventBytes} are allowed` },
    ]);
  }
  const fromGateway = record.headers[INGEST_HEADER.name] === INGEST_HEADER.value;
  const trustedWriter = fromGateway && options.trust === 'gateway-records';
  let raw: unknown;
  try {
    raw = parseValue(record, trustedWriter);
  } catch (e) {
    return refused(record, 'invalid_json', [{ field: '/', message: `not JSON: ${(e as Error).message}` }]);
  }
  const declared = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown; received_at?: unknown }) : {};
  const producerChoseId = fromGateway
    ? record.headers[PRODUCER_ID_HEADER.name] === PRODUCER_ID_HEADER.value
    : typeof declared.id === 'string';
  const trusted = trustedWriter ? deserializeNormalizedEvent(raw) : undefined;
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
  if (!result.ok) return refused(record, 'validation_failed', result.errors);
  return { ok: true, event: result.event, fromGateway, producerChoseId };
}
