import { isUtf8 } from 'node:buffer';
import {
  checkJsonStructure,
  deserializeNormalizedEvent,
  deterministicUuid,
  DLQ_HEADERS,
  ErrorDetail,
  INGEST_HEADER,
  LIMITS,
  normalizeEvent,
  NormalizeResult,
  parseTimestampMicros,
  PRODUCER_ID_HEADER,
  TOPIC_EVENTS_DLQ,
} from '@app/contracts';
import { BusBatch, BusRecord, OutgoingRecord } from '@app/event-bus';
import { eventToRow } from './event-row.mapper';

/** A row ready for the store: its JSONEachRow line, and what the duplicate check needs to know of it. */
export interface EncodedRow {
  id: string;
  tenant_id: string;
  /** ClickHouse DateTime64 text, as in the row. */
  timestamp: string;
  line: string;
  /** The record's log offset: what the store refuses goes to the DLQ as this record. */
  offset: string;
}

export interface ProcessedBatch {
  rows: EncodedRow[];
  rejected: OutgoingRecord[];
  /**
   * Redelivered events, whose id may already be stored with the same bytes (so a stored copy has the same
   * event time): checked only within the batch's time range, which the sort key prunes.
   */
  suspectIds: string[];
  /**
   * Gateway records read from Kafka for the first time: the gateway's producer may have retried a send that
   * had landed, and the copy follows the original closely on the same partition. Checked against the ids
   * the partition stored recently, in memory.
   */
  retrySuspectIds: string[];
  /**
   * Events whose copy may carry another event time: a retried request with an idempotency key, or a direct
   * producer's retry with its own id. Checked by id alone.
   */
  anyTimeSuspectIds: string[];
}

/**
 * A message's value as JSON, held to the same rules as an HTTP body: UTF-8 (not decoded to U+FFFD), and no
 * duplicated key or excessive nesting (`checkJsonStructure`). Records this process's gateway wrote to the
 * embedded log are its own serialization and skip the structure pass.
 */
function decode(record: BusRecord, trustedWriter: boolean): unknown {
  if (trustedWriter) return JSON.parse(record.value.toString('utf8'));
  if (!isUtf8(record.value)) throw new Error('the value is not valid UTF-8');
  const text = record.value.toString('utf8');
  const raw: unknown = JSON.parse(text);
  const problem = checkJsonStructure(text, raw);
  if (problem) throw new Error(problem.message);
  return raw;
}

function toDlq(record: BusRecord, code: string, errors: ErrorDetail[]): OutgoingRecord {
  return dlqRecord(record, code, errors.map((e) => `${e.field ?? ''}: ${e.message}`).join('; '));
}

/** `record` as the DLQ holds it: the message as it came, its origin and the reason in headers. */
export function dlqRecord(record: BusRecord, code: string, reason: string): OutgoingRecord {
  const message = reason.slice(0, 1000);
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

export interface ProcessOptions {
  defaultTenant: string;
  /**
   * The log is written only by this process's ingest gateway (the embedded log): its records were
   * normalized just before they were appended, so their shape is checked and the rules are not run again.
   * On Kafka any producer may set the gateway header, so every message is validated.
   */
  trustGatewayRecords?: boolean;
}

function validate(record: BusRecord, raw: unknown, fromGateway: boolean, defaultTenant: string): NormalizeResult {
  const declared = raw !== null && typeof raw === 'object' ? (raw as { received_at?: unknown; id?: unknown }) : {};
  const receivedAtMicros =
    (fromGateway && typeof declared.received_at === 'string' ? parseTimestampMicros(declared.received_at) : undefined) ??
    Math.floor(record.timestampMs * 1000);
  return normalizeEvent(raw, {
    tenantId: defaultTenant,
    receivedAtMicros,
    trustTenantField: true,
    // A message without an id gets one from its log position, so its redelivery keeps the same id.
    fallbackId: typeof declared.id === 'string' ? undefined : deterministicUuid(`${record.topic}:${record.partition}:${record.offset}`),
  });
}

/**
 * Pure message-to-row step of the query-store consumer. Messages are validated exactly like HTTP bodies
 * (direct producers are first-class); invalid ones become DLQ records carrying the reason.
 */
export function processBatch(batch: BusBatch, replayWatermark: bigint, options: ProcessOptions): ProcessedBatch {
  const { defaultTenant, trustGatewayRecords = false } = options;
  const rows: EncodedRow[] = [];
  const rejected: OutgoingRecord[] = [];
  const suspectIds: string[] = [];
  const retrySuspectIds: string[] = [];
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
    const fromGateway = record.headers[INGEST_HEADER.name] === INGEST_HEADER.value;
    let raw: unknown;
    try {
      raw = decode(record, fromGateway && trustGatewayRecords);
    } catch (e) {
      rejected.push(toDlq(record, 'invalid_json', [{ field: '/', message: `not JSON: ${(e as Error).message}` }]));
      continue;
    }
    const declared = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown }) : {};
    const trusted = fromGateway && trustGatewayRecords ? deserializeNormalizedEvent(raw) : undefined;
    const result = trusted ? ({ ok: true, event: trusted } as const) : validate(record, raw, fromGateway, defaultTenant);
    if (!result.ok) {
      rejected.push(toDlq(record, 'validation_failed', result.errors));
      continue;
    }
    const event = result.event;
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const redelivered = BigInt(record.offset) <= replayWatermark;
    const producerChoseId = fromGateway
      ? record.headers[PRODUCER_ID_HEADER.name] === PRODUCER_ID_HEADER.value
      : typeof declared.id === 'string';
    if (event.idempotency_key !== '' || (producerChoseId && !redelivered)) {
      anyTimeSuspectIds.push(event.id);
    } else if (redelivered) {
      suspectIds.push(event.id);
    } else if (fromGateway && !trustGatewayRecords) {
      // The embedded log is appended once per event, so there only a redelivery can be a copy.
      retrySuspectIds.push(event.id);
    }
    const row = eventToRow(event, { partition: record.partition, offset: record.offset });
    rows.push({ id: row.id, tenant_id: row.tenant_id, timestamp: row.timestamp, line: JSON.stringify(row), offset: record.offset });
  }
  return { rows, rejected, suspectIds, retrySuspectIds, anyTimeSuspectIds };
}

/** Same log range, same token: a retried insert of an unchanged batch is dropped by ClickHouse. */
export function dedupToken(batch: BusBatch): string {
  return `${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`;
}

export { TOPIC_EVENTS_DLQ };
