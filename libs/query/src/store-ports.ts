import { StoredAuditEvent, StreamCursor } from '@app/contracts';
import { EventFilter, PageRequest } from '@app/contracts';
import { DetailedStatistics, Statistics } from './statistics.mapper';

/** Positions of the log, per partition: the live stream's cursor. */
export type { StreamCursor };

/** A roll-up bucket rebuilt by reconcileRollup: an hour of events_hourly or a day of events_daily_keys. */
export interface RebuiltBucket {
  rollup: 'events_hourly' | 'events_daily_keys';
  tenant_id: string;
  /** The bucket's start, ISO 8601 UTC. */
  bucket: string;
}

/** How many events of one category one UTC day (YYYY-MM-DD) holds. */
export interface DailyCount {
  category: string;
  day: string;
  count: number;
}

/** Options every read accepts. */
export interface ReadOptions {
  /** Cancels the query, e.g. when the HTTP client that asked for it went away. */
  signal?: AbortSignal;
}

/** The projection's writes: rows, and how far each log partition has been written. */
export interface EventInserts {
  /**
   * One insert of rows already encoded as JSONEachRow lines. The dedup token makes a retry of the same
   * insert a no-op, for the table and the roll-ups alike.
   */
  insertLines(lines: string[], dedupToken: string): Promise<void>;
  /** How far each log partition has been written, one row per partition, in one insert. */
  recordProgress(positions: Array<{ partition: number; offset: string }>): Promise<void>;
}

/** What the projection asks the store to tell a redelivery from a new record. */
export interface DedupLookups {
  /** Highest offset stored for a log partition, or -1: everything at or below may be a redelivery. */
  maxStoredOffset(partition: number): Promise<bigint>;
  /** Ids of a log partition's rows after `afterOffset` up to `upToOffset`, oldest first. */
  idsInOffsetRange(partition: number, afterOffset: bigint, upToOffset: bigint): Promise<string[]>;
  /** Which of `ids` are stored; `within` (tenants and an event-time range) lets the sort key prune the read. */
  existingIds(ids: string[], within?: { tenants: string[]; from: string; to: string }): Promise<Set<string>>;
}

/** Repair of the roll-ups fed by materialized views (see ClickHouseRollupRepair). */
export interface RollupRepair {
  reconcileRollup(): Promise<RebuiltBucket[]>;
}

/** Everything the query-store consumer needs of its store. */
export interface EventWriteStore extends EventInserts, DedupLookups, RollupRepair {
  /** The engine runs in this process (chdb), so this process is the store's only writer. */
  readonly inProcess: boolean;
}

export interface EventSearch {
  search(
    tenantId: string,
    filter: EventFilter,
    page: PageRequest,
    options?: ReadOptions,
  ): Promise<{ events: StoredAuditEvent[]; total: number }>;
  findById(tenantId: string, id: string, options?: ReadOptions): Promise<StoredAuditEvent | undefined>;
  /** Up to `limit` events matching `filter` after `after`, oldest first by (timestamp, id): keyset paging. */
  range(
    tenantId: string,
    filter: EventFilter,
    after: RangeCursor | null,
    limit: number,
    options?: ReadOptions,
  ): Promise<StoredAuditEvent[]>;
  /** Like `range`, as JSON Lines rendered by the engine (an archive's body): see EVENT_JSON_LINE. */
  exportLines(
    tenantId: string,
    filter: EventFilter,
    after: RangeCursor | null,
    limit: number,
    options?: ReadOptions,
  ): Promise<JsonLinesPage>;
  /** Events after `cursor` and at or before the written position, in log order per partition. */
  tail(
    tenantId: string,
    cursor: StreamCursor,
    filter: EventFilter,
    limit: number,
    options?: ReadOptions,
  ): Promise<{ events: StoredAuditEvent[]; cursor: StreamCursor }>;
  /** The written position of every log partition. */
  progress(options?: ReadOptions): Promise<StreamCursor>;
}

export interface EventStatistics {
  statistics(tenantId: string, nowUs: number, options?: ReadOptions): Promise<Statistics>;
  detailedStatistics(tenantId: string, nowUs: number, options?: ReadOptions): Promise<DetailedStatistics>;
  /** Events stored per category and UTC day (retention plans by these). */
  dailyCounts(tenantId: string, options?: ReadOptions): Promise<DailyCount[]>;
}

export interface StoreHealth {
  ping(): Promise<boolean>;
  /** Rows, bytes and active parts per table. */
  storage(): Promise<Record<string, unknown>>;
}

/** Where a keyset read resumes: the (timestamp, id) of the last event read. */
export interface RangeCursor {
  timestamp: string;
  id: string;
}

/** A page of events as JSON Lines (one StoredAuditEvent per line, each ending in a newline). */
export interface JsonLinesPage {
  lines: string;
  count: number;
  /** The (timestamp, id) of the page's first and last event; the next page starts after `last`. */
  first: RangeCursor | null;
  last: RangeCursor | null;
}
