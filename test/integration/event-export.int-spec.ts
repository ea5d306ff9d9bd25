import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { normalizeEvent, StoredAuditEvent } from '@app/contracts';
import {
  createClickHouse,
  eventToRow,
  EventStoreRepository,
  EXPORT_TEXT_FORMATS,
  ExportPage,
  migrateClickHouse,
  parseEventFilter,
  RangeCursor,
  releaseChdb,
} from '@app/query';
import { eventsAsExportText } from '@app/reporting';

/**
 * The export's rows as the engine writes them (QueryPort.exportPage, the SQL in event-export.store.ts) against
 * the JavaScript writers they replace, on hostile values: every character that starts a formula (OWASP), its
 * full-width forms, quotes, commas, CR/LF inside fields, U+2028, slashes, backslashes and
 * emoji, in descriptions and metadata. CSV must be the same bytes; JSON must parse to the same values.
 */
describe('export pages written by the chdb engine', () => {
  let dir: string;
  let ch: ClickHouseClient;
  let store: EventStoreRepository;
  const hostile = [
    '=1+2";=1+2',
    '+SUM(A1)',
    '-2+3',
    '@cmd',
    '\tx',
    '\rx',
    '\nx',
    '＝1+2',
    '＋1',
    '－1',
    '＠x',
    '=HYPERLINK("http://x","y")',
    'a,b',
    'say "hi"',
    'line\r\nbreak',
    'plain a=b+c',
    '',
    'sep \u2028 \u2029, \\ back / slash </script>',
    'emoji 🔒 ünïcödé',
  ];
  const filter = parseEventFilter({ start: '2025-03-01', end: '2025-03-31' }, Date.UTC(2025, 3, 1) * 1000, false).filter;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-export-pages-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
    store = new EventStoreRepository(ch);
    const lines: string[] = [];
    hostile.forEach((value, i) => {
      const r = normalizeEvent(
        {
          event_type: i % 2 ? 'login_failed' : 'api_access',
          description: value,
          // Two events share a time, so the keyset's id tie-break is crossed too.
          timestamp: `2025-03-${String(1 + (i % 9)).padStart(2, '0')}T10:00:0${i % 3 === 0 ? 0 : 1}.${String(i).padStart(6, '0')}Z`,
          metadata: i === 3 ? {} : { note: value, [`k${i}`]: { nested: [value, i, null, true] }, user_id: `=u${i}` },
          user_agent: i % 2 ? '-agent, "x"' : '@agent',
          session_id: i % 4 === 0 ? '@session' : '',
          ...(i % 2 ? { source: '-pos' } : {}),
          ...(i % 4 === 1 ? { sequence: i * 1000 } : {}),
        },
        { tenantId: 'default', receivedAtMicros: Date.UTC(2025, 3, 1) * 1000 + i, trustTenantField: true },
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      lines.push(JSON.stringify(eventToRow(r.event, { partition: 0, offset: String(i) })));
    });
    await store.insertLines(lines, 'export-pages');
  });

  afterAll(async () => {
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every page of the range at `limit` rows a page. */
  async function pages(format: (typeof EXPORT_TEXT_FORMATS)[number], includeMetadata: boolean, limit: number): Promise<ExportPage[]> {
    const out: ExportPage[] = [];
    let after: RangeCursor | null = null;
    for (;;) {
      const page = await store.exportPage('default', filter, format, includeMetadata, after, limit);
      out.push(page);
      if (!page.next) return out;
      after = page.next;
    }
  }

  it.each(EXPORT_TEXT_FORMATS.flatMap((f) => [true, false].map((m) => [f, m] as const)))(
    'given hostile values, then the engine writes %s (metadata %s) as the JavaScript writer does, over pages of 4',
    async (format, includeMetadata) => {
      const events: StoredAuditEvent[] = await store.range('default', filter, null, 1000);
      expect(events).toHaveLength(hostile.length);
      const expected = eventsAsExportText(events, format, includeMetadata);
      const got = await pages(format, includeMetadata, 4);
      expect(got.map((p) => p.rows)).toEqual([4, 4, 4, 4, 3]);
      expect(got[0].first).toBe(events[0].timestamp);
      expect(got.at(-1)!.last).toBe(events.at(-1)!.timestamp);
      expect(got[1].next).toEqual({ timestamp: events[7].timestamp, id: events[7].id });
      const text = got.map((p) => p.text).join('');
      if (format === 'csv') expect(text).toBe(expected);
      else if (format === 'ndjson') {
        const parse = (t: string): unknown[] =>
          t
            .trimEnd()
            .split('\n')
            .map((l) => JSON.parse(l) as unknown);
        expect(parse(text)).toEqual(parse(expected));
        expect(text.split('\n')).toHaveLength(hostile.length + 1);
      } else {
        const parse = (t: string): unknown => JSON.parse(`[${t.slice(1)}]`);
        expect(parse(text)).toEqual(parse(expected));
      }
    },
  );

  it.each(EXPORT_TEXT_FORMATS.flatMap((f) => [true, false].map((m) => [f, m] as const)))(
    'given hostile values, then the file the engine writes itself in %s (metadata %s), plain and gzip, holds what its pages do',
    async (format, includeMetadata) => {
      const files = store.fileExport!;
      expect(files).toBeDefined();
      const plan = await files.planFile('default', filter, 4);
      // Hours are never split: 19 events in 9 hours, at most 4 rows a page unless one hour holds more.
      expect(plan.length).toBeGreaterThan(3);
      expect(plan.reduce((n, p) => n + p.rows, 0)).toBe(hostile.length);
      const events: StoredAuditEvent[] = await store.range('default', filter, null, 1000);
      expect(plan[0].first).toBe(events[0].timestamp);
      expect(plan.at(-1)!.last).toBe(events.at(-1)!.timestamp);
      const plain = path.join(dir, `file-${format}-${includeMetadata}`);
      let rows = 0;
      const parts: Buffer[] = [];
      for (const [k, page] of plan.entries()) {
        const request = { tenantId: 'default', filter, format, includeMetadata, page, after: null };
        rows += await files.writeFilePage({ ...request, path: plain, compress: false });
        const part = path.join(dir, `file-${format}-${includeMetadata}.${k}.gz`);
        await files.writeFilePage({ ...request, path: part, compress: true });
        parts.push(readFileSync(part));
      }
      expect(rows).toBe(hostile.length);
      const text = readFileSync(plain, 'utf8');
      // The gzip members, one after another, are one gzip file of the same text.
      expect(gunzipSync(Buffer.concat(parts)).toString('utf8')).toBe(text);
      const paged = (await pages(format, includeMetadata, 4)).map((p) => p.text).join('');
      expect(text).toBe(paged);
      // After a cursor: the rows that follow it only (a JSON array's first element is written apart).
      const after = path.join(dir, `after-${format}-${includeMetadata}`);
      const cursor = { timestamp: events[0].timestamp, id: events[0].id };
      const rest = { tenantId: 'default', filter, format, includeMetadata, page: plan[0], after: cursor, path: after, compress: false };
      expect(await files.writeFilePage(rest)).toBe(plan[0].rows - 1);
    },
  );

  it('given a range that ends on a full page, then one more empty page ends it', async () => {
    const got = await pages('csv', false, hostile.length);
    expect(got.map((p) => p.rows)).toEqual([hostile.length, 0]);
    expect(got[1]).toEqual({ text: '', rows: 0, first: null, last: null, next: null });
  });
});
