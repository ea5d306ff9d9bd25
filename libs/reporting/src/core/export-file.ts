import { Transform, TransformCallback } from 'node:stream';
import { StoredAuditEvent } from '@app/contracts';
import { csvHeader, eventToCsv } from './csv';
import { ExportFormat, exportedEvent } from './json';

/**
 * Events as the rows of an export page, in the syntax the engine writes them (QueryPort.exportPage): CSV
 * records, JSON Lines, or JSON array elements each led by ",\n". The reference the engine's SQL is tested
 * against, and what a query port without an engine (the in-memory one of the tests) answers with.
 */
export function eventsAsExportText(events: readonly StoredAuditEvent[], format: ExportFormat, includeMetadata: boolean): string {
  let out = '';
  for (const e of events) {
    if (format === 'csv') out += eventToCsv(e, includeMetadata);
    else {
      const json = JSON.stringify(exportedEvent(e, includeMetadata));
      out += format === 'ndjson' ? `${json}\n` : `,\n${json}`;
    }
  }
  return out;
}

/**
 * Page texts in, the file out: the CSV header first (an empty export is its header alone), JSON's brackets
 * around its elements (the first element's leading comma becomes the "["), NDJSON as it comes. Each page is
 * one chunk, so gzip and the hash pay per page, not per row.
 */
export class ExportFileWriter extends Transform {
  private started = false;

  constructor(
    private readonly format: ExportFormat,
    private readonly includeMetadata: boolean,
  ) {
    super({ writableObjectMode: true });
  }

  override _transform(page: string, _enc: BufferEncoding, done: TransformCallback): void {
    if (page.length === 0) return done();
    let out = page;
    if (!this.started) {
      if (this.format === 'csv') out = csvHeader(this.includeMetadata) + page;
      else if (this.format === 'json') out = `[${page.slice(1)}`;
      this.started = true;
    }
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    if (this.format === 'csv') done(null, this.started ? undefined : csvHeader(this.includeMetadata));
    else if (this.format === 'json') done(null, this.started ? '\n]\n' : '[]\n');
    else done();
  }
}
