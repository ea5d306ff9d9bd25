import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { formatMicros, HOUR_US, normalizeEvent, nowMicros } from '@app/contracts';
import {
  createClickHouse,
  DATABASE,
  eventToRow,
  EventStoreRepository,
  filterToSql,
  migrateClickHouse,
  parseEventFilter,
  releaseChdb,
} from '@app/query';

/**
 * Search totals come from the hourly roll-up where the filter allows and from raw rows at partial-hour
 * edges; whatever the bounds, they must equal a plain count() of the raw rows.
 */
describe('search totals on the chdb engine', () => {
  let dir: string;
  let ch: ClickHouseClient;
  let store: EventStoreRepository;
  const now = nowMicros();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-counts-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
    store = new EventStoreRepository(ch);
    const types = ['login_failed', 'device_error', 'job_failed', 'api_access', 'config_updated'];
    // 600 events, one every 7 minutes and 13 seconds back from now: every hour of the last three days is partly filled.
    const rows = Array.from({ length: 600 }, (_, i) => {
      const r = normalizeEvent(
        { event_type: types[i % types.length], timestamp: formatMicros(now - i * 433e6), metadata: { site_id: `S${i % 3}` } },
        { tenantId: 'default', receivedAtMicros: now, trustTenantField: true },
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return JSON.stringify(eventToRow(r.event, { partition: 0, offset: String(i) }));
    });
    await store.insertLines(rows.slice(0, 300), 'counts:0-299');
    await store.insertLines(rows.slice(300), 'counts:300-599');
  });

  afterAll(async () => {
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  const hourStart = Math.floor(now / HOUR_US) * HOUR_US;
  const cases: Array<Record<string, string>> = [
    {},
    { category: 'security' },
    { event_type: 'login_failed', since: '24h' },
    { severity: 'error,critical', since: '7d' },
    { since: '90m' },
    { start: formatMicros(now - 5.5 * HOUR_US), end: formatMicros(now - 2.25 * HOUR_US) },
    { start: formatMicros(hourStart - 48 * HOUR_US), end: formatMicros(hourStart - 3 * HOUR_US - 1) },
    { category: 'device', end: formatMicros(now - 30 * HOUR_US) },
    { start: formatMicros(now - 40 * 60e6), end: formatMicros(now - 10 * 60e6) },
    { 'metadata.site_id': 'S1', since: '24h' },
  ];

  it.each(cases)('should give the raw count for %j', async (query) => {
    const { filter, page } = parseEventFilter(query, now);
    const { where, params } = filterToSql('default', filter);
    const rs = await ch.query({
      query: `SELECT count() AS n FROM ${DATABASE}.events WHERE ${where}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const [raw] = await rs.json<{ n: string }>();
    const res = await store.search('default', filter, page);
    expect(res.total).toBe(Number(raw.n));
    expect(res.total).toBeGreaterThan(0);
  });

  it.each(['category', 'severity'] as const)('should give a timeline by %s equal to a raw count per hour', async (breakdown) => {
    const t = await store.timeline('default', breakdown, 72, nowMicros());
    const rs = await ch.query({
      query: `SELECT toString(toStartOfHour(timestamp)) AS h, ${breakdown} AS k, count() AS n FROM ${DATABASE}.events
              WHERE tenant_id = 'default' AND timestamp >= parseDateTime64BestEffort({from:String}, 6, 'UTC')
                AND timestamp < parseDateTime64BestEffort({to:String}, 6, 'UTC') GROUP BY h, k`,
      query_params: { from: t.from, to: t.to },
      format: 'JSONEachRow',
    });
    const raw = new Map<string, Record<string, number>>();
    for (const r of await rs.json<{ h: string; k: string; n: string }>()) {
      const bucket = `${r.h.replace(' ', 'T')}.000Z`;
      raw.set(bucket, { ...raw.get(bucket), [r.k]: Number(r.n) });
    }
    expect(t.timeline).toHaveLength(72);
    // Every hour of the three days holds events: each bucket's counts are the raw rows' counts.
    expect(t.timeline.filter((b) => b.total > 0).length).toBeGreaterThanOrEqual(70);
    for (const b of t.timeline) expect(b.counts).toEqual(raw.get(b.bucket) ?? {});
  });
});
