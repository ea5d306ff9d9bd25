import { isCursorEntry, StoredAuditEvent, ValidationError } from '@app/contracts';
import type { StreamCursor } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';
import { EventFilter, PageRequest } from '@app/contracts';
import { DetailedStatistics, Statistics } from './statistics.mapper';
import type { OptimizePlan, StorePerformance } from './store-operations';
import { JsonLinesPage, RangeCursor } from './store-ports';
import type { RemovedDay, StoredDayRef } from './retention-deletes.store';
import type { DailyCount } from './store-ports';
import { Timeline, TIMELINE_BREAKDOWNS, TIMELINE_MAX_HOURS, TimelineBreakdown } from './event-timeline.store';
import type { ReportCounts } from './report-counts.store';
import { EXPORT_TEXT_FORMATS, ExportPage, ExportTextFormat, MAX_EXPORT_PAGE_ROWS } from './event-export.store';

export interface SearchResult {
  events: StoredAuditEvent[];
  total: number;
}

export interface TailResult {
  events: StoredAuditEvent[];
  cursor: StreamCursor;
}

/**
 * The query store as the API layer sees it: in-process in the embedded app, over TCP in the gateway.
 * `signal` aborts when the HTTP client has gone, so the store can stop the work; it does not cross the TCP
 * transport (the query-store's own time limit bounds an abandoned query there).
 */
export interface QueryPort {
  search(tenantId: string, filter: EventFilter, page: PageRequest, signal?: AbortSignal): Promise<SearchResult>;
  findById(tenantId: string, id: string, signal?: AbortSignal): Promise<StoredAuditEvent | null>;
  /** Keyset paging through a range, oldest first by (timestamp, id): the next page starts after `after`. */
  range(tenantId: string, filter: EventFilter, after: RangeCursor | null, limit: number): Promise<StoredAuditEvent[]>;
  /**
   * Like `range`, as JSON Lines rendered by the engine, up to EXPORT_LINES_MAX per page: what retention writes
   * into an archive, with no event parsed or serialised on either side of the transport.
   */
  exportLines(tenantId: string, filter: EventFilter, after: RangeCursor | null, limit: number): Promise<JsonLinesPage>;
  /**
   * An export's page written by the engine in the file's syntax (CSV records, JSON elements or lines), keyset
   * paged like `range`: the rows cross the port as one string, never as objects.
   */
  exportPage(
    tenantId: string,
    filter: EventFilter,
    format: ExportTextFormat,
    includeMetadata: boolean,
    after: RangeCursor | null,
    limit: number,
  ): Promise<ExportPage>;
  /** Counts per (event type, source, UTC day) in the scope, with incomplete records: a compliance report's input. */
  reportCounts(tenantId: string, filter: EventFilter): Promise<ReportCounts>;
  statistics(tenantId: string, signal?: AbortSignal): Promise<Statistics>;
  detailedStatistics(tenantId: string, signal?: AbortSignal): Promise<DetailedStatistics>;
  /**
   * Waits until the store holds every event the log had acknowledged when called, at most `timeoutMs`;
   * true when it does (read after write, see read-after-write.ts).
   */
  awaitWrites(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Events stored per category and UTC day: what the retention planner works from. */
  dailyCounts(tenantId: string): Promise<DailyCount[]>;
  /** Retention only: removes whole category-days of a tenant; answers how many events each held. */
  deleteDays(tenantId: string, days: StoredDayRef[]): Promise<RemovedDay[]>;
  /** With a null cursor, returns no events and the current end of the log: a stream starts "now". */
  tail(tenantId: string, cursor: StreamCursor | null, filter: EventFilter, limit: number): Promise<TailResult>;
  health(): Promise<ComponentHealth>;
  /** The store's size, parts and compression per table, consumer lag per group, the log's size (GET /audit/performance). */
  performance(): Promise<StorePerformance>;
  /** The maintenance plan; with `apply`, it is carried out (GET and POST /audit/optimize). */
  optimize(apply: boolean): Promise<OptimizePlan>;
  /** Events per whole hour over the last `hours` (1 to 168), split by category or severity (GET /audit/statistics/timeline). */
  timeline(tenantId: string, breakdown: TimelineBreakdown, hours: number, signal?: AbortSignal): Promise<Timeline>;
}

/** Payloads of the query port's messages; the tenant always travels with the request. */
export interface SearchMessage {
  tenantId: string;
  filter: EventFilter;
  page: PageRequest;
}
export interface FindByIdMessage {
  tenantId: string;
  id: string;
}
export interface TenantMessage {
  tenantId: string;
}
export interface TailMessage {
  tenantId: string;
  cursor: StreamCursor | null;
  filter: EventFilter;
  limit: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function fail(pattern: string, field: string, message: string): never {
  throw new ValidationError(`malformed ${pattern} request: ${field} ${message}`, [{ field, message }]);
}

function tenantOf(pattern: string, m: Record<string, unknown>): string {
  if (typeof m.tenantId !== 'string' || m.tenantId === '') fail(pattern, 'tenantId', 'must be a non-empty string');
  return m.tenantId;
}

function filterOf(pattern: string, m: Record<string, unknown>): EventFilter {
  const f = m.filter;
  if (
    !isObject(f) ||
    !Array.isArray(f.categories) ||
    !Array.isArray(f.eventTypes) ||
    !Array.isArray(f.severities) ||
    !Array.isArray(f.metadata)
  ) {
    fail(pattern, 'filter', 'must be an event filter');
  }
  return f as unknown as EventFilter;
}

export function parseSearchMessage(m: unknown): SearchMessage {
  if (!isObject(m)) fail('search', '/', 'must be an object');
  const page = m.page;
  if (
    !isObject(page) ||
    !Number.isInteger(page.limit) ||
    !Number.isInteger(page.offset) ||
    (page.order !== 'asc' && page.order !== 'desc')
  ) {
    fail('search', 'page', 'must be { limit, offset, order }');
  }
  return { tenantId: tenantOf('search', m), filter: filterOf('search', m), page: page as unknown as PageRequest };
}

export interface RangeMessage {
  tenantId: string;
  filter: EventFilter;
  after: RangeCursor | null;
  limit: number;
}

/** The largest page of `exportLines`: about 10 MB of JSON Lines at 500 bytes an event, one TCP message. */
export const EXPORT_LINES_MAX = 20_000;

export function parseRangeMessage(m: unknown, pattern = 'range', max = 10_000): RangeMessage {
  if (!isObject(m)) fail(pattern, '/', 'must be an object');
  const after = m.after;
  if (after !== null && (!isObject(after) || typeof after.timestamp !== 'string' || typeof after.id !== 'string'))
    fail(pattern, 'after', 'must be null or { timestamp, id }');
  if (!Number.isInteger(m.limit) || (m.limit as number) < 1 || (m.limit as number) > max)
    fail(pattern, 'limit', `must be between 1 and ${max}`);
  return { tenantId: tenantOf(pattern, m), filter: filterOf(pattern, m), after: after as RangeCursor | null, limit: m.limit as number };
}

export interface ExportPageMessage extends RangeMessage {
  format: ExportTextFormat;
  includeMetadata: boolean;
}

export function parseExportPageMessage(m: unknown): ExportPageMessage {
  if (!isObject(m)) fail('export-page', '/', 'must be an object');
  if (!EXPORT_TEXT_FORMATS.includes(m.format as ExportTextFormat))
    fail('export-page', 'format', `must be one of ${EXPORT_TEXT_FORMATS.join(', ')}`);
  if (typeof m.includeMetadata !== 'boolean') fail('export-page', 'includeMetadata', 'must be a boolean');
  // The rest is a range read's message, with a page of text's own limit.
  const range = parseRangeMessage(m, 'export-page', MAX_EXPORT_PAGE_ROWS);
  return { ...range, format: m.format as ExportTextFormat, includeMetadata: m.includeMetadata };
}

export function parseFindByIdMessage(m: unknown): FindByIdMessage {
  if (!isObject(m)) fail('find-by-id', '/', 'must be an object');
  if (typeof m.id !== 'string') fail('find-by-id', 'id', 'must be a string');
  return { tenantId: tenantOf('find-by-id', m), id: m.id };
}

export function parseTenantMessage(m: unknown, pattern: string): TenantMessage {
  if (!isObject(m)) fail(pattern, '/', 'must be an object');
  return { tenantId: tenantOf(pattern, m) };
}

export function parseTailMessage(m: unknown): TailMessage {
  if (!isObject(m)) fail('tail', '/', 'must be an object');
  const cursor = m.cursor;
  if (cursor !== null && !isObject(cursor)) fail('tail', 'cursor', 'must be null or a partition-to-offset map');
  if (isObject(cursor)) {
    for (const [p, o] of Object.entries(cursor)) if (!isCursorEntry(p, o)) fail('tail', 'cursor', 'must map partitions to offsets');
  }
  if (!Number.isInteger(m.limit) || (m.limit as number) < 1 || (m.limit as number) > 10_000)
    fail('tail', 'limit', 'must be between 1 and 10000');
  return { tenantId: tenantOf('tail', m), cursor: cursor as StreamCursor | null, filter: filterOf('tail', m), limit: m.limit as number };
}

export function parseAwaitWritesMessage(m: unknown): { timeoutMs: number } {
  if (!isObject(m)) fail('await-writes', '/', 'must be an object');
  if (!Number.isInteger(m.timeoutMs) || (m.timeoutMs as number) < 0 || (m.timeoutMs as number) > 60_000) {
    fail('await-writes', 'timeoutMs', 'must be a whole number of ms up to 60000');
  }
  return { timeoutMs: m.timeoutMs as number };
}

export interface TimelineMessage {
  tenantId: string;
  breakdown: TimelineBreakdown;
  hours: number;
}

export function parseTimelineMessage(m: unknown): TimelineMessage {
  if (!isObject(m)) fail('timeline', '/', 'must be an object');
  if (!TIMELINE_BREAKDOWNS.includes(m.breakdown as TimelineBreakdown))
    fail('timeline', 'breakdown', `must be one of ${TIMELINE_BREAKDOWNS.join(', ')}`);
  if (!Number.isInteger(m.hours) || (m.hours as number) < 1 || (m.hours as number) > TIMELINE_MAX_HOURS)
    fail('timeline', 'hours', `must be a whole number from 1 to ${TIMELINE_MAX_HOURS}`);
  return { tenantId: tenantOf('timeline', m), breakdown: m.breakdown as TimelineBreakdown, hours: m.hours as number };
}

/** The query-store checks what the gateway sends: it is reachable on the network, and a skew must fail loudly. */
export const QUERY_PORT_DEFINITION = definePort<QueryPort>({
  name: 'query',
  service: 'query-store',
  address: serviceAddress('QUERY', 4002),
  methods: {
    search: {
      pattern: 'audit.query.search',
      deadline: 'queryMs',
      encode: (tenantId, filter, page) => ({ tenantId, filter, page }) satisfies SearchMessage,
      decode: (m) => {
        const p = parseSearchMessage(m);
        return [p.tenantId, p.filter, p.page];
      },
    },
    findById: {
      pattern: 'audit.query.find-by-id',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }) satisfies FindByIdMessage,
      decode: (m) => {
        const p = parseFindByIdMessage(m);
        return [p.tenantId, p.id];
      },
    },
    range: {
      pattern: 'audit.query.range',
      deadline: 'queryMs',
      encode: (tenantId, filter, after, limit) => ({ tenantId, filter, after, limit }) satisfies RangeMessage,
      decode: (m) => {
        const p = parseRangeMessage(m);
        return [p.tenantId, p.filter, p.after, p.limit];
      },
    },
    exportLines: {
      pattern: 'audit.query.export-lines',
      deadline: 'queryMs',
      encode: (tenantId, filter, after, limit) => ({ tenantId, filter, after, limit }) satisfies RangeMessage,
      decode: (m) => {
        const p = parseRangeMessage(m, 'export-lines', EXPORT_LINES_MAX);
        return [p.tenantId, p.filter, p.after, p.limit];
      },
    },
    exportPage: {
      pattern: 'audit.query.export-page',
      deadline: 'queryMs',
      encode: (tenantId, filter, format, includeMetadata, after, limit) =>
        ({ tenantId, filter, format, includeMetadata, after, limit }) satisfies ExportPageMessage,
      decode: (m) => {
        const p = parseExportPageMessage(m);
        return [p.tenantId, p.filter, p.format, p.includeMetadata, p.after, p.limit];
      },
    },
    reportCounts: {
      pattern: 'audit.query.report-counts',
      // One GROUP BY over the period: a column scan (about 1 s per 10M events), so the long query deadline.
      deadline: 'queryMs',
      encode: (tenantId, filter) => ({ tenantId, filter }),
      decode: (m) => {
        if (!isObject(m)) fail('report-counts', '/', 'must be an object');
        return [tenantOf('report-counts', m), filterOf('report-counts', m)];
      },
    },
    statistics: {
      pattern: 'audit.query.statistics',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }) satisfies TenantMessage,
      decode: (m) => [parseTenantMessage(m, 'statistics').tenantId],
    },
    detailedStatistics: {
      pattern: 'audit.query.statistics-detailed',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }) satisfies TenantMessage,
      decode: (m) => [parseTenantMessage(m, 'statistics-detailed').tenantId],
    },
    dailyCounts: {
      pattern: 'audit.query.daily-counts',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }) satisfies TenantMessage,
      decode: (m) => [parseTenantMessage(m, 'daily-counts').tenantId],
    },
    deleteDays: {
      pattern: 'audit.query.delete-days',
      deadline: 'queryMs',
      encode: (tenantId, days) => ({ tenantId, days }),
      decode: (m) => {
        const { tenantId } = parseTenantMessage(m, 'delete-days');
        const days = (m as { days?: unknown }).days;
        const ok = (d: unknown): d is StoredDayRef =>
          isObject(d) &&
          typeof d.category === 'string' &&
          typeof d.day === 'string' &&
          /^\d{4}-\d{2}-\d{2}$/.test(d.day) &&
          (d.expected === undefined || (Number.isSafeInteger(d.expected) && (d.expected as number) >= 0));
        if (!Array.isArray(days) || !days.every(ok))
          fail('delete-days', 'days', 'must be a list of { category, day: YYYY-MM-DD, expected?: count }');
        return [tenantId, days];
      },
    },
    tail: {
      pattern: 'audit.query.tail',
      deadline: 'tailMs',
      encode: (tenantId, cursor, filter, limit) => ({ tenantId, cursor, filter, limit }) satisfies TailMessage,
      decode: (m) => {
        const p = parseTailMessage(m);
        return [p.tenantId, p.cursor, p.filter, p.limit];
      },
    },
    awaitWrites: {
      pattern: 'audit.query.await-writes',
      deadline: 'queryMs',
      encode: (timeoutMs) => ({ timeoutMs }),
      decode: (m) => [parseAwaitWritesMessage(m).timeoutMs],
    },
    health: { pattern: 'audit.query.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
    performance: { pattern: 'audit.query.performance', deadline: 'queryMs', encode: () => ({}), decode: () => [] },
    optimize: {
      pattern: 'audit.query.optimize',
      deadline: 'queryMs',
      encode: (apply) => ({ apply }),
      decode: (m) => {
        if (!isObject(m) || typeof m.apply !== 'boolean') fail('optimize', 'apply', 'must be a boolean');
        return [m.apply];
      },
    },
    timeline: {
      pattern: 'audit.query.timeline',
      deadline: 'queryMs',
      encode: (tenantId, breakdown, hours) => ({ tenantId, breakdown, hours }) satisfies TimelineMessage,
      decode: (m) => {
        const p = parseTimelineMessage(m);
        return [p.tenantId, p.breakdown, p.hours];
      },
    },
  },
});

export const QUERY_PORT = QUERY_PORT_DEFINITION.token;
