import { ClickHouseClient } from '@clickhouse/client';
import { StoreOptions, StoreQueries } from './clickhouse/store-queries';
import { ClickHouseEventExport, ClickHouseFileExport, EngineFileExport } from './event-export.store';
import { ClickHouseEventSearch } from './event-search.store';
import { ClickHouseEventStatistics } from './event-statistics.store';
import { ClickHouseEventTimeline } from './event-timeline.store';
import { ClickHouseRetentionDeletes } from './retention-deletes.store';
import { ClickHouseReportCounts } from './report-counts.store';
import { ClickHouseEventWrites } from './event-write.store';
import { ClickHouseRollupRepair } from './rollup-repair.store';
import { ClickHouseStoreHealth } from './store-health';
import { ClickHouseStoreOperations } from './store-operations';
import { EventSearch, EventStatistics, EventWriteStore, StoreHealth } from './store-ports';

/**
 * The ClickHouse query store, built once per process: each part holds the SQL of one job, and each consumer
 * takes only the interface it uses (store-ports.ts): the projection an EventWriteStore, the query side an
 * EventSearch, EventStatistics and StoreHealth. This facade only delegates, so the apps build it in one line.
 */
export class EventStoreRepository implements EventWriteStore, EventSearch, EventStatistics, StoreHealth {
  private readonly q: StoreQueries;
  private readonly writes: ClickHouseEventWrites;
  private readonly reads: ClickHouseEventSearch;
  private readonly stats: ClickHouseEventStatistics;
  private readonly repair: ClickHouseRollupRepair;
  private readonly health: ClickHouseStoreHealth;

  constructor(ch: ClickHouseClient, options: StoreOptions = {}) {
    this.q = new StoreQueries(ch, options);
    this.writes = new ClickHouseEventWrites(this.q);
    this.reads = new ClickHouseEventSearch(this.q);
    this.stats = new ClickHouseEventStatistics(this.q);
    this.repair = new ClickHouseRollupRepair(this.q);
    this.health = new ClickHouseStoreHealth(this.q);
    this.retention = new ClickHouseRetentionDeletes(this.q);
    this.counts = new ClickHouseReportCounts(this.q);
    this.exports = new ClickHouseEventExport(this.q);
    this.fileExport = this.q.inProcess ? new ClickHouseFileExport(this.q) : undefined;
  }

  /** The engine writing export files itself: in this process (chdb) only, else undefined. */
  readonly fileExport: EngineFileExport | undefined;

  private readonly exports: ClickHouseEventExport;
  /** An export's page written by the engine in the file's format (see ClickHouseEventExport). */
  readonly exportPage: ClickHouseEventExport['exportPage'] = (tenantId, filter, format, includeMetadata, after, limit, options) =>
    this.exports.exportPage(tenantId, filter, format, includeMetadata, after, limit, options);

  private readonly retention: ClickHouseRetentionDeletes;
  private readonly counts: ClickHouseReportCounts;
  /** A compliance report's GROUP BY counts (see ClickHouseReportCounts). */
  readonly reportCounts: ClickHouseReportCounts['reportCounts'] = (tenantId, filter, options) =>
    this.counts.reportCounts(tenantId, filter, options);
  /** Retention's removal of whole category-days (see ClickHouseRetentionDeletes). */
  readonly deleteDays: ClickHouseRetentionDeletes['deleteDays'] = (tenantId, days) => this.retention.deleteDays(tenantId, days);

  get inProcess(): boolean {
    return this.q.inProcess;
  }

  readonly insertLines: EventWriteStore['insertLines'] = (lines, token) => this.writes.insertLines(lines, token);
  readonly recordProgress: EventWriteStore['recordProgress'] = (positions) => this.writes.recordProgress(positions);
  readonly maxStoredOffset: EventWriteStore['maxStoredOffset'] = (partition) => this.writes.maxStoredOffset(partition);
  readonly idsInOffsetRange: EventWriteStore['idsInOffsetRange'] = (partition, after, upTo) =>
    this.writes.idsInOffsetRange(partition, after, upTo);
  readonly existingIds: EventWriteStore['existingIds'] = (ids, within) => this.writes.existingIds(ids, within);
  readonly reconcileRollup: EventWriteStore['reconcileRollup'] = () => this.repair.reconcileRollup();

  readonly search: EventSearch['search'] = (tenantId, filter, page, options) => this.reads.search(tenantId, filter, page, options);
  readonly findById: EventSearch['findById'] = (tenantId, id, options) => this.reads.findById(tenantId, id, options);
  readonly range: EventSearch['range'] = (tenantId, filter, after, limit, options) =>
    this.reads.range(tenantId, filter, after, limit, options);
  readonly exportLines: EventSearch['exportLines'] = (tenantId, filter, after, limit, options) =>
    this.reads.exportLines(tenantId, filter, after, limit, options);
  readonly tail: EventSearch['tail'] = (tenantId, cursor, filter, limit, options) =>
    this.reads.tail(tenantId, cursor, filter, limit, options);
  readonly progress: EventSearch['progress'] = (options) => this.reads.progress(options);

  readonly statistics: EventStatistics['statistics'] = (tenantId, nowUs, options) => this.stats.statistics(tenantId, nowUs, options);
  readonly detailedStatistics: EventStatistics['detailedStatistics'] = (tenantId, nowUs, options) =>
    this.stats.detailedStatistics(tenantId, nowUs, options);
  readonly dailyCounts: EventStatistics['dailyCounts'] = (tenantId, options) => this.stats.dailyCounts(tenantId, options);

  /** GET /audit/performance and /audit/optimize's reads and maintenance (store-operations.ts). */
  operations(options: ConstructorParameters<typeof ClickHouseStoreOperations>[1]): ClickHouseStoreOperations {
    return new ClickHouseStoreOperations(this.q, options);
  }

  readonly ping: StoreHealth['ping'] = () => this.health.ping();
  readonly storage: StoreHealth['storage'] = () => this.health.storage();

  /** Events per hour by category or severity, from the hourly roll-up (GET /audit/statistics/timeline). */
  readonly timeline: ClickHouseEventTimeline['timeline'] = (tenantId, breakdown, hours, nowUs, options) =>
    new ClickHouseEventTimeline(this.q).timeline(tenantId, breakdown, hours, nowUs, options);
}
