import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { DATABASE } from './clickhouse/schema';
import { StoreQueries } from './clickhouse/store-queries';
import { RebuiltBucket } from './store-ports';

export interface TableStats {
  table: string;
  rows: number;
  active_parts: number;
  partitions: number;
  bytes_on_disk: number;
  compressed_bytes: number;
  uncompressed_bytes: number;
  /** uncompressed / compressed; null for an empty table. */
  compression_ratio: number | null;
}

export interface StorePerformance {
  tables: TableStats[];
  total_bytes_on_disk: number;
  compression_ratio: number | null;
  /** Records each consumer group of the query-store's process has not handled yet. */
  consumer_lag: Record<string, number>;
  /** The embedded log's size on disk (its segment files); null on Kafka, whose brokers hold it. */
  log_bytes: number | null;
  hot_window_days: number;
}

export interface OptimizeAction {
  action: 'merge_parts' | 'reconcile_rollups';
  table?: string;
  /** What it does, in words, and why it is suggested (or not). */
  reason: string;
  sql?: string;
}

export interface OptimizePlan {
  dry_run: boolean;
  actions: OptimizeAction[];
  /**
   * Filled when it ran: the tables merged, with their active parts counted just before and just after the
   * merges (a part inserted meanwhile counts in `parts_after`), and the roll-up buckets rebuilt.
   */
  done?: { merged: string[]; parts: MergedParts[]; rebuilt_buckets: RebuiltBucket[] };
}

export interface MergedParts {
  table: string;
  partitions: number;
  parts_before: number;
  parts_after: number;
}

const ratio = (uncompressed: number, compressed: number) => (compressed > 0 ? Math.round((uncompressed / compressed) * 100) / 100 : null);

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await directoryBytes(p) : (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** One part beyond one per partition (the newest insert) is tolerated before GET /audit/optimize recommends a merge. */
export const MERGE_SLACK_PARTS = 1;

/**
 * What GET /audit/performance and /audit/optimize read and do on the store: system.parts per table, and the
 * maintenance a human would otherwise run by hand (merging parts, reconciling the roll-ups).
 */
export class ClickHouseStoreOperations {
  constructor(
    private readonly q: StoreQueries,
    private readonly options: { logDir?: string; hotWindowMs: number; lag: () => Promise<Record<string, number>> },
  ) {}

  async tables(): Promise<TableStats[]> {
    const rows = await this.q.rows<Record<string, string>>(
      `SELECT table, sum(rows) AS rows, count() AS parts, uniqExact(partition_id) AS partitions, sum(bytes_on_disk) AS bytes,
              sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
       FROM system.parts WHERE database = {db:String} AND active GROUP BY table ORDER BY table`,
      { db: DATABASE },
    );
    return rows.map((r) => ({
      table: r.table,
      rows: Number(r.rows),
      active_parts: Number(r.parts),
      partitions: Number(r.partitions),
      bytes_on_disk: Number(r.bytes),
      compressed_bytes: Number(r.compressed),
      uncompressed_bytes: Number(r.uncompressed),
      compression_ratio: ratio(Number(r.uncompressed), Number(r.compressed)),
    }));
  }

  async performance(): Promise<StorePerformance> {
    const tables = await this.tables();
    const sum = (k: keyof TableStats) => tables.reduce((n, t) => n + Number(t[k]), 0);
    return {
      tables,
      total_bytes_on_disk: sum('bytes_on_disk'),
      compression_ratio: ratio(sum('uncompressed_bytes'), sum('compressed_bytes')),
      consumer_lag: await this.options.lag().catch(() => ({})),
      log_bytes: this.options.logDir === undefined ? null : await directoryBytes(this.options.logDir),
      hot_window_days: Math.round((this.options.hotWindowMs / 86_400_000) * 100) / 100,
    };
  }

  /**
   * The plan, and with `apply` its execution. A table with more active parts than partitions gets
   * OPTIMIZE ... FINAL (ClickHouse merges in the background anyway; a forced merge also collapses the
   * ReplacingMergeTree duplicates a redelivery left). The roll-up reconcile is offered only where this
   * process is the store's sole writer (embedded, chdb): with several writers it could count an insert twice.
   */
  async optimize(apply: boolean, soleWriter: boolean, reconcile: () => Promise<RebuiltBucket[]>): Promise<OptimizePlan> {
    const actions: OptimizeAction[] = [];
    const before = await this.tables();
    for (const t of before) {
      // One part per partition is the floor, and the newest few inserts are merged by the engine soon anyway:
      // a merge is worth recommending only beyond that (right after one, the request's own self-audit insert
      // adds a part, which is not a reason to merge again).
      if (t.active_parts > t.partitions + MERGE_SLACK_PARTS) {
        actions.push({
          action: 'merge_parts',
          table: t.table,
          reason: `${t.active_parts} active parts in ${t.partitions} partition(s): merging them makes reads open fewer parts`,
          sql: `OPTIMIZE TABLE ${DATABASE}.${t.table} FINAL`,
        });
      }
    }
    actions.push({
      action: 'reconcile_rollups',
      reason: soleWriter
        ? 'recount the statistics roll-up buckets that disagree with the events (after a crash between an insert and its views)'
        : 'skipped: only safe where this process is the only writer of the store (embedded); run the reconcile-rollup tool with the query-stores stopped',
    });
    if (!apply) return { dry_run: true, actions };
    const merged: string[] = [];
    for (const a of actions) {
      if (a.action === 'merge_parts' && a.sql) {
        await this.q.command(a.sql);
        merged.push(a.table!);
      }
    }
    const after = merged.length > 0 ? new Map((await this.tables()).map((t) => [t.table, t])) : new Map<string, TableStats>();
    const parts = before
      .filter((t) => merged.includes(t.table))
      .map((t) => ({
        table: t.table,
        partitions: after.get(t.table)?.partitions ?? 0,
        parts_before: t.active_parts,
        parts_after: after.get(t.table)?.active_parts ?? 0,
      }));
    const rebuilt = soleWriter ? await reconcile() : [];
    return { dry_run: false, actions, done: { merged, parts, rebuilt_buckets: rebuilt } };
  }
}
