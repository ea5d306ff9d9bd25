import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { StoredAuditEvent } from '@app/contracts';
import { eventsAsExportText, ExportFileWriter } from './export-file';
import { EXPORT_FORMATS, eventWriter } from './json';

const event = (i: number): StoredAuditEvent => ({
  schema_version: 1,
  id: `0192f3a0-0000-7000-8000-00000000000${i}`,
  tenant_id: 'default',
  event_type: 'login_failed',
  category: 'security_events',
  severity: 'warning',
  description: i % 2 ? '=cmd|"/C calc"!A0' : 'line\r\nbreak, "quoted"',
  metadata: { note: '@SUM(1)', i },
  timestamp: `2025-08-01T10:00:0${i}.000000Z`,
  received_at: '2025-08-01T10:00:00.000001Z',
  ip_address: '10.0.0.1',
  user_agent: '-x',
  session_id: '',
  source: 'web',
  idempotency_key: '',
});

describe(ExportFileWriter.name, () => {
  const events = [1, 2, 3, 4, 5].map(event);

  it.each(EXPORT_FORMATS.flatMap((f) => [true, false].map((m) => [f, m] as const)))(
    'given %s pages (metadata %s) of 0, 1 or several events, then the file is byte for byte what the event writer writes',
    async (format, includeMetadata) => {
      for (const pages of [[], [events.slice(0, 1)], [events.slice(0, 2), [], events.slice(2)]]) {
        const expected = await text(Readable.from(pages.flat()).pipe(eventWriter(format, includeMetadata)));
        const texts = pages.map((p) => eventsAsExportText(p, format, includeMetadata));
        const out = await text(Readable.from(texts).pipe(new ExportFileWriter(format, includeMetadata)));
        expect(out).toBe(expected);
      }
    },
  );
});
