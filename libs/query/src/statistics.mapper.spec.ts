import { statisticsWindows, StatisticsRow, toDetailedStatistics, toStatistics } from './statistics.mapper';

const row = (a: string, b: string, c: string, n: number | string, m = 0, o = 0): StatisticsRow => ({
  a,
  b,
  c,
  n: String(n),
  m: String(m),
  o: String(o),
});
/** 2026-12-02 10:30 UTC. */
const NOW_US = Date.UTC(2026, 11, 2, 10, 30) * 1000;

describe('statistics.mapper', () => {
  describe(statisticsWindows.name, () => {
    it('should start the roll-up windows at the first whole hour and the top lists six days before today', () => {
      expect(statisticsWindows(NOW_US)).toEqual({
        hourAgo: '2026-12-02 09:30:00.000000',
        dayAgo: '2026-12-01 10:30:00.000000',
        weekAgo: '2026-11-25 10:30:00.000000',
        dayEdge: '2026-12-01 11:00:00.000000',
        weekEdge: '2026-11-25 11:00:00.000000',
        firstDay: '2026-11-26',
      });
    });
  });

  describe(toStatistics.name, () => {
    it('should sum the totals by category and severity, and add the partial first hours to the whole hours', () => {
      // given totals over two types of one category, the week's whole hours (one before the day's edge) and the raw partial hours
      const stats = toStatistics(
        {
          totals: [
            row('security', 'login_failed', 'warning', 5),
            row('security', 'login', 'info', 3),
            row('device', 'job_created', 'info', '2'),
          ],
          hours: [row('2026-11-28 03:00:00', '', '', 4), row('2026-12-01 11:00:00', '', '', 2), row('2026-12-02 10:00:00', '', '', 1)],
          raw: [row('', '', '', 1, 6, 7)],
        },
        NOW_US,
      );
      // then
      expect(stats).toEqual({
        total_events: 10,
        events_by_category: { security: 8, device: 2 },
        events_by_severity: { warning: 5, info: 5 },
        recent_activity: { last_hour: 1, last_24_hours: 2 + 1 + 6, last_week: 4 + 2 + 1 + 7 },
      });
    });

    it('should answer zeros for a tenant without events', () => {
      expect(toStatistics({ totals: [], hours: [], raw: [] }, NOW_US)).toEqual({
        total_events: 0,
        events_by_category: {},
        events_by_severity: {},
        recent_activity: { last_hour: 0, last_24_hours: 0, last_week: 0 },
      });
    });
  });

  describe(toDetailedStatistics.name, () => {
    it('should rank types and top lists by count then key, and list the last 24 hours oldest first with empty hours as 0', () => {
      const stats = toDetailedStatistics(
        {
          totals: [
            row('security', 'login', 'info', 3),
            row('security', 'login', 'warning', 2),
            row('device', 'job_created', 'info', 5),
            row('a', 'b_type', 'info', 5),
          ],
          hours: [row('2026-12-02 10:00:00', '', '', 3), row('2026-12-01 11:00:00', '', '', 2), row('2026-11-30 00:00:00', '', '', 9)],
          raw: [row('', '', '', 0, 0, 0)],
          tops: [
            row('site', 'S2', '', 4),
            row('site', 'S1', '', 4),
            row('site', 'S3', '', 9),
            row('device', 'D1', '', 1),
            row('user', 'u1', '', 2),
            row('source', 'pos', '', 7),
            row('source', 'api', '', 8),
          ],
        },
        NOW_US,
      );
      expect(Object.entries(stats.events_by_event_type)).toEqual([
        ['b_type', 5],
        ['job_created', 5],
        ['login', 5],
      ]);
      expect(Object.entries(stats.events_by_source)).toEqual([
        ['api', 8],
        ['pos', 7],
      ]);
      expect(stats.top_sites).toEqual([
        { site_id: 'S3', events: 9 },
        { site_id: 'S1', events: 4 },
        { site_id: 'S2', events: 4 },
      ]);
      expect(stats.top_devices).toEqual([{ device_id: 'D1', events: 1 }]);
      expect(stats.top_users).toEqual([{ user_id: 'u1', events: 2 }]);
      expect(stats.hourly_last_24_hours).toHaveLength(24);
      expect(stats.hourly_last_24_hours[0]).toEqual({ hour: '2026-12-01T11:00:00.000Z', events: 2 });
      expect(stats.hourly_last_24_hours[23]).toEqual({ hour: '2026-12-02T10:00:00.000Z', events: 3 });
      expect(stats.hourly_last_24_hours.reduce((n, h) => n + h.events, 0)).toBe(5);
      expect(stats.window_for_top_lists).toBe('last_7_days');
      expect(stats.top_lists_from).toBe('2026-11-26T00:00:00.000Z');
      expect(stats.total_events).toBe(15);
      expect(stats.recent_activity).toEqual({ last_hour: 0, last_24_hours: 5, last_week: 14 });
    });
  });
});
