import { formatMicros, nowMicros } from '@app/contracts';
import { bootApp, http, TestApp, waitForTotal } from './support/embedded-app';

describe('GET /audit/events and statistics', () => {
  let app: TestApp;
  let seededAtMicros = 0;
  const get = (q: string): ReturnType<typeof http> => http(`${app.url}/audit/events?${q}`);

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
    const now = nowMicros();
    seededAtMicros = now;
    const events = [
      ...Array.from({ length: 30 }, (_, i) => ({
        event_type: 'device_health_check',
        metadata: { device_id: `D${i % 3}`, site_id: 'S1', seq: i },
        timestamp: formatMicros(now - (30 - i) * 1e6),
      })),
      { event_type: 'device_error', description: 'Card reader FAILURE on lane 3', metadata: { device_id: 'D1', nested: { lane: 3 } } },
      { event_type: 'login_failed', metadata: { user_id: 'eve' }, timestamp: formatMicros(now - 3 * 3600e6) },
      { event_type: 'login_failed', metadata: { user_id: 'eve' }, timestamp: formatMicros(now - 40 * 60e6) },
      { event_type: 'backup_failed', timestamp: '2026-01-15T10:00:00Z' },
    ];
    const res = await http(`${app.url}/audit/events`, { method: 'POST', json: events });
    expect(res.status).toBe(201);
    await waitForTotal(app.url, 'event_type=backup_failed', 1);
  });

  afterAll(async () => {
    await app.close();
  });

  it('should page newest first with a total and a link to the next page', async () => {
    const p1 = await get('event_type=device_health_check&limit=10');
    expect(p1.body.total).toBe(30);
    expect(p1.body.events.map((e: { metadata: { seq: number } }) => e.metadata.seq)).toEqual([29, 28, 27, 26, 25, 24, 23, 22, 21, 20]);
    expect(p1.body.next).toBe('/audit/events?event_type=device_health_check&limit=10&offset=10');
    const p3 = await http(`${app.url}${p1.body.next.replace('offset=10', 'offset=20')}`);
    expect(p3.body.events.map((e: { metadata: { seq: number } }) => e.metadata.seq)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(p3.body.next).toBeNull();
    const asc = await get('event_type=device_health_check&limit=2&order=asc');
    expect(asc.body.events.map((e: { metadata: { seq: number } }) => e.metadata.seq)).toEqual([0, 1]);
  });

  it('should cap the page size at 1000', async () => {
    const r = await get('limit=5000');
    expect(r.status).toBe(200);
    expect(r.body.limit).toBe(1000);
  });

  it('should filter by severity lists, since, start/end, metadata, nested metadata and text', async () => {
    expect((await get('severity=error,critical')).body.total).toBe(2);
    expect((await get('event_type=login_failed&since=1h')).body.total).toBe(1);
    expect((await get('event_type=login_failed&since=4h')).body.total).toBe(1 + 1);
    expect((await get('start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z')).body.total).toBe(1);
    expect((await get('metadata.device_id=D1')).body.total).toBe(11);
    expect((await get('metadata.nested.lane=3')).body.total).toBe(1);
    expect((await get('q=card%20reader%20failure')).body.total).toBe(1);
    expect((await get('q=100%25')).body.total).toBe(0);
    expect((await get('category=devices&metadata.site_id=S1&metadata.device_id=D2')).body.total).toBe(10);
  });

  it.each([
    ['severity=loud', 'severity'],
    ['since=yesterday', 'since'],
    ['start=2025-02-30T00:00:00Z', 'start'],
    ['limit=0', 'limit'],
    ['offset=-1', 'offset'],
    ['order=sideways', 'order'],
    ['colour=red', 'colour'],
    ['metadata.bad%20key=1', 'metadata.bad key'],
    ['category=DROP%20TABLE', 'category'],
    ['start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
  ])('should refuse %s naming %s', async (q, field) => {
    const r = await get(q);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_query');
    expect(r.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('should return one event by id, 404 for an unknown id and 400 for a malformed one', async () => {
    const list = await get('event_type=device_error');
    const id = list.body.events[0].id;
    const one = await http(`${app.url}/audit/events/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, event_type: 'device_error', metadata: { nested: { lane: 3 } } });
    expect((await http(`${app.url}/audit/events/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    const bad = await http(`${app.url}/audit/events/1247`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('id');
  });

  it('should count statistics from the roll-up, recent activity included', async () => {
    const s = await http(`${app.url}/audit/statistics`);
    expect(s.body.total_events).toBe(35);
    expect(s.body.events_by_category).toMatchObject({ device_management: 31, security_events: 2, system_events: 2 });
    expect(s.body.events_by_severity).toMatchObject({ info: 31, error: 2, warning: 2 });
    expect(s.body.recent_activity).toEqual({ last_hour: 33, last_24_hours: 34, last_week: 34 });
  });

  it('should give detailed statistics: types, hours and top lists', async () => {
    const d = await http(`${app.url}/audit/statistics/detailed`);
    expect(d.status).toBe(200);
    expect(d.body.events_by_event_type.device_health_check).toBe(30);
    expect(d.body.hourly_last_24_hours).toHaveLength(24);
    expect(d.body.hourly_last_24_hours.reduce((a: number, h: { events: number }) => a + h.events, 0)).toBe(34);
    expect(d.body.top_devices[0]).toEqual({ device_id: 'D1', events: 11 });
    expect(d.body.top_sites).toEqual([{ site_id: 'S1', events: 30 }]);
    expect(d.body.top_users).toEqual([{ user_id: 'eve', events: 2 }]);
  });

  it('should give the hourly timeline by category or severity from the roll-up, and refuse a bad breakdown or hours', async () => {
    const sum = (t: { timeline: Array<{ counts: Record<string, number> }> }, key: string): number =>
      t.timeline.reduce((a, b) => a + (b.counts[key] ?? 0), 0);
    const c = await http(`${app.url}/audit/statistics/timeline?breakdown=category`);
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ breakdown: 'category', bucket_seconds: 3600 });
    expect(c.body.timeline).toHaveLength(24);
    expect(sum(c.body, 'device_management')).toBe(31);
    expect(sum(c.body, 'security_events')).toBe(2);
    // The login three hours ago is in its own hour's bucket, the other one within the last hour.
    // (From the seeding's clock, not the test's: an hour may turn in between.)
    const threeHoursAgo = new Date(Math.floor((seededAtMicros / 1000 - 3 * 3600e3) / 3600e3) * 3600e3).toISOString();
    const bucket = c.body.timeline.find((b: { bucket: string }) => b.bucket === threeHoursAgo);
    expect(bucket.counts.security_events).toBeGreaterThanOrEqual(1);
    expect(c.body.keys[0]).toBe('device_management');
    const s = await http(`${app.url}/audit/statistics/timeline?breakdown=severity&hours=168`);
    expect(s.body.timeline).toHaveLength(168);
    expect(sum(s.body, 'warning')).toBe(2);
    expect(sum(s.body, 'info')).toBeGreaterThanOrEqual(30);
    // The totals agree with the counts in every bucket.
    for (const b of s.body.timeline) expect(b.total).toBe(Object.values(b.counts as Record<string, number>).reduce((x, y) => x + y, 0));
    for (const [q, field] of [
      ['breakdown=event_type', 'breakdown'],
      ['hours=0', 'hours'],
      ['hours=169', 'hours'],
      ['hours=1.5', 'hours'],
      ['since=24h', 'since'],
    ]) {
      const bad = await http(`${app.url}/audit/statistics/timeline?${q}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe(field);
    }
  });

  it('should list a catalogue of at least 40 event types covering every table of the guide', async () => {
    const c = await http(`${app.url}/audit/event-types`);
    expect(c.body.event_types.length).toBeGreaterThanOrEqual(40);
    const byType = Object.fromEntries(c.body.event_types.map((t: { event_type: string; severity: string }) => [t.event_type, t.severity]));
    expect(byType).toMatchObject({
      login_failed: 'warning',
      unauthorized_access: 'critical',
      device_error: 'error',
      job_cancelled: 'warning',
      job_timeout: 'error',
      api_access: 'info',
    });
    expect(c.body.categories.map((x: { category: string }) => x.category)).toEqual(
      expect.arrayContaining([
        'security_events',
        'user_actions',
        'site_management',
        'device_management',
        'job_management',
        'system_events',
      ]),
    );
  });
});
