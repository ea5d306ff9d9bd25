import { microsToClickHouse } from '@app/contracts';
import { DATABASE } from './clickhouse/schema';
import { StoreQueries } from './clickhouse/store-queries';
import { ReadOptions } from './store-ports';

/** What a volume timeline splits its buckets by. */
export const TIMELINE_BREAKDOWNS = ['category', 'severity'] as const;
export type TimelineBreakdown = (typeof TIMELINE_BREAKDOWNS)[number];
/** How many hours back a timeline may reach: the statistics' week. */
export const TIMELINE_MAX_HOURS = 168;

/**
 * Events per whole UTC hour split by category or severity (GET /audit/statistics/timeline): what the
 * console's stacked histogram draws. Every hour of the window is listed, empty ones with no counts.
 */
export interface Timeline {
  breakdown: TimelineBreakdown;
  bucket_seconds: number;
  /** The first bucket's start and the last bucket's end, ISO 8601 UTC. */
  from: string;
  to: string;
  /** Every key that has a count in some bucket, most events first. */
  keys: string[];
  timeline: Array<{ bucket: string; total: number; counts: Record<string, number> }>;
}

/** One row of the timeline read: the hour ('YYYY-MM-DD HH:MM:SS'), the key, its events (UInt64 may arrive as text). */
export interface TimelineRow {
  h: string;
  k: string;
  n: string | number;
}

const HOUR_US = 3600e6;

/** The window of `hours` whole hours that ends with the current (partial) hour at `nowUs`. */
export function timelineWindow(nowUs: number, hours: number): { fromUs: number; toUs: number } {
  const toUs = Math.floor(nowUs / HOUR_US) * HOUR_US + HOUR_US;
  return { fromUs: toUs - hours * HOUR_US, toUs };
}

/** The timeline from the roll-up's rows, every hour of the window present. */
export function toTimeline(rows: TimelineRow[], breakdown: TimelineBreakdown, nowUs: number, hours: number): Timeline {
  const { fromUs, toUs } = timelineWindow(nowUs, hours);
  const byHour = new Map<string, Record<string, number>>();
  const keyTotals = new Map<string, number>();
  for (const r of rows) {
    const n = Number(r.n);
    if (!n) continue;
    const counts = byHour.get(r.h) ?? {};
    counts[r.k] = (counts[r.k] ?? 0) + n;
    byHour.set(r.h, counts);
    keyTotals.set(r.k, (keyTotals.get(r.k) ?? 0) + n);
  }
  const timeline: Timeline['timeline'] = [];
  for (let us = fromUs; us < toUs; us += HOUR_US) {
    const counts = byHour.get(microsToClickHouse(us).slice(0, 19)) ?? {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    timeline.push({ bucket: new Date(us / 1000).toISOString(), total, counts });
  }
  const keys = [...keyTotals].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([k]) => k);
  return {
    breakdown,
    bucket_seconds: 3600,
    from: new Date(fromUs / 1000).toISOString(),
    to: new Date(toUs / 1000).toISOString(),
    keys,
    timeline,
  };
}

/**
 * The timeline's read: whole hours of the hourly roll-up (events_hourly, which the materialized view keeps
 * for chdb and ClickHouse alike), so its cost follows the hours and keys, not the events. The sort key starts
 * (tenant_id, hour), so the window prunes the read to its granules.
 */
export class ClickHouseEventTimeline {
  constructor(private readonly q: StoreQueries) {}

  async timeline(
    tenantId: string,
    breakdown: TimelineBreakdown,
    hours: number,
    nowUs: number,
    options: ReadOptions = {},
  ): Promise<Timeline> {
    if (!TIMELINE_BREAKDOWNS.includes(breakdown)) throw new Error(`unknown timeline breakdown ${String(breakdown)}`);
    const { fromUs, toUs } = timelineWindow(nowUs, hours);
    // The column name comes from the fixed list above, never from the request.
    const rows = await this.q.rows<TimelineRow>(
      `SELECT toString(hour) AS h, ${breakdown} AS k, sum(events) AS n FROM ${DATABASE}.events_hourly
       WHERE tenant_id = {tenant:String} AND hour >= toDateTime({from:String}, 'UTC') AND hour < toDateTime({to:String}, 'UTC')
       GROUP BY h, k`,
      { tenant: tenantId, from: microsToClickHouse(fromUs).slice(0, 19), to: microsToClickHouse(toUs).slice(0, 19) },
      options.signal,
    );
    return toTimeline(rows, breakdown, nowUs, hours);
  }
}
