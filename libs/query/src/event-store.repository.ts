import { ClickHouseClient } from '@clickhouse/client';
import { HOUR_US, microsToClickHouse, nowMicros, StoredAuditEvent, StreamCursor } from '@app/contracts';
import { insertJsonLines, isInProcess } from './clickhouse/clickhouse.factory';
import { DAILY_KEY_DIMENSIONS, dailyKeysRollupSelect, DATABASE, hourlyRollupSelect } from './clickhouse/schema';
import { EventFilter, filterToSql, orderBy, PageRequest, rollupCount, usesLookupProjection } from './event-query';
import { rowToEvent, SELECT_COLUMNS, SelectedRow } from './event-row.mapper';

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

/** Positions of the log, per partition: the live stream's cursor. */
export type { StreamCursor };

const DAY_MS = 86_400_000;
/** For reads of the events table that no lookup projection can serve: see usesLookupProjection. */
const NO_PROJECTIONS = 'optimize_use_projections = 0';
const settingsFor = (filter: EventFilter, ...settings: string[]): string => {
  const all = usesLookupProjection(filter) ? settings : [...settings, NO_PROJECTIONS];
  return all.length ? ` SETTINGS ${all.join(', ')}` : '';
};
const floorHourUs = (us: number): number => Math.floor(us / HOUR_US) * HOUR_US;
const chTime = (us: number): string => microsToClickHouse(us);

/** One row of a statisticsReads branch. */
interface RollupRow {
  a: string;
  b: string;
  c: string;
  n: string;
  m: string;
  o: string;
}

/** A roll-up bucket rebuilt by reconcileRollup: an hour of events_hourly or a day of events_daily_keys. */
export interface RebuiltBucket {
  rollup: 'events_hourly' | 'events_daily_keys';
  tenant_id: string;
  /** The bucket's start, ISO 8601 UTC. */
  bucket: string;
}

/**
 * The roll-ups fed by materialized views, as reconcileRollup compares them with the events: the events a
 * tenant's bucket should count (`expected`, over the events table), the bucket as Unix seconds on each side,
 * and the view's own SELECT to count a bucket again.
 */
const ROLLUPS: Array<{
  table: RebuiltBucket['rollup'];
  expected: string;
  eventsBucket: string;
  rollupBucket: string;
  select(where: string): string;
}> = [
  {
    table: 'events_hourly',
    expected: 'count()',
    eventsBucket: 'toUnixTimestamp(toStartOfHour(timestamp))',
    rollupBucket: 'toUnixTimestamp(hour)',
    select: (where) => hourlyRollupSelect(DATABASE, where),
  },
  {
    table: 'events_daily_keys',
    expected: DAILY_KEY_DIMENSIONS.map(([, column]) => `countIf(${column} != '')`).join(' + '),
    eventsBucket: 'toUnixTimestamp(toStartOfDay(timestamp))',
    rollupBucket: "toUnixTimestamp(toDateTime(day, 'UTC'))",
    select: (where) => dailyKeysRollupSelect(DATABASE, where),
  },
];

/** All reads and writes of the ClickHouse query store; the only class that holds SQL for it. */
export class EventStoreRepository {
  constructor(private readonly ch: ClickHouseClient) {}

  /** The engine runs in this process (chdb), so this process is the store's only writer. */
  get inProcess(): boolean {
    return isInProcess(this.ch);
  }

  private async rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const rs = await this.ch.query({ query, query_params: params, format: 'JSONEachRow' });
    return rs.json<T>();
  }

  async ping(): Promise<boolean> {
    try {
      await this.rows('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One insert of rows already encoded as JSONEachRow lines. The dedup token makes a retry of the same
   * insert (same log ranges) a no-op, for the table and the statistics view alike.
   */
  async insertLines(lines: string[], dedupToken: string): Promise<void> {
    await insertJsonLines(this.ch, `${DATABASE}.events`, lines, {
      insert_deduplicate: 1,
      insert_deduplication_token: dedupToken,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      max_partitions_per_insert_block: 1000,
    });
  }

  /** How far each log partition has been written, one row per partition, in one insert. */
  async recordProgress(positions: Array<{ partition: number; offset: string }>): Promise<void> {
    await insertJsonLines(
      this.ch,
      `${DATABASE}.consumer_progress`,
      positions.map((p) => JSON.stringify({ log_partition: p.partition, log_offset: p.offset })),
    );
  }

  /** Highest offset stored for a log partition, or -1: everything at or below may be a redelivery. */
  async maxStoredOffset(partition: number): Promise<bigint> {
    const [r] = await this.rows<{ m: string; n: string }>(
      `SELECT max(log_offset) AS m, count() AS n FROM ${DATABASE}.events WHERE log_partition = {p:UInt16} SETTINGS ${NO_PROJECTIONS}`,
      { p: partition },
    );
    return r && Number(r.n) > 0 ? BigInt(r.m) : -1n;
  }

  /** Ids of a log partition's rows after `afterOffset` up to `upToOffset`, oldest first. */
  async idsInOffsetRange(partition: number, afterOffset: bigint, upToOffset: bigint): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      `SELECT id FROM ${DATABASE}.events
       WHERE log_partition = {p:UInt16} AND log_offset > {after:Int64} AND log_offset <= {upTo:Int64}
       ORDER BY log_offset SETTINGS ${NO_PROJECTIONS}`,
      { p: partition, after: String(afterOffset), upTo: String(upToOffset) },
    );
    return rows.map((r) => r.id);
  }

  /**
   * Which of `ids` are stored. With `within` (tenants and an event-time range, ClickHouse DateTime64 text) the
   * sort key prunes the read to those hours; without it every part's id index is consulted.
   */
  async existingIds(ids: string[], within?: { tenants: string[]; from: string; to: string }): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const bounds = within
      ? `tenant_id IN {tenants:Array(String)}
         AND toStartOfHour(timestamp) BETWEEN toStartOfHour(toDateTime64({from:String}, 6, 'UTC')) AND toStartOfHour(toDateTime64({to:String}, 6, 'UTC'))
         AND timestamp BETWEEN toDateTime64({from:String}, 6, 'UTC') AND toDateTime64({to:String}, 6, 'UTC') AND `
      : '';
    const rows = await this.rows<{ id: string }>(`SELECT id FROM ${DATABASE}.events WHERE ${bounds}id IN {ids:Array(UUID)}`, {
      ids,
      ...within,
    });
    return new Set(rows.map((r) => r.id));
  }

  async search(tenantId: string, filter: EventFilter, page: PageRequest): Promise<{ events: StoredAuditEvent[]; total: number }> {
    const { where, params } = filterToSql(tenantId, filter);
    const [rows, total] = await Promise.all([
      // Without buffering, a read in sort-key order stops after the granules that fill the page; with it
      // (the default) every stream reads ahead first: 36 ms instead of 11 ms for a newest-first page of 1M rows.
      this.rows<SelectedRow>(
        `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE ${where} ORDER BY ${orderBy(page.order)}
         LIMIT {limit:UInt32} OFFSET {offset:UInt32}${settingsFor(filter, 'read_in_order_use_buffering = 0')}`,
        { ...params, limit: page.limit, offset: page.offset },
      ),
      this.count(tenantId, filter),
    ]);
    return { events: rows.map(rowToEvent), total };
  }

  /** The number of events matching `filter`: from the hourly roll-up where it can answer, else from raw rows. */
  private async count(tenantId: string, filter: EventFilter): Promise<number> {
    const plan = rollupCount(tenantId, filter, nowMicros());
    const raw = plan ? plan.remainder : filterToSql(tenantId, filter);
    const [rolled, counted] = await Promise.all([
      plan
        ? this.rows<{ n: string }>(`SELECT sum(events) AS n FROM ${DATABASE}.events_hourly WHERE ${plan.rollup.where}`, plan.rollup.params)
        : [],
      raw
        ? this.rows<{ n: string }>(`SELECT count() AS n FROM ${DATABASE}.events WHERE ${raw.where}${settingsFor(filter)}`, raw.params)
        : [],
    ]);
    return Number(rolled[0]?.n ?? 0) + Number(counted[0]?.n ?? 0);
  }

  async findById(tenantId: string, id: string): Promise<StoredAuditEvent | undefined> {
    const rows = await this.rows<SelectedRow>(
      `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE tenant_id = {tenant:String} AND id = {id:UUID} LIMIT 1 SETTINGS ${NO_PROJECTIONS}`,
      { tenant: tenantId, id },
    );
    return rows[0] ? rowToEvent(rows[0]) : undefined;
  }

  /**
   * Reads for the statistics as one query, a UNION ALL: chdb spends about 5 ms on a query against a table
   * however little it reads, and its cost grows with each read in it, so the statistics make as few reads as
   * they can, in one query. Each branch selects `a`, `b`, `c` (text) and `n`, `m`, `o` (counts), inside its
   * own subquery so its projections, ORDER BY and LIMIT stay its own; the rows come back by branch name.
   */
  private async statisticsReads(branches: Record<string, string>, params: Record<string, unknown>): Promise<Record<string, RollupRow[]>> {
    const sql = Object.entries(branches)
      .map(([name, branch]) => `SELECT '${name}' AS part, a, b, c, n, m, o FROM (${branch})`)
      .join('\nUNION ALL\n');
    const out: Record<string, RollupRow[]> = Object.fromEntries(Object.keys(branches).map((name) => [name, []]));
    for (const r of await this.rows<RollupRow & { part: string }>(sql, params)) out[r.part].push(r);
    return out;
  }

  async statistics(tenantId: string, nowUs: number): Promise<Statistics> {
    return (await this.readStatistics(tenantId, nowUs, false)).base;
  }

  /**
   * The statistics in one query of three reads (four with the detailed top lists): all-time totals by
   * category, type and severity from the roll-up's p_totals projection; the last week's whole hours of the
   * roll-up (the day's and week's counts, and the detailed hourly list); and, counted raw, only the partial
   * hours at the windows' starts. The raw conditions name the sort key's toStartOfHour(timestamp) so they read
   * those hours' granules only (stated on timestamp alone, all of the month's granules were read, or a whole
   * site/device projection).
   */
  private async readStatistics(
    tenantId: string,
    nowUs: number,
    detailed: boolean,
  ): Promise<{ base: Statistics; totals: RollupRow[]; hours: Map<string, number>; tops: RollupRow[]; firstDay: string }> {
    const hourAgo = nowUs - HOUR_US;
    const dayAgo = nowUs - 24 * HOUR_US;
    const weekAgo = nowUs - 7 * 24 * HOUR_US;
    const dayEdge = floorHourUs(dayAgo) + HOUR_US;
    const weekEdge = floorHourUs(weekAgo) + HOUR_US;
    // Top lists over whole UTC days, today and the six before, from the daily key counts.
    const firstDay = new Date(Math.floor(nowUs / 1000 / DAY_MS) * DAY_MS - 6 * DAY_MS).toISOString().slice(0, 10);
    const p = {
      tenant: tenantId,
      hourAgo: chTime(hourAgo),
      dayAgo: chTime(dayAgo),
      weekAgo: chTime(weekAgo),
      weekEdge: chTime(weekEdge),
      dayEdge: chTime(dayEdge),
      firstDay,
    };
    const tops = `SELECT dimension AS a, key AS b, '' AS c, sum(events) AS n, 0 AS m, 0 AS o FROM ${DATABASE}.events_daily_keys
                  WHERE tenant_id = {tenant:String} AND day >= {firstDay:Date}
                  GROUP BY a, b ORDER BY n DESC, b LIMIT 10 BY a`;
    const parts = await this.statisticsReads(
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
    );
    const byCategory: Record<string, number> = {};
    const bySeverity: Record<string, number> = {};
    let total = 0;
    for (const g of parts.totals) {
      const n = Number(g.n);
      total += n;
      byCategory[g.a] = (byCategory[g.a] ?? 0) + n;
      bySeverity[g.c] = (bySeverity[g.c] ?? 0) + n;
    }
    const hours = new Map(parts.hours.map((h) => [h.a, Number(h.n)]));
    const dayEdgeKey = chTime(dayEdge).slice(0, 19);
    let day = 0;
    let week = 0;
    for (const [hour, n] of hours) {
      week += n;
      if (hour >= dayEdgeKey) day += n;
    }
    const raw = parts.raw[0];
    return {
      totals: parts.totals,
      hours,
      tops: parts.tops ?? [],
      firstDay,
      base: {
        total_events: total,
        events_by_category: byCategory,
        events_by_severity: bySeverity,
        recent_activity: {
          last_hour: Number(raw?.n ?? 0),
          last_24_hours: day + Number(raw?.m ?? 0),
          last_week: week + Number(raw?.o ?? 0),
        },
      },
    };
  }

  async detailedStatistics(tenantId: string, nowUs: number): Promise<DetailedStatistics> {
    const { base, totals, hours, tops, firstDay } = await this.readStatistics(tenantId, nowUs, true);
    const byType = new Map<string, number>();
    for (const t of totals) byType.set(t.b, (byType.get(t.b) ?? 0) + Number(t.n));
    // A UNION ALL keeps no order across branches: the ranked lists are sorted here.
    const ranked = (entries: Array<[string, number]>): Array<[string, number]> =>
      entries.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const top = (dimension: (typeof DAILY_KEY_DIMENSIONS)[number][0]): Array<[string, number]> =>
      ranked(tops.filter((t) => t.a === dimension).map((t) => [t.b, Number(t.n)]));
    const hourly: Array<{ hour: string; events: number }> = [];
    for (let i = 23; i >= 0; i--) {
      const us = floorHourUs(nowUs) - i * HOUR_US;
      hourly.push({ hour: new Date(us / 1000).toISOString(), events: hours.get(chTime(us).slice(0, 19)) ?? 0 });
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
      top_lists_from: `${firstDay}T00:00:00.000Z`,
    };
  }

  /**
   * Rebuilds the buckets of the roll-ups (hours of events_hourly, days of events_daily_keys) that disagree
   * with the events table, and returns them. An insert is not atomic across a table and its materialized
   * views: a crash or a failed insert can leave its rows in the events table and not in a roll-up, or the
   * other way round, and the redelivered rows then find their ids stored and are dropped. Tenants whose
   * totals agree cost one grouped count each side; for the others the buckets that differ are deleted from
   * the roll-up and counted again from the events. Only correct while nothing else writes the events table:
   * see `inProcess`, and StoreWriter's `soleWriter`.
   */
  async reconcileRollup(): Promise<RebuiltBucket[]> {
    const counts = (sql: string, params: Record<string, unknown> = {}): Promise<Map<string, string>> =>
      this.rows<{ k: string; n: string }>(sql, params).then((rows) => new Map(rows.map((r) => [String(r.k), String(r.n)])));
    const differing = (a: Map<string, string>, b: Map<string, string>): string[] =>
      [...new Set([...a.keys(), ...b.keys()])].filter((k) => (a.get(k) ?? '0') !== (b.get(k) ?? '0'));
    const rebuilt: RebuiltBucket[] = [];
    for (const r of ROLLUPS) {
      const [stored, rolled] = await Promise.all([
        counts(`SELECT tenant_id AS k, ${r.expected} AS n FROM ${DATABASE}.events GROUP BY k SETTINGS ${NO_PROJECTIONS}`),
        counts(`SELECT tenant_id AS k, sum(events) AS n FROM ${DATABASE}.${r.table} GROUP BY k`),
      ]);
      for (const tenant of differing(stored, rolled)) {
        const [storedBuckets, rolledBuckets] = await Promise.all([
          counts(
            `SELECT ${r.eventsBucket} AS k, ${r.expected} AS n FROM ${DATABASE}.events
             WHERE tenant_id = {tenant:String} GROUP BY k SETTINGS ${NO_PROJECTIONS}`,
            { tenant },
          ),
          counts(
            `SELECT ${r.rollupBucket} AS k, sum(events) AS n FROM ${DATABASE}.${r.table} WHERE tenant_id = {tenant:String} GROUP BY k`,
            {
              tenant,
            },
          ),
        ]);
        const buckets = differing(storedBuckets, rolledBuckets)
          .map(Number)
          .sort((a, b) => a - b);
        if (buckets.length === 0) continue;
        const params = { tenant, buckets };
        // Deleted first: a crash between the two statements leaves buckets that differ, found at the next run.
        await this.ch.command({
          query: `ALTER TABLE ${DATABASE}.${r.table} DELETE WHERE tenant_id = {tenant:String} AND ${r.rollupBucket} IN {buckets:Array(UInt32)}`,
          query_params: params,
          clickhouse_settings: { mutations_sync: '1' },
        });
        await this.ch.command({
          query: `INSERT INTO ${DATABASE}.${r.table} ${r.select(`tenant_id = {tenant:String} AND ${r.eventsBucket} IN {buckets:Array(UInt32)}`)}
                  SETTINGS ${NO_PROJECTIONS}`,
          query_params: params,
        });
        for (const b of buckets) rebuilt.push({ rollup: r.table, tenant_id: tenant, bucket: new Date(b * 1000).toISOString() });
      }
    }
    return rebuilt;
  }

  /** The written position of every log partition, from the progress table the projector keeps. */
  async progress(): Promise<StreamCursor> {
    const rows = await this.rows<{ p: number; o: string }>(
      `SELECT log_partition AS p, max(log_offset) AS o FROM ${DATABASE}.consumer_progress GROUP BY p`,
    );
    return Object.fromEntries(rows.map((r) => [Number(r.p), String(r.o)]));
  }

  /**
   * Events after `cursor` and at or before the written position, in log order per partition. When the page
   * is full, each partition's cursor moves only as far as the rows returned for it, so nothing is skipped.
   */
  async tail(
    tenantId: string,
    cursor: StreamCursor,
    filter: EventFilter,
    limit: number,
  ): Promise<{ events: StoredAuditEvent[]; cursor: StreamCursor }> {
    const high = await this.progress();
    const partitions = Object.keys(high).map(Number);
    if (partitions.length === 0) return { events: [], cursor };
    const { where, params } = filterToSql(tenantId, filter);
    const ranges: string[] = [];
    const rangeParams: Record<string, string | number> = {};
    const next: StreamCursor = { ...cursor };
    let minFrom: bigint | undefined;
    for (const part of partitions) {
      const from = BigInt(cursor[part] ?? '-1');
      const to = BigInt(high[part]);
      if (to <= from) continue;
      const i = ranges.length;
      ranges.push(`(log_partition = {p${i}:UInt16} AND log_offset > {f${i}:Int64} AND log_offset <= {t${i}:UInt64})`);
      Object.assign(rangeParams, { [`p${i}`]: part, [`f${i}`]: String(from), [`t${i}`]: String(to) });
      minFrom = minFrom === undefined || from < minFrom ? from : minFrom;
    }
    if (ranges.length === 0) return { events: [], cursor };
    const rows = await this.rows<SelectedRow>(
      `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events
       WHERE ${where} AND log_offset > {minFrom:Int64} AND (${ranges.join(' OR ')})
       ORDER BY log_partition, log_offset LIMIT {limit:UInt32}${settingsFor(filter)}`,
      { ...params, ...rangeParams, minFrom: String(minFrom ?? -1n), limit },
    );
    const events = rows.map(rowToEvent);
    if (events.length < limit) {
      for (const part of partitions) next[part] = high[part];
    } else {
      for (const e of events) if (e.position) next[e.position.partition] = e.position.offset;
    }
    return { events, cursor: next };
  }

  async storage(): Promise<Record<string, unknown>> {
    const rows = await this.rows<{ table: string; rows: string; bytes: string; parts: string }>(
      `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts
       FROM system.parts WHERE database = {db:String} AND active GROUP BY table`,
      { db: DATABASE },
    );
    return Object.fromEntries(
      rows.map((r) => [r.table, { rows: Number(r.rows), bytes_on_disk: Number(r.bytes), active_parts: Number(r.parts) }]),
    );
  }
}
