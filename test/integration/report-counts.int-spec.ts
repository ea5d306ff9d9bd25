import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { normalizeEvent, StoredAuditEvent } from '@app/contracts';
import {
  createClickHouse,
  eventToRow,
  EventStoreRepository,
  migrateClickHouse,
  parseEventFilter,
  RangeCursor,
  releaseChdb,
} from '@app/query';
import { aggregatorFromCounts, buildReport, controlKey, CONTROLS, ReportAggregator, ReportContext, SAMPLE_ROWS } from '@app/reporting';

/**
 * The compliance report from the store's GROUP BY counts must equal the report folded from every event of the
 * same scope: same controls (status, evidence counts, samples), same incomplete records (10.2.2, the SQL rule
 * against lacksRequiredFields), same logging gaps and counts by type.
 */
describe('compliance report counts on the chdb engine', () => {
  let dir: string;
  let ch: ClickHouseClient;
  let store: EventStoreRepository;
  const types = ['login_failed', 'admin_action', 'user_created', 'api_access', 'data_exported', 'system_startup', 'device_error'];
  // Metadata shapes around the 10.2.2 rule: complete, no user, empty user, the session as user, no resource,
  // an empty resource before a present device_id, a non-string resource.
  const shapes: Array<{ metadata: Record<string, unknown>; session_id?: string; source?: string }> = [
    { metadata: { user_id: 'alice', resource: '/cards' } },
    { metadata: { resource: '/cards' } },
    { metadata: { user_id: '', resource: '/x' } },
    { metadata: { device_id: 'D1' }, session_id: 's-1' },
    { metadata: { operator_id: 'op' } },
    { metadata: { actor: 'bob', resource: '', device_id: 'D2' } },
    // No source given (and, every fifth event, no address): an origin may be missing.
    { metadata: { user_id: 'carol', site_id: 'S1' }, source: '' },
    { metadata: { user_id: 'dave', path: '/p' }, source: 'pos' },
  ];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-report-counts-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
    store = new EventStoreRepository(ch);
    const lines: string[] = [];
    for (let i = 0; i < 700; i++) {
      const shape = shapes[i % shapes.length];
      // Source "pos" skips days 5 and 6: a logging gap both ways must find.
      const day = 1 + (i % 12);
      const source = shape.source ?? (i % 3 === 0 && (day === 5 || day === 6) ? 'web' : i % 3 === 0 ? 'pos' : 'web');
      const r = normalizeEvent(
        {
          event_type: types[i % types.length],
          timestamp: `2025-03-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:15:00.000000Z`,
          metadata: shape.metadata,
          ...(shape.session_id ? { session_id: shape.session_id } : {}),
          ...(source ? { source } : {}),
          ...(i % 5 === 0 ? {} : { ip_address: '10.0.0.1' }),
        },
        { tenantId: 'default', receivedAtMicros: Date.UTC(2025, 3, 1) * 1000, trustTenantField: true },
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      lines.push(JSON.stringify(eventToRow(r.event, { partition: 0, offset: String(i) })));
    }
    await store.insertLines(lines, 'report-counts');
  });

  afterAll(async () => {
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [{ start: '2025-03-01', end: '2025-03-31' }],
    [{ start: '2025-03-03', end: '2025-03-09', category: 'security,user' }],
    [{ start: '2025-03-01', end: '2025-03-31', event_type: 'login_failed,admin_action,api_access' }],
  ])('should give the same report from counts as from every event (%j)', async (query) => {
    const { filter } = parseEventFilter(query, Date.UTC(2025, 3, 1) * 1000, false);
    const streamed = new ReportAggregator();
    let after: RangeCursor | null = null;
    for (;;) {
      const page: StoredAuditEvent[] = await store.range('default', filter, after, 100);
      page.forEach((e) => streamed.add(e));
      if (page.length < 100) break;
      after = { timestamp: page[page.length - 1].timestamp, id: page[page.length - 1].id };
    }
    const counts = await store.reportCounts('default', filter);
    const samples = new Map<string, StoredAuditEvent[]>();
    for (const c of CONTROLS) {
      const t = c.eventTypes.filter((x) => filter.eventTypes.length === 0 || filter.eventTypes.includes(x));
      if (t.length > 0) samples.set(controlKey(c), await store.range('default', { ...filter, eventTypes: t }, null, SAMPLE_ROWS));
    }
    const ctx: ReportContext = {
      reportId: 'r',
      reportType: 'compliance',
      tenantId: 'default',
      filter,
      categories: filter.categories,
      generatedAt: '2025-04-01T00:00:00Z',
      warnings: [],
    };
    const fromCounts = aggregatorFromCounts(counts, samples);
    expect(streamed.total).toBeGreaterThan(0);
    expect(fromCounts.incompleteRecords).toBe(streamed.incompleteRecords);
    expect(streamed.incompleteRecords).toBeGreaterThan(0);
    expect(buildReport(ctx, fromCounts)).toEqual(buildReport(ctx, streamed));
  });
});
