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

/**
 * The query store as the API layer sees it. `signal` aborts when the HTTP client has gone, so the store
 * can stop the work (adapters that cannot cancel may ignore it).
 */
export interface QueryPort {
  search(tenantId: string, filter: EventFilter, page: PageRequest, signal?: AbortSignal): Promise<SearchResult>;
  findById(tenantId: string, id: string, signal?: AbortSignal): Promise<StoredAuditEvent | null>;
  statistics(tenantId: string, signal?: AbortSignal): Promise<Statistics>;
  detailedStatistics(tenantId: string, signal?: AbortSignal): Promise<DetailedStatistics>;
  /**
   * Waits until the store holds every event the log had acknowledged when called, at most `timeoutMs`;
   * true when it does (read after write, see http/read-after-write.ts).
   */
  awaitWrites(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
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
  awaitWrites: 'audit.query.await-writes',
  queryHealth: 'audit.query.health',
} as const;
