import { EventFilter, EXPORT_CSV_COLUMNS } from '@app/contracts';
import { DATABASE } from './clickhouse/schema';
import { settingsFor, StoreQueries } from './clickhouse/store-queries';
import { filterToSql, orderBy } from './event-query';
import { keysetAfter } from './event-search.store';
import { eventJsonSql } from './event-json-line';
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
 * A text value with OWASP's formula neutralisation, in SQL: one starting with = + - @, tab, CR, LF or their
 * full-width forms gets a leading '. The same rule as `csvField` in libs/reporting. `short_circuit_function_evaluation
 * = 'force_enable'` (EXPORT_SETTINGS) makes the engine build the prefixed copy only for the rows that need it.
 */
function neutralised(expr: string): string {
  // The class ends with '-', so nothing in it is a range; \t \r \n become the characters in the SQL literal.
  return `if(match(${expr}, '^([=+@\\t\\r\\n-]|＝|＋|－|＠)'), concat('\\'', ${expr}), ${expr})`;
}

/**
 * One CSV field in SQL, as the engine's own CSV output writes a String (RFC 4180: always quoted, inner quotes
 * doubled), so an export page and an export file the engine writes itself (FORMAT CSV) hold the same bytes.
 */
const quoted = (expr: string): string => `concat('"', replaceAll(${expr}, '"', '""'), '"')`;

/**
 * The CSV columns of the export (EXPORT_CSV_COLUMNS), as SQL over the events table. The id and the two
 * times are written from typed columns (UUID, DateTime64), so they can hold no formula start and skip the
 * test; every text column takes it, whatever the ingest's patterns already allow, so data written under
 * older rules is neutralised too.
 */
const TYPED_CSV_EXPRESSIONS: Readonly<Record<string, string>> = {
  id: 'toString(id)',
  timestamp: iso('timestamp'),
  received_at: iso('received_at'),
};
const CSV_VALUES: ReadonlyArray<string> = EXPORT_CSV_COLUMNS.map((c) => TYPED_CSV_EXPRESSIONS[c] ?? neutralised(c));

/** What the rows are written from: read by the page's LIMIT, formatted after it, so no row beyond the page is. */
const EXPORT_COLUMNS =
  'id, timestamp, received_at, event_type, category, severity, description, source, ip_address, user_agent, session_id, ' +
  'tenant_id, idempotency_key, sequence, metadata_json';

const METADATA_JSON = "if(metadata_json = '', '{}', metadata_json)";

/**
 * The CSV file's values before quoting, in column order: what FORMAT CSV writes, and exportRowSql quotes.
 * Metadata is the stored text of a JSON object, so it starts with '{' and can start no formula: it skips the
 * test (about a tenth of the export's time in the engine).
 */
const csvValues = (includeMetadata: boolean): string[] => (includeMetadata ? [...CSV_VALUES, METADATA_JSON] : [...CSV_VALUES]);

/** Every export statement: the neutralising `if` builds its prefixed copy only where a value needs it. */
const EXPORT_SETTINGS = "short_circuit_function_evaluation = 'force_enable'";

/**
 * One row's text in SQL. CSV: the fields, neutralised and quoted, joined by commas, ended by CRLF. JSON: the
 * stored event with its keys in the order the API writes them (rowToEvent), metadata as its stored JSON text;
 * strings through toJSONString (with forward slashes left alone), so a JSON parser reads back every field
 * exactly as stored. Only fixed SQL is chosen here: the user's input stays in the bound parameters.
 */
export function exportRowSql(format: ExportTextFormat, includeMetadata: boolean): string {
  if (format === 'csv') {
    const fields = csvValues(includeMetadata).map(quoted);
    return `concat(${fields.join(", ',', ")}, '\\r\\n')`;
  }
  const object = eventJsonSql({ metadata: includeMetadata, position: false });
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
       )${settingsFor(filter, 'read_in_order_use_buffering = 0', 'output_format_json_escape_forward_slashes = 0', EXPORT_SETTINGS)}`,
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

/** A run of whole hours of an export, about a page of rows, that the engine writes in one statement. */
export interface ExportFilePage {
  /** The first and last hour it covers, as the engine writes a DateTime ('YYYY-MM-DD HH:00:00', UTC). */
  fromHour: string;
  toHour: string;
  /** The rows counted when the export was planned, and the first and last event times (ISO 8601). */
  rows: number;
  first: string;
  last: string;
}

/**
 * The engine writing an export's file itself (`INTO OUTFILE`): only where it runs in this process (chdb), so
 * the file it writes is a local file this process can hash and hand to the object store. Over HTTP the
 * file would be on the server's disk; the paged path (exportPage) serves there.
 */
export interface EngineFileExport {
  /** The export's hours with events, counted, in pages of about `pageRows` (an hour is never split). */
  planFile(tenantId: string, filter: EventFilter, pageRows: number): Promise<ExportFilePage[]>;
  /**
   * Writes one page's rows in the file's syntax (as exportPage's text) at the end of the file at `path`, or,
   * with `compress`, as a whole gzip file there. Rows after `after` only (the first page of a JSON array,
   * whose first row the caller wrote). Answers the rows written.
   */
  writeFilePage(request: FilePageRequest): Promise<number>;
}

/** One page of an export file for the engine to write (EngineFileExport.writeFilePage). */
export interface FilePageRequest {
  tenantId: string;
  filter: EventFilter;
  format: ExportTextFormat;
  includeMetadata: boolean;
  page: ExportFilePage;
  /** The rows after this cursor only; null for all of the page's hours. */
  after: RangeCursor | null;
  /** The local file: appended to, or, with `compress`, written whole as a gzip file. */
  path: string;
  compress: boolean;
}

/** A file page's statement has no LIMIT: an hour of a busy tenant may take longer than a read's limit. */
const EXPORT_FILE_TIMEOUT_SECONDS = 3600;

/**
 * gzip level of an export the engine compresses: 3 writes about 1.7 times faster than 6 (zlib's default)
 * for a file about 7% larger (1M rows of the bench's fleet: 80 against 75 MB). See docs/performance.md.
 */
export const EXPORT_GZIP_LEVEL = 3;

/**
 * One thread for the statement: read in (hour, time, id) order it runs on about one thread anyway (measured:
 * 1M rows in the same time with 1 or 2), and this process hashes the last page and flushes it to disk on the
 * other core meanwhile.
 */
const FILE_SETTINGS = ['max_threads = 1', 'output_format_parallel_formatting = 0'];

/** A ClickHouse string literal holding `s`. */
const literal = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The engine's own writes of export files (EngineFileExport), beside its pages. */
export class ClickHouseFileExport implements EngineFileExport {
  constructor(private readonly q: StoreQueries) {
    if (!q.inProcess) throw new Error('the engine writes export files only when it runs in this process (chdb)');
  }

  async planFile(tenantId: string, filter: EventFilter, pageRows: number): Promise<ExportFilePage[]> {
    const { where, params } = filterToSql(tenantId, filter);
    const hours = await this.q.rows<{ h: string; n: string; first: string; last: string }>(
      `SELECT toString(toStartOfHour(timestamp)) AS h, count() AS n, ${iso('min(timestamp)')} AS first, ${iso('max(timestamp)')} AS last
       FROM ${DATABASE}.events WHERE ${where} GROUP BY h ORDER BY h${settingsFor(filter)}`,
      params,
    );
    // Pages shrink towards the end (each at most half of what is left, down to an eighth of a page): the
    // last page is hashed after the engine is done, so a small one leaves little to do then.
    let left = hours.reduce((n, h) => n + Number(h.n), 0);
    let limit = 0;
    const pages: ExportFilePage[] = [];
    for (const hour of hours) {
      const rows = Number(hour.n);
      const page = pages[pages.length - 1];
      if (page && page.rows + rows <= limit) {
        page.toHour = hour.h;
        page.rows += rows;
        page.last = hour.last;
      } else {
        limit = Math.min(pageRows, Math.max(Math.ceil(left / 2), Math.ceil(pageRows / 8)));
        pages.push({ fromHour: hour.h, toHour: hour.h, rows, first: hour.first, last: hour.last });
      }
      left -= rows;
    }
    return pages;
  }

  async writeFilePage({ tenantId, filter, format, includeMetadata, page, after, path, compress }: FilePageRequest): Promise<number> {
    const { where, params } = filterToSql(tenantId, filter);
    const keyset = keysetAfter(after, params);
    Object.assign(params, { pageFrom: page.fromHour, pageTo: page.toHour });
    // CSV: the engine's own CSV writer quotes the neutralised values (what exportRowSql does in SQL); JSON:
    // the row's text as exportRowSql builds it, written as it is (RawBLOB: no delimiter, no escaping).
    const values = format === 'csv' ? csvValues(includeMetadata).join(', ') : exportRowSql(format, includeMetadata);
    const into = compress ? `TRUNCATE COMPRESSION 'gzip' LEVEL ${EXPORT_GZIP_LEVEL}` : 'APPEND';
    const summary = await this.q.command(
      `SELECT ${values} FROM ${DATABASE}.events
       WHERE ${where}${keyset}
         AND toStartOfHour(timestamp) >= toDateTime({pageFrom:String}, 'UTC') AND toStartOfHour(timestamp) <= toDateTime({pageTo:String}, 'UTC')
       ORDER BY ${orderBy('asc')}
       INTO OUTFILE ${literal(path)} ${into} FORMAT ${format === 'csv' ? 'CSV' : 'RawBLOB'}
       ${settingsFor(filter, 'output_format_csv_crlf_end_of_line = 1', 'output_format_json_escape_forward_slashes = 0', EXPORT_SETTINGS, ...FILE_SETTINGS)}`,
      params,
      { max_execution_time: EXPORT_FILE_TIMEOUT_SECONDS },
    );
    const rows = Number(summary?.result_rows);
    if (!Number.isSafeInteger(rows)) throw new Error('the engine did not say how many rows it wrote');
    return rows;
  }
}
