import { StoredAuditEvent } from '@app/contracts';
import { IngestRequest, IngestResponse } from '@app/ingest';
import { DetailedStatistics, EventFilter, PageRequest, Statistics, StreamCursor } from '@app/query';

export interface ComponentHealth {
  ok: boolean;
  detail?: Record<string, unknown>;
}

/** The ingest side as the API layer sees it: in-process in the embedded app, over TCP in the gateway. */
export interface IngestPort {
  ingest(request: IngestRequest): Promise<IngestResponse>;
  health(): Promise<ComponentHealth>;
}

export interface SearchResult {
  events: StoredAuditEvent[];
  total: number;
}

export interface TailResult {
  events: StoredAuditEvent[];
  cursor: StreamCursor;
}

/** The query store as the API layer sees it. */
export interface QueryPort {
  search(tenantId: string, filter: EventFilter, page: PageRequest): Promise<SearchResult>;
  findById(tenantId: string, id: string): Promise<StoredAuditEvent | null>;
  statistics(tenantId: string): Promise<Statistics>;
  detailedStatistics(tenantId: string): Promise<DetailedStatistics>;
  /** With a null cursor, returns no events and the current end of the log: a stream starts "now". */
  tail(tenantId: string, cursor: StreamCursor | null, filter: EventFilter, limit: number): Promise<TailResult>;
  health(): Promise<ComponentHealth>;
}

export const INGEST_PORT = Symbol('INGEST_PORT');
export const QUERY_PORT = Symbol('QUERY_PORT');

/** Message patterns of the TCP transport between the API gateway and the services. */
export const PATTERNS = {
  ingest: 'audit.ingest',
  ingestHealth: 'audit.ingest.health',
  search: 'audit.query.search',
  findById: 'audit.query.find-by-id',
  statistics: 'audit.query.statistics',
  detailedStatistics: 'audit.query.statistics-detailed',
  tail: 'audit.query.tail',
  queryHealth: 'audit.query.health',
} as const;
