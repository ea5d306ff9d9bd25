import { DATABASE } from './clickhouse/schema';
import { StoreQueries } from './clickhouse/store-queries';
import {
  DetailedStatistics,
  Statistics,
  StatisticsRow,
  StatisticsRows,
  statisticsWindows,
  toDetailedStatistics,
  toStatistics,
} from './statistics.mapper';
import { DailyCount, EventStatistics, ReadOptions } from './store-ports';

/** The statistics endpoints' reads; what the rows mean is statistics.mapper's. */
export class ClickHouseEventStatistics implements EventStatistics {
  constructor(private readonly q: StoreQueries) {}

  async statistics(tenantId: string, nowUs: number, options: ReadOptions = {}): Promise<Statistics> {
    return toStatistics(await this.read(tenantId, nowUs, false, options.signal), nowUs);
  }

  async detailedStatistics(tenantId: string, nowUs: number, options: ReadOptions = {}): Promise<DetailedStatistics> {
    return toDetailedStatistics(await this.read(tenantId, nowUs, true, options.signal), nowUs);
  }

  /** Counted on the events table itself (FINAL: a redelivered row not merged yet is not counted twice). */
  async dailyCounts(tenantId: string, options: ReadOptions = {}): Promise<DailyCount[]> {
    const rows = await this.q.rows<{ category: string; day: string; n: string | number }>(
      `SELECT category, toString(toDate(timestamp)) AS day, count() AS n FROM ${DATABASE}.events FINAL
       WHERE tenant_id = {tenant:String} GROUP BY category, day ORDER BY day, category`,
      { tenant: tenantId },
      options.signal,
    );
    return rows.map((r) => ({ category: r.category, day: r.day, count: Number(r.n) }));
  }

  /**
   * Reads for the statistics as one query, a UNION ALL: chdb spends about 5 ms on a query against a table
   * however little it reads, and its cost grows with each read in it, so the statistics make as few reads as
   * they can, in one query. Each branch selects `a`, `b`, `c` (text) and `n`, `m`, `o` (counts), inside its
   * own subquery so its projections, ORDER BY and LIMIT stay its own; the rows come back by branch name.
   */
  private async reads(
    branches: Record<string, string>,
    params: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, StatisticsRow[]>> {
    const sql = Object.entries(branches)
      .map(([name, branch]) => `SELECT '${name}' AS part, a, b, c, n, m, o FROM (${branch})`)
      .join('\nUNION ALL\n');
    const out: Record<string, StatisticsRow[]> = Object.fromEntries(Object.keys(branches).map((name) => [name, []]));
    for (const r of await this.q.rows<StatisticsRow & { part: string }>(sql, params, signal)) out[r.part].push(r);
    return out;
  }

  /**
   * The statistics in one query of three reads (four with the detailed top lists): all-time totals by
   * category, type and severity from the roll-up's p_totals projection; the last week's whole hours of the
   * roll-up (the day's and week's counts, and the detailed hourly list); and, counted raw, only the partial
   * hours at the windows' starts. The raw conditions name the sort key's toStartOfHour(timestamp) so they read
   * those hours' granules only (stated on timestamp alone, all of the month's granules were read, or a whole
   * site/device projection).
   */
  private async read(tenantId: string, nowUs: number, detailed: boolean, signal?: AbortSignal): Promise<StatisticsRows> {
    const p = { tenant: tenantId, ...statisticsWindows(nowUs) };
    // Top lists over whole UTC days, today and the six before, from the daily key counts.
    const tops = `SELECT dimension AS a, key AS b, '' AS c, sum(events) AS n, 0 AS m, 0 AS o FROM ${DATABASE}.events_daily_keys
                  WHERE tenant_id = {tenant:String} AND day >= {firstDay:Date}
                  GROUP BY a, b ORDER BY n DESC, b LIMIT 10 BY a`;
    const parts = await this.reads(
      {
        totals: `SELECT category AS a, event_type AS b, severity AS c, sum(events) AS n, 0 AS m, 0 AS o
                 FROM ${DATABASE}.events_hourly WHERE tenant_id = {tenant:String} GROUP BY a, b, c`,
        hours: `SELECT toString(hour) AS a, '' AS b, '' AS c, sum(events) AS n, 0 AS m, 0 AS o FROM ${DATABASE}.events_hourly
                WHERE tenant_id = {tenant:String} AND hour >= toDateTime({weekEdge:String}, 'UTC') GROUP BY a`,
        raw: `WITH toDateTime64({hourAgo:String}, 6, 'UTC') AS h1, toDateTime64({dayAgo:String}, 6, 'UTC') AS d1,
                   toDateTime64({dayEdge:String}, 6, 'UTC') AS d2, toDateTime64({weekAgo:String}, 6, 'UTC') AS w1,
                   toDateTime64({weekEdge:String}, 6, 'UTC') AS w2
              SELECT '' AS a, '' AS b, '' AS c, countIf(timestamp >= h1) AS n, countIf(timestamp >= d1 AND timestamp < d2) AS m,
                     countIf(timestamp >= w1 AND timestamp < w2) AS o
              FROM ${DATABASE}.events
              WHERE tenant_id = {tenant:String} AND ((toStartOfHour(timestamp) >= toStartOfHour(h1) AND timestamp >= h1)
                OR (toStartOfHour(timestamp) = toStartOfHour(d1) AND timestamp >= d1) OR (toStartOfHour(timestamp) = toStartOfHour(w1) AND timestamp >= w1))`,
        ...(detailed ? { tops } : {}),
      },
      p,
      signal,
    );
    return { totals: parts.totals, hours: parts.hours, raw: parts.raw, tops: parts.tops };
  }
}
