import { EventFilter, EXPORT_CSV_COLUMNS } from '@app/contracts';
import { DATABASE } from './clickhouse/schema';
import { settingsFor, StoreQueries } from './clickhouse/store-queries';
import { filterToSql, orderBy } from './event-query';
import { keysetAfter } from './event-search.store';
import { ReadOptions, RangeCursor } from './store-ports';

export const EXPORT_TEXT_FORMATS = ['csv', 'json', 'ndjson'] as const;
/** How the rows of a page are written: CSV records, JSON array elements, or JSON Lines. */
export type ExportTextFormat = (typeof EXPORT_TEXT_FORMATS)[number];

/** Rows per export page at most: one page is one string in memory, about 300 bytes a row. */
export const MAX_EXPORT_PAGE_ROWS = 50_000;

/**
 * A page of an export as the engine wrote it. `text` is the rows only, in the file's syntax: CSV records with
 * CRLF (no header), NDJSON lines, or JSON array elements each led by ",\n" (the writer turns the file's first
 * comma into "["). `next` is where the following page starts, null when this one was the last.
 */
export interface ExportPage {
  text: string;
  rows: number;
  /** The first and last event times of the page (ISO 8601), null for an empty page. */
  first: string | null;
  last: string | null;
  next: RangeCursor | null;
}

/** DateTime64(6, 'UTC') as the API writes it: 2025-08-01T10:00:00.000000Z. */
const iso = (column: string): string => `concat(replaceOne(toString(${column}), ' ', 'T'), 'Z')`;

/**
 * One CSV field in SQL, the same rule as `csvField` in libs/reporting (RFC 4180 quoting; OWASP formula
 * neutralisation: a value starting with = + - @, tab, CR, LF or their full-width forms gets a leading ' and is
 * always quoted). Byte comparisons: the full-width forms are three UTF-8 bytes.
 */
function csvField(expr: string): string {
  return `multiIf(
    substring(${expr}, 1, 1) IN ('=', '+', '-', '@', '\\t', '\\r', '\\n') OR substring(${expr}, 1, 3) IN ('＝', '＋', '－', '＠'),
      concat('"\\'', replaceAll(${expr}, '"', '""'), '"'),
    match(${expr}, '[",\\r\\n]'), concat('"', replaceAll(${expr}, '"', '""'), '"'),
    ${expr})`;
}

/**
 * The CSV columns of the export (EXPORT_CSV_COLUMNS), as SQL over the events table. The id and the two
 * times are written by the engine from typed columns (UUID, DateTime64), so they can hold neither a formula
 * start nor a character that needs quotes and skip the per-field test; every text column takes it, whatever
 * the ingest's patterns already allow, so data written under older rules is neutralised too.
 */
const TYPED_CSV_EXPRESSIONS: Readonly<Record<string, string>> = {
  id: 'toString(id)',
  timestamp: iso('timestamp'),
  received_at: iso('received_at'),
};
const CSV_EXPRESSIONS: ReadonlyArray<string> = EXPORT_CSV_COLUMNS.map((c) => TYPED_CSV_EXPRESSIONS[c] ?? csvField(c));

/** What the rows are written from: read by the page's LIMIT, formatted after it, so no row beyond the page is. */
const EXPORT_COLUMNS =
  'id, timestamp, received_at, event_type, category, severity, description, source, ip_address, user_agent, session_id, ' +
  'tenant_id, idempotency_key, sequence, metadata_json';

const METADATA_JSON = "if(metadata_json = '', '{}', metadata_json)";

/**
 * One row's text in SQL. CSV: the fields, neutralised and quoted, joined by commas, ended by CRLF. JSON: the
 * stored event with its keys in the order the API writes them (rowToEvent), metadata as its stored JSON text;
 * strings through toJSONString (with forward slashes left alone), so a JSON parser reads back every field
 * exactly as stored. Only fixed SQL is chosen here: the user's input stays in the bound parameters.
 */
export function exportRowSql(format: ExportTextFormat, includeMetadata: boolean): string {
  if (format === 'csv') {
    const fields = [...CSV_EXPRESSIONS];
    if (includeMetadata) fields.push(csvField(METADATA_JSON));
    return `concat(${fields.join(", ',', ")}, '\\r\\n')`;
  }
  const s = (key: string, expr = key): string => `',"${key}":', toJSONString(${expr})`;
  const object = [
    `'{"id":', toJSONString(toString(id))`,
    s('event_type'),
    s('category'),
    s('description'),
    ...(includeMetadata ? [`',"metadata":', ${METADATA_JSON}`] : []),
    `',"timestamp":"', ${iso('timestamp')}, '"'`,
    `',"received_at":"', ${iso('received_at')}, '"'`,
    s('ip_address'),
    s('user_agent'),
    s('session_id'),
    s('severity'),
    s('source'),
    `if(isNull(sequence), '', concat(',"sequence":', toString(assumeNotNull(sequence))))`,
    s('tenant_id'),
    `',"schema_version":1'`,
    s('idempotency_key'),
    `'}'`,
  ].join(', ');
  return format === 'ndjson' ? `concat(${object}, '\\n')` : `concat(',\\n', ${object})`;
}

/**
 * Export pages written by the engine: the rows of one keyset page formatted in SQL and concatenated there, so
 * JavaScript never holds an object per row. The page's rows are gathered into one array and sorted by
 * (timestamp, id) before they are joined (an aggregate has no order of its own), and the same row gives the
 * page's count, first and last times and the cursor of its last row. The rows are formatted after the
 * page's LIMIT, on the page's rows only.
 */
export class ClickHouseEventExport {
  constructor(private readonly q: StoreQueries) {}

  async exportPage(
    tenantId: string,
    filter: EventFilter,
    format: ExportTextFormat,
    includeMetadata: boolean,
    after: RangeCursor | null,
    limit: number,
    options: ReadOptions = {},
  ): Promise<ExportPage> {
    const { where, params } = filterToSql(tenantId, filter);
    const keyset = keysetAfter(after, params);
    // TabSeparatedRaw: the page's text comes back as the engine wrote it, after four fixed fields that hold no
    // tab (the count, the first and last times, the last id), with no escaping for JSON and none to undo here.
    const out = await this.q.rawText(
      `SELECT length(p) AS n, if(n = 0, '', ${iso('p[1].1')}), if(n = 0, '', ${iso('p[-1].1')}), if(n = 0, '', toString(p[-1].2)),
         arrayStringConcat(arrayMap(x -> x.3, p))
       FROM (
         SELECT arraySort(groupArray((timestamp, id, ${exportRowSql(format, includeMetadata)}))) AS p FROM (
           SELECT ${EXPORT_COLUMNS} FROM ${DATABASE}.events
           WHERE ${where}${keyset} ORDER BY ${orderBy('asc')} LIMIT {limit:UInt32}
         )
       )${settingsFor(filter, 'read_in_order_use_buffering = 0', 'output_format_json_escape_forward_slashes = 0')}`,
      { ...params, limit },
      options.signal,
    );
    const fields: string[] = [];
    let at = 0;
    for (let i = 0; i < 4; i++) {
      const tab = out.indexOf('\t', at);
      if (tab < 0) throw new Error('an export page without its header fields');
      fields.push(out.slice(at, tab));
      at = tab + 1;
    }
    const rows = Number(fields[0]);
    if (rows === 0) return { text: '', rows: 0, first: null, last: null, next: null };
    return {
      // The row's own line end (TabSeparatedRaw ends each row with one).
      text: out.slice(at, out.endsWith('\n') ? -1 : undefined),
      rows,
      first: fields[1],
      last: fields[2],
      next: rows < limit ? null : { timestamp: fields[2], id: fields[3] },
    };
  }
}
