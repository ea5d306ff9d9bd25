import {
  AuditEvent,
  clickHouseToIso,
  LogPosition,
  flattenMetadata,
  Metadata,
  parseTimestampMicros,
  microsToClickHouse,
  StoredAuditEvent,
} from '@app/contracts';

export interface EventRow {
  tenant_id: string;
  id: string;
  schema_version: number;
  event_type: string;
  category: string;
  severity: string;
  description: string;
  metadata: Record<string, string>;
  metadata_json: string;
  timestamp: string;
  received_at: string;
  ip_address: string;
  user_agent: string;
  session_id: string;
  source: string;
  /** Nullable(UInt64): JSON output quotes 64-bit integers, so it reads back as a string. */
  sequence: number | string | null;
  idempotency_key: string;
  log_partition: number;
  log_offset: string;
}

/** The columns every read selects, in the shape `rowToEvent` expects. */
export const SELECT_COLUMNS =
  'id, tenant_id, schema_version, event_type, category, severity, description, metadata_json, timestamp, received_at, ' +
  'ip_address, user_agent, session_id, source, sequence, idempotency_key, log_partition, log_offset';

export type SelectedRow = Omit<EventRow, 'metadata'>;

// Moved to the contracts (the in-memory matcher uses it too); re-exported so the mapper's users keep importing it here.
export { flattenMetadata };

const CANONICAL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function toClickHouseTime(iso: string): string {
  // Normalized events carry the canonical form already; only then is a text rewrite enough.
  if (iso.length === 27 && CANONICAL_RE.test(iso)) return `${iso.slice(0, 10)} ${iso.slice(11, 26)}`;
  const us = parseTimestampMicros(iso);
  if (us === undefined) throw new Error(`not a timestamp: ${iso}`);
  return microsToClickHouse(us);
}

export function eventToRow(event: AuditEvent, position: LogPosition): EventRow {
  return {
    tenant_id: event.tenant_id,
    id: event.id,
    schema_version: event.schema_version,
    event_type: event.event_type,
    category: event.category,
    severity: event.severity,
    description: event.description,
    metadata: flattenMetadata(event.metadata),
    metadata_json: JSON.stringify(event.metadata),
    timestamp: toClickHouseTime(event.timestamp),
    received_at: toClickHouseTime(event.received_at),
    ip_address: event.ip_address,
    user_agent: event.user_agent,
    session_id: event.session_id,
    source: event.source,
    sequence: event.sequence ?? null,
    idempotency_key: event.idempotency_key,
    log_partition: position.partition,
    log_offset: position.offset,
  };
}

export function rowToEvent(row: SelectedRow): StoredAuditEvent {
  return {
    id: row.id,
    event_type: row.event_type,
    category: row.category,
    description: row.description,
    metadata: JSON.parse(row.metadata_json || '{}') as Metadata,
    timestamp: clickHouseToIso(row.timestamp),
    received_at: clickHouseToIso(row.received_at),
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    session_id: row.session_id,
    severity: row.severity as StoredAuditEvent['severity'],
    source: row.source,
    ...(row.sequence !== null && row.sequence !== undefined && { sequence: Number(row.sequence) }),
    tenant_id: row.tenant_id,
    schema_version: 1,
    idempotency_key: row.idempotency_key,
    position: { partition: Number(row.log_partition), offset: String(row.log_offset) },
  };
}
