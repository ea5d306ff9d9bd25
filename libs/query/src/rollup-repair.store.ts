import { DAILY_KEY_DIMENSIONS, dailyKeysRollupSelect, DATABASE, hourlyRollupSelect } from './clickhouse/schema';
import { NO_PROJECTIONS, StoreQueries } from './clickhouse/store-queries';
import { RebuiltBucket, RollupRepair } from './store-ports';

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

/** Repair of the statistics roll-ups after a crash or a failed insert cut an insert between them and the events. */
export class ClickHouseRollupRepair implements RollupRepair {
  constructor(private readonly q: StoreQueries) {}

  /**
   * Rebuilds the buckets of the roll-ups (hours of events_hourly, days of events_daily_keys) that disagree
   * with the events table, and returns them. An insert is not atomic across a table and its materialized
   * views: a crash or a failed insert can leave its rows in the events table and not in a roll-up, or the
   * other way round, and the redelivered rows then find their ids stored and are dropped. Tenants whose
   * totals agree cost one grouped count each side; for the others the buckets that differ are deleted from
   * the roll-up and counted again from the events. Only correct while nothing else writes the events table:
   * see `StoreQueries.inProcess`, and StoreWriter's `soleWriter`.
   */
  async reconcileRollup(): Promise<RebuiltBucket[]> {
    const counts = (sql: string, params: Record<string, unknown> = {}): Promise<Map<string, string>> =>
      this.q.rows<{ k: string; n: string }>(sql, params).then((rows) => new Map(rows.map((r) => [String(r.k), String(r.n)])));
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
        await this.q.command(
          `ALTER TABLE ${DATABASE}.${r.table} DELETE WHERE tenant_id = {tenant:String} AND ${r.rollupBucket} IN {buckets:Array(UInt32)}`,
          params,
          { mutations_sync: '1' },
        );
        // The roll-ups deduplicate inserts (schema.ts): a rebuild equal to an earlier one is still a rebuild.
        await this.q.command(
          `INSERT INTO ${DATABASE}.${r.table} ${r.select(`tenant_id = {tenant:String} AND ${r.eventsBucket} IN {buckets:Array(UInt32)}`)}
                  SETTINGS ${NO_PROJECTIONS}`,
          params,
          { insert_deduplicate: 0 },
        );
        for (const b of buckets) rebuilt.push({ rollup: r.table, tenant_id: tenant, bucket: new Date(b * 1000).toISOString() });
      }
    }
    return rebuilt;
  }
}
