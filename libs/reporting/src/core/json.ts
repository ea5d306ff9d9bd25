import { Transform, TransformCallback } from 'node:stream';
import { StoredAuditEvent } from '@app/contracts';
import { CsvEventWriter } from './csv';
import { EXPORT_TEXT_FORMATS, ExportTextFormat } from '@app/query';

/**
 * An event as the export writes it: every field exactly as stored (the log position, an internal detail of
 * the store, is left out); with include_metadata false the metadata is left out too.
 */
export function exportedEvent(event: StoredAuditEvent, includeMetadata: boolean): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { position, ...rest } = event;
  if (includeMetadata) return rest;
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { metadata, ...bare } = rest;
  return bare;
}

/** Events in, one JSON object per line out (NDJSON / JSON Lines). */
export class NdjsonEventWriter extends Transform {
  constructor(private readonly includeMetadata: boolean) {
    super({ writableObjectMode: true });
  }

  /** An event, or a page of them written as one chunk. */
  override _transform(chunk: StoredAuditEvent | StoredAuditEvent[], _enc: BufferEncoding, done: TransformCallback): void {
    let out = '';
    for (const event of Array.isArray(chunk) ? chunk : [chunk]) out += `${JSON.stringify(exportedEvent(event, this.includeMetadata))}\n`;
    done(null, out);
  }
}

/** Events in, one JSON array out, written element by element so memory stays flat. */
export class JsonArrayEventWriter extends Transform {
  private first = true;

  constructor(private readonly includeMetadata: boolean) {
    super({ writableObjectMode: true });
  }

  /** An event, or a page of them written as one chunk. */
  override _transform(chunk: StoredAuditEvent | StoredAuditEvent[], _enc: BufferEncoding, done: TransformCallback): void {
    let out = '';
    for (const event of Array.isArray(chunk) ? chunk : [chunk]) {
      out += (this.first ? '[\n' : ',\n') + JSON.stringify(exportedEvent(event, this.includeMetadata));
      this.first = false;
    }
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.first ? '[]\n' : '\n]\n');
  }
}

/** The export formats: the ones the query store writes pages in (EXPORT_TEXT_FORMATS), one list. */
export const EXPORT_FORMATS = EXPORT_TEXT_FORMATS;
export type ExportFormat = ExportTextFormat;

export function eventWriter(format: ExportFormat, includeMetadata: boolean): Transform {
  if (format === 'csv') return new CsvEventWriter(includeMetadata);
  return format === 'ndjson' ? new NdjsonEventWriter(includeMetadata) : new JsonArrayEventWriter(includeMetadata);
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
};
