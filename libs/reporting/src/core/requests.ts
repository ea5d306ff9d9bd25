import { CATEGORIES, ErrorDetail, isKnownCategory, ValidationError } from '@app/contracts';
import { EventFilter, parseEventFilter } from '@app/query';
import { EXPORT_FORMATS, ExportFormat } from './json';

export const REPORT_TYPES = ['compliance', 'security', 'activity'] as const;
export type ReportType = (typeof REPORT_TYPES)[number];
export const REPORT_FORMATS = ['json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The longest period one job may cover: an export or report of more is split by the caller. */
export const MAX_PERIOD_DAYS = 3660;

export interface ExportRequest {
  format: ExportFormat;
  includeMetadata: boolean;
  compress: boolean;
  filter: EventFilter;
  /** The body as given (for the manifest: the query that produced the file). */
  query: Record<string, unknown>;
}

export interface ReportRequest {
  reportType: ReportType;
  format: ReportFormat;
  filter: EventFilter;
  query: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** The search filters the body may carry besides period and categories, as GET /audit/events names them. */
const SEARCH_FIELDS = ['event_type', 'severity', 'q', 'source', 'ip_address', 'session_id'];

function refuse(errors: ErrorDetail[]): never {
  throw new ValidationError(`invalid request: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
}

/**
 * The period, categories and search filters of a body, through the same parser as GET /audit/events so a
 * filter means the same in both. The period must be bounded on both sides and not inverted.
 */
function parseScope(body: Record<string, unknown>, allowed: string[], nowUs: number, errors: ErrorDetail[]): EventFilter | undefined {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k) && !SEARCH_FIELDS.includes(k) && !k.startsWith('metadata.')) {
      errors.push({ field: k, message: `unknown field; allowed: ${[...allowed, ...SEARCH_FIELDS].join(', ')}, metadata.<key>` });
    }
  }
  const period = body.period;
  const query: Record<string, unknown> = {};
  if (!isObject(period)) errors.push({ field: 'period', message: 'required: { "start": ISO 8601, "end": ISO 8601 }' });
  else {
    for (const b of ['start', 'end'] as const) {
      if (typeof period[b] !== 'string' || period[b] === '')
        errors.push({ field: `period.${b}`, message: 'required: an ISO 8601 date or timestamp (an unbounded period is refused)' });
      else query[b] = period[b];
    }
    for (const k of Object.keys(period))
      if (k !== 'start' && k !== 'end') errors.push({ field: `period.${k}`, message: 'unknown field; allowed: start, end' });
  }
  const categories = body.categories ?? ['all'];
  if (!Array.isArray(categories) || categories.length === 0 || categories.some((c) => typeof c !== 'string')) {
    errors.push({ field: 'categories', message: 'must be a non-empty array of category names (or ["all"])' });
  } else {
    for (const c of categories as string[]) {
      if (c !== 'all' && !isKnownCategory(c)) {
        errors.push({
          field: 'categories',
          message: `unknown category '${c.slice(0, 64)}'; known: ${CATEGORIES.map((x) => x.category).join(', ')}, all (aliases as in search)`,
        });
      }
    }
    query.category = (categories as string[]).join(',');
  }
  for (const k of Object.keys(body)) {
    if (!SEARCH_FIELDS.includes(k) && !k.startsWith('metadata.')) continue;
    const v = body[k];
    if (typeof v === 'string') query[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) query[k] = k.startsWith('metadata.') ? v : v.join(',');
    else errors.push({ field: k, message: 'must be a string or an array of strings' });
  }
  if (errors.length > 0) return undefined;
  let filter: EventFilter;
  try {
    filter = parseEventFilter(query, nowUs, false).filter;
  } catch (e) {
    // The parser names its own parameters; the body's are period.start / period.end.
    const details = ((e as ValidationError).details ?? []).map((d) => ({
      ...d,
      field: d.field === 'start' || d.field === 'end' ? `period.${d.field}` : d.field,
    }));
    refuse(details.length > 0 ? details : [{ field: 'period', message: (e as Error).message }]);
  }
  if (filter.fromUs !== undefined && filter.toUs !== undefined) {
    if (filter.toUs - filter.fromUs > MAX_PERIOD_DAYS * 86_400_000_000) {
      errors.push({ field: 'period', message: `longer than ${MAX_PERIOD_DAYS} days; split it` });
    }
  }
  return filter;
}

function oneOf<T extends string>(
  body: Record<string, unknown>,
  field: string,
  allowed: readonly T[],
  def: T | undefined,
  errors: ErrorDetail[],
): T {
  const v = body[field] ?? def;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    errors.push({
      field,
      message: `${v === undefined ? 'required' : `'${String(v).slice(0, 32)}' is not supported`}; use ${allowed.join(', ')}`,
    });
  }
  return v as T;
}

function bool(body: Record<string, unknown>, field: string, def: boolean, errors: ErrorDetail[]): boolean {
  const v = body[field] ?? def;
  if (typeof v !== 'boolean') errors.push({ field, message: 'must be true or false' });
  return v === true;
}

/** POST /audit/export's body: the guide's `format`, `period`, `categories`, `include_metadata`, `compress`. */
export function parseExportRequest(body: unknown, nowUs: number): ExportRequest {
  if (!isObject(body)) refuse([{ field: '/', message: 'the body must be a JSON object' }]);
  const errors: ErrorDetail[] = [];
  const format = oneOf(body, 'format', EXPORT_FORMATS, 'csv', errors);
  const includeMetadata = bool(body, 'include_metadata', true, errors);
  const compress = bool(body, 'compress', false, errors);
  const filter = parseScope(body, ['format', 'period', 'categories', 'include_metadata', 'compress'], nowUs, errors);
  if (errors.length > 0 || !filter) refuse(errors);
  return { format, includeMetadata, compress, filter, query: body };
}

/** POST /audit/reports's body: the guide's `report_type`, `period`, `categories`, `format`. */
export function parseReportRequest(body: unknown, nowUs: number): ReportRequest {
  if (!isObject(body)) refuse([{ field: '/', message: 'the body must be a JSON object' }]);
  const errors: ErrorDetail[] = [];
  const reportType = oneOf(body, 'report_type', REPORT_TYPES, undefined, errors);
  const format = oneOf(body, 'format', REPORT_FORMATS, 'json', errors);
  const filter = parseScope(body, ['report_type', 'period', 'categories', 'format'], nowUs, errors);
  if (errors.length > 0 || !filter) refuse(errors);
  return { reportType, format, filter, query: body };
}
