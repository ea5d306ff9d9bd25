import { DATABASE } from './clickhouse/schema';
import { insertJsonLines } from './clickhouse/clickhouse.factory';
import { NO_PROJECTIONS, StoreQueries } from './clickhouse/store-queries';
import { DedupLookups, EventInserts } from './store-ports';

/** The projection's writes into the events table and its progress, and the lookups that drop redeliveries. */
export class ClickHouseEventWrites implements EventInserts, DedupLookups {
  constructor(private readonly q: StoreQueries) {}

  /**
   * No time limit: a timed-out insert is retried whole, so a limit would only make a slow insert an endless
   * one. Stated here because on chdb the session's setting (the reads' limit) would apply otherwise.
   */
  async insertLines(lines: string[], dedupToken: string): Promise<void> {
    await insertJsonLines(this.q.ch, `${DATABASE}.events`, lines, {
      insert_deduplicate: 1,
      insert_deduplication_token: dedupToken,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      max_partitions_per_insert_block: 1000,
      max_execution_time: 0,
    });
  }

  async recordProgress(positions: Array<{ partition: number; offset: string }>): Promise<void> {
    await insertJsonLines(
      this.q.ch,
      `${DATABASE}.consumer_progress`,
      positions.map((p) => JSON.stringify({ log_partition: p.partition, log_offset: p.offset })),
      { max_execution_time: 0 },
    );
  }

  async maxStoredOffset(partition: number): Promise<bigint> {
    const [r] = await this.q.rows<{ m: string; n: string }>(
      `SELECT max(log_offset) AS m, count() AS n FROM ${DATABASE}.events WHERE log_partition = {p:UInt16} SETTINGS ${NO_PROJECTIONS}`,
      { p: partition },
    );
    return r && Number(r.n) > 0 ? BigInt(r.m) : -1n;
  }

  async idsInOffsetRange(partition: number, afterOffset: bigint, upToOffset: bigint): Promise<string[]> {
    const rows = await this.q.rows<{ id: string }>(
      `SELECT id FROM ${DATABASE}.events
       WHERE log_partition = {p:UInt16} AND log_offset > {after:Int64} AND log_offset <= {upTo:Int64}
       ORDER BY log_offset SETTINGS ${NO_PROJECTIONS}`,
      { p: partition, after: String(afterOffset), upTo: String(upToOffset) },
    );
    return rows.map((r) => r.id);
  }

  /**
   * With `within` (tenants and an event-time range, ClickHouse DateTime64 text) the sort key prunes the read
   * to those hours; without it every part's id index is consulted.
   */
  async existingIds(ids: string[], within?: { tenants: string[]; from: string; to: string }): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const bounds = within
      ? `tenant_id IN {tenants:Array(String)}
         AND toStartOfHour(timestamp) BETWEEN toStartOfHour(toDateTime64({from:String}, 6, 'UTC')) AND toStartOfHour(toDateTime64({to:String}, 6, 'UTC'))
         AND timestamp BETWEEN toDateTime64({from:String}, 6, 'UTC') AND toDateTime64({to:String}, 6, 'UTC') AND `
      : '';
    const rows = await this.q.rows<{ id: string }>(`SELECT id FROM ${DATABASE}.events WHERE ${bounds}id IN {ids:Array(UUID)}`, {
      ids,
      ...within,
    });
    return new Set(rows.map((r) => r.id));
  }
}
