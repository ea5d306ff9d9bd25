import { microsToClickHouse } from '@app/contracts';
import { DAILY_KEY_DIMENSIONS } from './clickhouse/schema';

export interface Statistics {
  total_events: number;
  events_by_category: Record<string, number>;
  events_by_severity: Record<string, number>;
  recent_activity: { last_hour: number; last_24_hours: number; last_week: number };
}

export interface DetailedStatistics extends Statistics {
  events_by_event_type: Record<string, number>;
  events_by_source: Record<string, number>;
  hourly_last_24_hours: Array<{ hour: string; events: number }>;
  top_sites: Array<{ site_id: string; events: number }>;
  top_devices: Array<{ device_id: string; events: number }>;
  top_users: Array<{ user_id: string; events: number }>;
  window_for_top_lists: string;
  /** Where the top lists' window starts: midnight UTC six days before today. */
  top_lists_from: string;
}

/** One row of a statistics read's branch: `a`, `b`, `c` text, `n`, `m`, `o` counts (UInt64 arrive as text). */
export interface StatisticsRow {
  a: string;
  b: string;
  c: string;
  n: string | number;
  m: string | number;
  o: string | number;
}

/**
 * The rows of the statistics query by branch: `totals` (category, type, severity, events, all time), `hours`
 * (hour, events, the last week's whole hours), `raw` (one row: events since an hour ago, in the day's and the
 * week's partial first hours) and, for the detailed statistics, `tops` (dimension, key, events).
 */
export interface StatisticsRows {
  totals: StatisticsRow[];
  hours: StatisticsRow[];
  raw: StatisticsRow[];
  tops?: StatisticsRow[];
}

const HOUR_US = 3600e6;
const DAY_MS = 86_400_000;
const floorHourUs = (us: number): number => Math.floor(us / HOUR_US) * HOUR_US;

/**
 * The windows of the statistics at `nowUs`, as the query's parameters (ClickHouse DateTime64 text): an hour,
 * a day and a week ago; the first whole hour of the day and of the week (the roll-up answers from there, the
 * raw rows before); the first day of the top lists (today and the six days before, whole UTC days).
 */
export function statisticsWindows(nowUs: number): {
  hourAgo: string;
  dayAgo: string;
  weekAgo: string;
  dayEdge: string;
  weekEdge: string;
  firstDay: string;
} {
  const dayAgo = nowUs - 24 * HOUR_US;
  const weekAgo = nowUs - 7 * 24 * HOUR_US;
  return {
    hourAgo: microsToClickHouse(nowUs - HOUR_US),
    dayAgo: microsToClickHouse(dayAgo),
    weekAgo: microsToClickHouse(weekAgo),
    dayEdge: microsToClickHouse(floorHourUs(dayAgo) + HOUR_US),
    weekEdge: microsToClickHouse(floorHourUs(weekAgo) + HOUR_US),
    firstDay: new Date(Math.floor(nowUs / 1000 / DAY_MS) * DAY_MS - 6 * DAY_MS).toISOString().slice(0, 10),
  };
}

/** The statistics from the rows of the statistics query at `nowUs`. */
export function toStatistics(rows: StatisticsRows, nowUs: number): Statistics {
  const byCategory: Record<string, number> = {};
  const bySeverity: Record<string, number> = {};
  let total = 0;
  for (const g of rows.totals) {
    const n = Number(g.n);
    total += n;
    byCategory[g.a] = (byCategory[g.a] ?? 0) + n;
    bySeverity[g.c] = (bySeverity[g.c] ?? 0) + n;
  }
  // Hours are compared as 'YYYY-MM-DD HH:MM:SS' text, which sorts like time.
  const dayEdgeKey = statisticsWindows(nowUs).dayEdge.slice(0, 19);
  let day = 0;
  let week = 0;
  for (const h of rows.hours) {
    const n = Number(h.n);
    week += n;
    if (h.a >= dayEdgeKey) day += n;
  }
  const raw = rows.raw[0];
  return {
    total_events: total,
    events_by_category: byCategory,
    events_by_severity: bySeverity,
    recent_activity: {
      last_hour: Number(raw?.n ?? 0),
      last_24_hours: day + Number(raw?.m ?? 0),
      last_week: week + Number(raw?.o ?? 0),
    },
  };
}

/** A UNION ALL keeps no order across branches: the ranked lists are sorted here, by count and then key. */
function ranked(entries: Array<[string, number]>): Array<[string, number]> {
  return entries.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/** The detailed statistics from the rows of the statistics query (with its `tops` branch) at `nowUs`. */
export function toDetailedStatistics(rows: StatisticsRows, nowUs: number): DetailedStatistics {
  const base = toStatistics(rows, nowUs);
  const byType = new Map<string, number>();
  for (const t of rows.totals) byType.set(t.b, (byType.get(t.b) ?? 0) + Number(t.n));
  const tops = rows.tops ?? [];
  const top = (dimension: (typeof DAILY_KEY_DIMENSIONS)[number][0]): Array<[string, number]> =>
    ranked(tops.filter((t) => t.a === dimension).map((t) => [t.b, Number(t.n)]));
  const hours = new Map(rows.hours.map((h) => [h.a, Number(h.n)]));
  const hourly: Array<{ hour: string; events: number }> = [];
  for (let i = 23; i >= 0; i--) {
    const us = floorHourUs(nowUs) - i * HOUR_US;
    hourly.push({ hour: new Date(us / 1000).toISOString(), events: hours.get(microsToClickHouse(us).slice(0, 19)) ?? 0 });
  }
  return {
    ...base,
    events_by_event_type: Object.fromEntries(ranked([...byType])),
    events_by_source: Object.fromEntries(top('source')),
    hourly_last_24_hours: hourly,
    top_sites: top('site').map(([site_id, events]) => ({ site_id, events })),
    top_devices: top('device').map(([device_id, events]) => ({ device_id, events })),
    top_users: top('user').map(([user_id, events]) => ({ user_id, events })),
    window_for_top_lists: 'last_7_days',
    top_lists_from: `${statisticsWindows(nowUs).firstDay}T00:00:00.000Z`,
  };
}
