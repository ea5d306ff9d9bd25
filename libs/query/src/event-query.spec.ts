import { InvalidQueryError, normalizeEvent } from '@app/contracts';
import { parseEventFilter } from '@app/contracts';
import { filterToSql, rollupCount, usesLookupProjection } from './event-query';
import { eventToRow, flattenMetadata } from './event-row.mapper';

const now = Date.UTC(2026, 0, 10) * 1000;

describe('parseEventFilter', () => {
  it('should read aliases, lists, durations and metadata filters', () => {
    const { filter, page } = parseEventFilter(
      { category: 'security', severity: 'warning,critical', since: '24h', 'metadata.user_id': 'admin', limit: '50', offset: '100' },
      now,
    );
    expect(filter).toMatchObject({
      categories: ['security_events'],
      severities: ['warning', 'critical'],
      fromUs: now - 86400e6,
      metadata: [['user_id', 'admin']],
    });
    expect(page).toEqual({ limit: 50, offset: 100, order: 'desc' });
  });

  it('should treat category=all as no category filter', () => {
    expect(parseEventFilter({ category: 'all' }, now).filter.categories).toEqual([]);
  });

  it('should read a date alone as a whole UTC day: midnight for start and since, the last microsecond for end', () => {
    const { filter } = parseEventFilter({ start: '2025-12-01', end: '2025-12-31' }, now);
    expect(filter.fromUs).toBe(Date.UTC(2025, 11, 1) * 1000);
    expect(filter.toUs).toBe(Date.UTC(2026, 0, 1) * 1000 - 1);
    expect(parseEventFilter({ since: '2026-01-09' }, now).filter.fromUs).toBe(Date.UTC(2026, 0, 9) * 1000);
    const same = parseEventFilter({ start: '2026-01-05', end: '2026-01-05' }, now).filter;
    expect((same.toUs ?? 0) - (same.fromUs ?? 0)).toBe(86_400_000_000 - 1);
    expect(() => parseEventFilter({ start: '2026-02-30' }, now)).toThrow(InvalidQueryError);
  });

  it('should collect every problem into one 400', () => {
    try {
      parseEventFilter({ severity: 'x', since: 'soon', bogus: '1' }, now);
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidQueryError);
      expect((e as InvalidQueryError).details.map((d) => d.field).sort()).toEqual(['bogus', 'severity', 'since']);
    }
  });
});

describe('metadata keys', () => {
  it('should filter on exactly the keys an event may carry (one pattern, from the contract)', () => {
    const ctx = { tenantId: 't', receivedAtMicros: now, trustTenantField: false };
    for (const [key, ok] of [
      ['k'.repeat(64), true],
      ['k'.repeat(65), false],
      ['_site.id-2', true],
      ['.leading', false],
      ['sp ace', false],
    ] as const) {
      const stored = normalizeEvent({ event_type: 'login_failed', metadata: { [key]: 'v' } }, ctx).ok;
      let filtered = true;
      try {
        parseEventFilter({ [`metadata.${key}`]: 'v' }, now);
      } catch {
        filtered = false;
      }
      expect({ key, stored, filtered }).toEqual({ key, stored: ok, filtered: ok });
    }
  });
});

describe('filterToSql', () => {
  it('should bind every user value as a parameter', () => {
    const injection = "x'); DROP TABLE audit.events; --";
    const { filter } = parseEventFilter(
      {
        event_type: 'login_failed',
        'metadata.k': `v' OR 1=1 ${injection}`,
        q: `50%_off ${injection}`,
        source: injection,
        ip_address: injection,
        session_id: injection,
      },
      now,
    );
    const sql = filterToSql('t1', filter);
    expect(sql.where).not.toContain('OR 1=1');
    expect(sql.where).not.toContain('DROP');
    expect(sql.where).not.toContain("'x'");
    expect(sql.where).not.toContain('50');
    expect(sql.params).toMatchObject({
      tenant: 't1',
      eventTypes: ['login_failed'],
      m0k: 'k',
      m0v: `v' OR 1=1 ${injection}`,
      text: `%50\\%\\_off ${injection}%`,
      source: injection,
      ip: injection,
      session: injection,
    });
  });

  it.each(['event_type', 'category'])('should refuse SQL in %s, which must be a name', (param) => {
    expect(() => parseEventFilter({ [param]: "x'); DROP TABLE audit.events; --" }, now)).toThrow(InvalidQueryError);
  });

  it('should use the materialized column for promoted metadata keys', () => {
    const { filter } = parseEventFilter({ 'metadata.site_id': 'S1', 'metadata.user_id': 'admin' }, now);
    const { where } = filterToSql('t', filter);
    expect(where).toContain('site_id = {m0v:String}');
    expect(where).toContain('metadata_user_id = {m1v:String}');
    expect(where).not.toContain('metadata[');
  });

  it('should tell which filters a lookup projection can serve', () => {
    expect(usesLookupProjection(parseEventFilter({ 'metadata.device_id': 'D1' }, now).filter)).toBe(true);
    expect(usesLookupProjection(parseEventFilter({ 'metadata.user_id': 'admin', category: 'user' }, now).filter)).toBe(true);
    expect(usesLookupProjection(parseEventFilter({ 'metadata.job_id': 'j1', since: '24h' }, now).filter)).toBe(false);
  });

  it('should state time bounds on the sort key expression too', () => {
    const { filter } = parseEventFilter({ since: '24h' }, now);
    expect(filterToSql('t', filter).where).toContain("toStartOfHour(timestamp) >= toStartOfHour(toDateTime64({from:String}, 6, 'UTC'))");
  });
});

describe('rollupCount', () => {
  const at = now + 20 * 60e6;

  it('should count past whole hours from the roll-up, and the partial first hour and the current hour raw', () => {
    const { filter } = parseEventFilter({ event_type: 'login_failed', since: '24h' }, at);
    const plan = rollupCount('t', filter, at);
    expect(plan?.rollup.where).toBe(
      'tenant_id = {tenant:String} AND event_type IN {eventTypes:Array(String)} ' +
        "AND hour >= toDateTime({firstWhole:String}, 'UTC') AND hour < toDateTime({endWhole:String}, 'UTC')",
    );
    expect(plan?.rollup.params).toMatchObject({
      tenant: 't',
      eventTypes: ['login_failed'],
      firstWhole: '2026-01-09 01:00:00.000000',
      endWhole: '2026-01-10 00:00:00.000000',
    });
    expect(plan?.remainder?.where).toContain(
      "AND (toStartOfHour(timestamp) < toDateTime64({firstWhole:String}, 6, 'UTC') OR toStartOfHour(timestamp) >= toDateTime64({endWhole:String}, 6, 'UTC'))",
    );
    expect(plan?.remainder?.params).toMatchObject({ from: '2026-01-09 00:20:00.000000', firstWhole: '2026-01-09 01:00:00.000000' });
  });

  it('should need no raw rows when both bounds fall on whole past hours', () => {
    const { filter } = parseEventFilter({ start: '2026-01-09T00:00:00Z', end: '2026-01-09T05:59:59.999999Z' }, at);
    const plan = rollupCount('t', filter, at);
    expect(plan?.rollup.params).toMatchObject({ firstWhole: '2026-01-09 00:00:00.000000', endWhole: '2026-01-09 06:00:00.000000' });
    expect(plan?.remainder).toBeUndefined();
  });

  it('should count the partial last hour of an end bound from raw rows', () => {
    const { filter } = parseEventFilter({ end: '2026-01-09T05:30:00Z' }, at);
    const plan = rollupCount('t', filter, at);
    expect(plan?.rollup.where).toBe("tenant_id = {tenant:String} AND hour < toDateTime({endWhole:String}, 'UTC')");
    expect(plan?.remainder?.where).toContain("toStartOfHour(timestamp) >= toDateTime64({endWhole:String}, 6, 'UTC')");
    expect(plan?.remainder?.params).toMatchObject({ endWhole: '2026-01-09 05:00:00.000000' });
  });

  it('should leave filters the roll-up cannot answer, and ranges without a whole past hour, to raw rows', () => {
    expect(rollupCount('t', parseEventFilter({ 'metadata.site_id': 'S1' }, at).filter, at)).toBeUndefined();
    expect(rollupCount('t', parseEventFilter({ q: 'door' }, at).filter, at)).toBeUndefined();
    expect(
      rollupCount('t', parseEventFilter({ start: '2026-01-09T10:05:00Z', end: '2026-01-09T10:55:00Z' }, at).filter, at),
    ).toBeUndefined();
    expect(rollupCount('t', parseEventFilter({ since: '30m' }, at).filter, at)).toBeUndefined();
  });
});

describe('event rows', () => {
  it('should flatten nested metadata into dotted keys and keep the raw JSON', () => {
    expect(flattenMetadata({ a: { b: 1, c: [1, 2] }, d: null, e: true })).toEqual({ 'a.b': '1', 'a.c': '[1,2]', d: '', e: 'true' });
    const row = eventToRow(
      {
        schema_version: 1,
        id: '0190f0f0-0000-7000-8000-000000000000',
        tenant_id: 't',
        event_type: 'x',
        category: 'c',
        severity: 'info',
        description: '',
        metadata: { a: { b: 1 } },
        timestamp: '2025-09-01T15:30:45.123456Z',
        received_at: '2025-09-01T15:30:46.000000Z',
        ip_address: '',
        user_agent: '',
        session_id: '',
        source: '',
        idempotency_key: '',
      },
      { partition: 2, offset: '99' },
    );
    expect(row).toMatchObject({
      timestamp: '2025-09-01 15:30:45.123456',
      metadata: { 'a.b': '1' },
      metadata_json: '{"a":{"b":1}}',
      log_partition: 2,
      log_offset: '99',
    });
  });
});
