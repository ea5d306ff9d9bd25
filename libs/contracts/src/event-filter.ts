/**
 * The search filter of GET /audit/events and the stream (and the capabilities that filter alike: alerting,
 * SIEM forwarding, exports): parameters to a typed EventFilter, refused with a 400 naming the parameter.
 * It lives in the contracts so HTTP, RPC and every capability use one parser without loading the
 * ClickHouse client; the SQL is libs/query's (filterToSql).
 */
import { SEVERITIES, Severity } from './audit-event';
import { canonicalCategory } from './catalogue';
import { ErrorDetail, InvalidQueryError } from './errors';
import { DAY_US, HOUR_US, parseTimestampMicros } from './time';
import { METADATA_KEY_RE } from './validate-event';

export const PAGE_LIMITS = { defaultLimit: 100, maxLimit: 1000, maxOffset: 1_000_000 } as const;

export interface EventFilter {
  categories: string[];
  eventTypes: string[];
  severities: Severity[];
  fromUs?: number;
  toUs?: number;
  metadata: Array<[string, string]>;
  text?: string;
  source?: string;
  ipAddress?: string;
  sessionId?: string;
}

export interface PageRequest {
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
}

const NAME_RE = /^[a-z][a-z0-9_.-]{0,63}$/;
const SINCE_RE = /^(\d{1,6})(s|m|h|d|w)$/;
const UNIT_US: Record<string, number> = { s: 1e6, m: 60e6, h: HOUR_US, d: DAY_US, w: 7 * DAY_US };

/** A query parameter as the OpenAPI document states it. */
export interface QueryParamDoc {
  description: string;
  schema: Record<string, unknown>;
}

const LIST = { type: 'string' } as const;

/**
 * The filters GET /audit/events and the stream accept, with what each means. The parser allows exactly these
 * names (and metadata.<key>), and the OpenAPI document is built from this table, so a filter cannot be
 * accepted without being documented.
 */
export const EVENT_FILTER_PARAMS: Readonly<Record<string, QueryParamDoc>> = {
  category: { description: 'Category or alias (security, device, ...); comma list allowed', schema: LIST },
  event_type: { description: 'Event type; comma list allowed', schema: LIST },
  severity: { description: `${SEVERITIES.join(', ')}; comma list allowed`, schema: LIST },
  since: {
    description: 'A duration back from now (30m, 24h, 7d, 30d, 2w) or an ISO 8601 timestamp',
    schema: { type: 'string', examples: ['24h', '2026-01-01T00:00:00Z'] },
  },
  start: {
    description: 'ISO 8601 lower bound of the event time (inclusive); a date alone means its midnight UTC',
    schema: { type: 'string', examples: ['2026-01-01', '2026-01-01T00:00:00Z'] },
  },
  end: {
    description: 'ISO 8601 upper bound of the event time (inclusive); a date alone means the end of that UTC day',
    schema: { type: 'string', examples: ['2026-01-31', '2026-01-31T23:59:59Z'] },
  },
  q: { description: 'Case-insensitive text search in the description', schema: { type: 'string', maxLength: 256 } },
  search: { description: 'The same as q', schema: { type: 'string', maxLength: 256 } },
  source: { description: 'Producing service', schema: { type: 'string', maxLength: 256 } },
  ip_address: { description: 'Client address', schema: { type: 'string', maxLength: 256 } },
  session_id: { description: 'Session id', schema: { type: 'string', maxLength: 256 } },
};

/** The paging parameters of GET /audit/events (the stream has none). */
export const EVENT_PAGE_PARAMS: Readonly<Record<string, QueryParamDoc>> = {
  limit: {
    description: `Events per page (default ${PAGE_LIMITS.defaultLimit}; more than ${PAGE_LIMITS.maxLimit} is read as ${PAGE_LIMITS.maxLimit})`,
    schema: { type: 'integer', minimum: 1 },
  },
  offset: { description: 'Events to skip', schema: { type: 'integer', minimum: 0, maximum: PAGE_LIMITS.maxOffset } },
  order: { description: 'Newest first (desc, the default) or oldest first', schema: { type: 'string', enum: ['desc', 'asc'] } },
};

/** At most this many metadata.<key> filters in one query. */
export const MAX_METADATA_FILTERS = 10;

const FILTER_PARAMS = Object.keys(EVENT_FILTER_PARAMS);
const PAGE_PARAMS = Object.keys(EVENT_PAGE_PARAMS);

function values(raw: unknown): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function single(raw: unknown, name: string, errors: ErrorDetail[]): string | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    errors.push({ field: name, message: 'may be given only once' });
    return undefined;
  }
  return String(raw);
}

const DATE_ONLY_RE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A time bound of a request body or query as every one of the API reads it: an ISO 8601 date-time, or a date
 * alone (the whole UTC day: its midnight as a lower bound, its last microsecond as an upper one). Undefined
 * when the text is neither.
 */
export function parseTimeBound(text: string, upper: boolean): number | undefined {
  return parseTime(text, '', 0, [], false, upper);
}

/** One error per key of `object` that is not in `allowed`, naming it (with `prefix`, e.g. `/`) and what is allowed. */
export function unknownFields(object: object, allowed: readonly string[], prefix = ''): ErrorDetail[] {
  return Object.keys(object)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ field: `${prefix}${k}`, message: `unknown field; allowed: ${allowed.join(', ') || 'none'}` }));
}

/**
 * A bound as given: a duration back from now (`since` only), an ISO 8601 date-time, or a date alone, read in
 * UTC. A date alone means the whole day: midnight for a lower bound; for `end` (inclusive, like every bound)
 * the day's last microsecond, so `start=2030-01-01&end=2030-01-31` is all of January.
 */
function parseTime(text: string, name: string, nowUs: number, errors: ErrorDetail[], relative: boolean, upper = false): number | undefined {
  const rel = relative ? SINCE_RE.exec(text) : null;
  if (rel) return nowUs - Number(rel[1]) * UNIT_US[rel[2]];
  const dateOnly = DATE_ONLY_RE.test(text);
  const parsed = parseTimestampMicros(dateOnly ? `${text}T00:00:00Z` : text);
  const us = parsed !== undefined && dateOnly && upper ? parsed + DAY_US - 1 : parsed;
  if (us === undefined) {
    errors.push({
      field: name,
      message: relative
        ? `'${text.slice(0, 40)}' is neither a duration (30m, 24h, 7d, 30d, 2w) nor an ISO 8601 date or timestamp`
        : `'${text.slice(0, 40)}' is not an ISO 8601 date or timestamp`,
    });
  }
  return us;
}

/**
 * Parses the filters of GET /audit/events (and of the stream). Unknown parameters and bad values are
 * refused with a 400 naming them, rather than silently ignored and returning the wrong rows.
 */
export function parseEventFilter(
  query: Record<string, unknown>,
  nowUs: number,
  allowPaging = true,
): { filter: EventFilter; page: PageRequest } {
  const errors: ErrorDetail[] = [];
  const allowed = allowPaging ? [...FILTER_PARAMS, ...PAGE_PARAMS] : FILTER_PARAMS;
  const filter: EventFilter = { categories: [], eventTypes: [], severities: [], metadata: [] };

  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    if (name.startsWith('metadata.')) {
      const key = name.slice('metadata.'.length);
      if (!METADATA_KEY_RE.test(key)) {
        errors.push({ field: name, message: `metadata key must match ${METADATA_KEY_RE.source}` });
        continue;
      }
      for (const v of Array.isArray(raw) ? raw : [raw]) {
        if (String(v).length > 1024) errors.push({ field: name, message: 'value is longer than 1024 characters' });
        else filter.metadata.push([key, String(v)]);
      }
      continue;
    }
    if (!allowed.includes(name)) {
      errors.push({ field: name, message: `unknown query parameter; allowed: ${allowed.join(', ')}, metadata.<key>` });
    }
  }
  if (filter.metadata.length > MAX_METADATA_FILTERS)
    errors.push({ field: 'metadata', message: `at most ${MAX_METADATA_FILTERS} metadata filters` });

  for (const c of values(query.category)) {
    if (c === 'all') continue;
    if (!NAME_RE.test(c)) errors.push({ field: 'category', message: `'${c.slice(0, 64)}' is not a valid category name` });
    else filter.categories.push(canonicalCategory(c));
  }
  for (const t of values(query.event_type)) {
    if (!NAME_RE.test(t)) errors.push({ field: 'event_type', message: `'${t.slice(0, 64)}' is not a valid event type name` });
    else filter.eventTypes.push(t);
  }
  for (const s of values(query.severity)) {
    if (!(SEVERITIES as readonly string[]).includes(s)) {
      errors.push({ field: 'severity', message: `'${s.slice(0, 32)}' is not a severity; use ${SEVERITIES.join(', ')}` });
    } else filter.severities.push(s as Severity);
  }

  const since = single(query.since, 'since', errors);
  const start = single(query.start, 'start', errors);
  const end = single(query.end, 'end', errors);
  const sinceUs = since !== undefined ? parseTime(since, 'since', nowUs, errors, true) : undefined;
  const startUs = start !== undefined ? parseTime(start, 'start', nowUs, errors, false) : undefined;
  if (sinceUs !== undefined || startUs !== undefined) filter.fromUs = Math.max(sinceUs ?? 0, startUs ?? 0);
  if (end !== undefined) filter.toUs = parseTime(end, 'end', nowUs, errors, false, true);
  if (filter.fromUs !== undefined && filter.toUs !== undefined && filter.fromUs > filter.toUs) {
    errors.push({ field: 'end', message: 'end is before start/since' });
  }

  const text = single(query.q, 'q', errors) ?? single(query.search, 'search', errors);
  if (text !== undefined) {
    if (text.length > 256) errors.push({ field: 'q', message: 'search text is longer than 256 characters' });
    else if (text.length > 0) filter.text = text;
  }
  for (const [param, key] of [
    ['source', 'source'],
    ['ip_address', 'ipAddress'],
    ['session_id', 'sessionId'],
  ] as const) {
    const v = single(query[param], param, errors);
    if (v !== undefined) {
      if (v.length > 256) errors.push({ field: param, message: 'longer than 256 characters' });
      else filter[key] = v;
    }
  }

  const page: PageRequest = { limit: PAGE_LIMITS.defaultLimit, offset: 0, order: 'desc' };
  if (allowPaging) {
    const limit = single(query.limit, 'limit', errors);
    if (limit !== undefined) {
      if (!/^\d{1,7}$/.test(limit) || Number(limit) < 1) errors.push({ field: 'limit', message: 'must be a whole number of at least 1' });
      else page.limit = Math.min(Number(limit), PAGE_LIMITS.maxLimit);
    }
    const offset = single(query.offset, 'offset', errors);
    if (offset !== undefined) {
      if (!/^\d{1,9}$/.test(offset)) errors.push({ field: 'offset', message: 'must be a whole number of at least 0' });
      else if (Number(offset) > PAGE_LIMITS.maxOffset) {
        errors.push({ field: 'offset', message: `must be at most ${PAGE_LIMITS.maxOffset}; narrow the time range instead` });
      } else page.offset = Number(offset);
    }
    const order = single(query.order, 'order', errors);
    if (order !== undefined) {
      if (order !== 'asc' && order !== 'desc') errors.push({ field: 'order', message: "must be 'asc' or 'desc'" });
      else page.order = order;
    }
  }

  if (errors.length > 0) {
    throw new InvalidQueryError(`invalid query: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  return { filter, page };
}
