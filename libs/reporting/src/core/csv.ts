import { Transform, TransformCallback } from 'node:stream';
import { EXPORT_CSV_COLUMNS, StoredAuditEvent } from '@app/contracts';

/**
 * Characters a spreadsheet reads as the start of a formula (OWASP "CSV Injection", CWE-1236): = + - @, tab,
 * carriage return and line feed, plus the full-width forms Excel also honours (as csv-stringify does).
 * csv-stringify's own escape_formulas misses a leading LF, which is one reason this writer is our own.
 */
const FORMULA_START = /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * How a field is quoted (RFC 4180 §2.5-2.7 allows either): `minimal` when it holds a comma, a quote or a line
 * break (reports, headers); `always` as the query engine's own CSV writer writes a string, which the export's
 * rows follow, so a file the engine writes holds the same bytes as one written here.
 */
export type CsvQuoting = 'minimal' | 'always';

/**
 * One CSV field, inner quotes doubled. A value that would start a formula gets a leading `'` and is always
 * quoted (OWASP's treatment), so `=1+2";=1+2` becomes `"'=1+2"";=1+2"`. This changes such values:
 * NDJSON/JSON are the lossless formats.
 */
export function csvField(value: string, quoting: CsvQuoting = 'minimal'): string {
  if (FORMULA_START.test(value)) return `"'${value.replace(/"/g, '""')}"`;
  if (quoting === 'always' || NEEDS_QUOTES.test(value)) return `"${value.replace(/"/g, '""')}"`;
  return value;
}

/** One record with its CRLF terminator (RFC 4180 §2.1). */
export function csvRecord(fields: readonly string[], quoting: CsvQuoting = 'minimal'): string {
  return `${fields.map((f) => csvField(f, quoting)).join(',')}\r\n`;
}

/** The export's columns, in order; `metadata` (one JSON column) only with include_metadata. */
export const CSV_COLUMNS = EXPORT_CSV_COLUMNS;

export function csvHeader(includeMetadata: boolean): string {
  return csvRecord(includeMetadata ? [...CSV_COLUMNS, 'metadata'] : [...CSV_COLUMNS]);
}

/** An event as one CSV record; metadata is its JSON text (keys as stored, no flattening). */
export function eventToCsv(event: StoredAuditEvent, includeMetadata: boolean): string {
  const fields: string[] = CSV_COLUMNS.map((c) => String(event[c] ?? ''));
  if (includeMetadata) fields.push(JSON.stringify(event.metadata ?? {}));
  return csvRecord(fields, 'always');
}

/** Events in (object mode), CSV text out: the header first, one record per event, constant memory. */
export class CsvEventWriter extends Transform {
  private headerDone = false;

  constructor(private readonly includeMetadata: boolean) {
    super({ writableObjectMode: true });
  }

  /** An event, or a page of them: a page is written as one chunk (gzip and the file pay per chunk, not per row). */
  override _transform(chunk: StoredAuditEvent | StoredAuditEvent[], _enc: BufferEncoding, done: TransformCallback): void {
    let out = '';
    if (!this.headerDone) {
      out = csvHeader(this.includeMetadata);
      this.headerDone = true;
    }
    for (const event of Array.isArray(chunk) ? chunk : [chunk]) out += eventToCsv(event, this.includeMetadata);
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    // An empty export is still a valid file with its header.
    done(null, this.headerDone ? undefined : csvHeader(this.includeMetadata));
  }
}
