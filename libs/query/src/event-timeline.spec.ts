import { timelineWindow, toTimeline } from './event-timeline.store';
import { parseTimelineMessage, QUERY_PORT_DEFINITION } from './query.port';

/** 2026-12-02 10:30 UTC. */
const NOW_US = Date.UTC(2026, 11, 2, 10, 30) * 1000;

describe('event timeline', () => {
  it('should end the window with the current hour and start it `hours` whole hours before', () => {
    const w = timelineWindow(NOW_US, 3);
    expect(new Date(w.fromUs / 1000).toISOString()).toBe('2026-12-02T08:00:00.000Z');
    expect(new Date(w.toUs / 1000).toISOString()).toBe('2026-12-02T11:00:00.000Z');
  });

  it('should list every hour, sum the counts per key and rank the keys by events', () => {
    // given rows of two of three hours, one key split over two rows (two event types of one category)
    const rows = [
      { h: '2026-12-02 08:00:00', k: 'security_events', n: '2' },
      { h: '2026-12-02 10:00:00', k: 'security_events', n: '1' },
      { h: '2026-12-02 10:00:00', k: 'system_events', n: 4 },
      { h: '2026-12-02 10:00:00', k: 'system_events', n: '3' },
      { h: '2026-12-02 10:00:00', k: 'user_actions', n: '0' },
    ];
    // when
    const t = toTimeline(rows, 'category', NOW_US, 3);
    // then
    expect(t).toEqual({
      breakdown: 'category',
      bucket_seconds: 3600,
      from: '2026-12-02T08:00:00.000Z',
      to: '2026-12-02T11:00:00.000Z',
      keys: ['system_events', 'security_events'],
      timeline: [
        { bucket: '2026-12-02T08:00:00.000Z', total: 2, counts: { security_events: 2 } },
        { bucket: '2026-12-02T09:00:00.000Z', total: 0, counts: {} },
        { bucket: '2026-12-02T10:00:00.000Z', total: 8, counts: { security_events: 1, system_events: 7 } },
      ],
    });
  });

  it('should give an empty window as hours with no counts', () => {
    const t = toTimeline([], 'severity', NOW_US, 24);
    expect(t.timeline).toHaveLength(24);
    expect(t.keys).toEqual([]);
    expect(t.timeline.every((b) => b.total === 0)).toBe(true);
    expect(t.timeline.at(-1)?.bucket).toBe('2026-12-02T10:00:00.000Z');
  });

  it('should carry a timeline request over TCP as is and refuse a malformed one naming the field', () => {
    const m = QUERY_PORT_DEFINITION.methods.timeline;
    expect(m.decode(m.encode('t1', 'severity', 24))).toEqual(['t1', 'severity', 24]);
    const field = (msg: unknown): string | undefined => {
      try {
        parseTimelineMessage(msg);
        return undefined;
      } catch (e) {
        return (e as { details?: Array<{ field: string }> }).details?.[0]?.field;
      }
    };
    expect(field({ tenantId: 't1', breakdown: 'event_type', hours: 24 })).toBe('breakdown');
    expect(field({ tenantId: 't1', breakdown: 'category', hours: 169 })).toBe('hours');
    expect(field({ tenantId: 't1', breakdown: 'category', hours: 2.5 })).toBe('hours');
    expect(field({ tenantId: '', breakdown: 'category', hours: 1 })).toBe('tenantId');
    expect(field({ tenantId: 't1', breakdown: 'category', hours: 168 })).toBeUndefined();
  });
});
