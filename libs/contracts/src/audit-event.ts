export const SCHEMA_VERSION = 1 as const;

export const SEVERITIES = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type MetadataValue = string | number | boolean | null | MetadataValue[] | { [key: string]: MetadataValue };
export type Metadata = Record<string, MetadataValue>;

/** The body a producer sends: one element of POST /audit/events, or one Kafka message value. */
export interface AuditEventInput {
  schema_version?: 1;
  id?: string;
  event_type: string;
  category?: string;
  severity?: Severity;
  description?: string;
  metadata?: Metadata;
  timestamp?: string;
  received_at?: string;
  ip_address?: string;
  user_agent?: string;
  session_id?: string;
  source?: string;
  /** The producer's per-source counter (a safe integer >= 0); completeness tracking reads it. */
  sequence?: number;
  tenant_id?: string;
  idempotency_key?: string;
}

/** An event as it sits on the log after validation and enrichment: every field is set. */
export interface AuditEvent {
  schema_version: 1;
  id: string;
  tenant_id: string;
  event_type: string;
  category: string;
  severity: Severity;
  description: string;
  metadata: Metadata;
  /** The producer's time (ISO 8601, UTC, microseconds). */
  timestamp: string;
  /** The server's receive time (ISO 8601, UTC, microseconds). */
  received_at: string;
  ip_address: string;
  user_agent: string;
  session_id: string;
  source: string;
  /** The producer's per-source counter, only when it sent one (an event without it is not tracked). */
  sequence?: number;
  idempotency_key: string;
}

/** Where an event sits on the log; kept with each stored row so replays and the stream can resume exactly. */
export interface LogPosition {
  partition: number;
  offset: string;
}

export interface StoredAuditEvent extends AuditEvent {
  position?: LogPosition;
}

/**
 * The columns of a CSV export, in order (docs/api.md, "Export"); `metadata` (one JSON column) follows them only
 * with include_metadata. The reporting capability writes them, the query store renders them in SQL: one list.
 */
export const EXPORT_CSV_COLUMNS = [
  'id',
  'timestamp',
  'received_at',
  'event_type',
  'category',
  'severity',
  'description',
  'source',
  'ip_address',
  'user_agent',
  'session_id',
  'tenant_id',
  'idempotency_key',
] as const satisfies ReadonlyArray<keyof StoredAuditEvent>;
