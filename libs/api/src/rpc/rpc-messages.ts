import { ValidationError } from '@app/contracts';
import { IngestRequest } from '@app/ingest';
import { EventFilter, PageRequest, StreamCursor } from '@app/query';

/** Payloads of the query patterns (PATTERNS in ports.ts); the tenant always travels with the request. */
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

/**
 * The services check the envelope of what the gateway sends (they are reachable on the network, and a
 * version skew should fail loudly); the events themselves go through the one event validator.
 */
export function parseIngestMessage(m: unknown): IngestRequest {
  if (!isObject(m)) fail('ingest', '/', 'must be an object');
  if (!Array.isArray(m.events)) fail('ingest', 'events', 'must be an array');
  for (const f of ['ipAddress', 'userAgent', 'sessionId', 'source', 'idempotencyKey'] as const) {
    if (m[f] !== undefined && typeof m[f] !== 'string') fail('ingest', f, 'must be a string');
  }
  return { ...(m as unknown as IngestRequest), batch: m.batch === true, tenantId: tenantOf('ingest', m) };
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
    for (const [p, o] of Object.entries(cursor))
      if (!/^\d{1,5}$/.test(p) || typeof o !== 'string' || !/^-?\d{1,19}$/.test(o))
        fail('tail', 'cursor', 'must map partitions to offsets');
  }
  if (!Number.isInteger(m.limit) || (m.limit as number) < 1 || (m.limit as number) > 10_000)
    fail('tail', 'limit', 'must be between 1 and 10000');
  return { tenantId: tenantOf('tail', m), cursor: cursor as StreamCursor | null, filter: filterOf('tail', m), limit: m.limit as number };
}

export interface AwaitWritesMessage {
  timeoutMs: number;
}

export function parseAwaitWritesMessage(m: unknown): AwaitWritesMessage {
  if (!isObject(m)) fail('await-writes', '/', 'must be an object');
  if (!Number.isInteger(m.timeoutMs) || (m.timeoutMs as number) < 0 || (m.timeoutMs as number) > 60_000) {
    fail('await-writes', 'timeoutMs', 'must be a whole number of ms up to 60000');
  }
  return { timeoutMs: m.timeoutMs as number };
}
