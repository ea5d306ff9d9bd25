import { microsToClickHouse, nowMicros, parseTimestampMicros, StoredAuditEvent } from '@app/contracts';
import { DATABASE } from './clickhouse/schema';
import { NO_PROJECTIONS, settingsFor, StoreQueries } from './clickhouse/store-queries';
import { EventFilter, PageRequest } from '@app/contracts';
import { filterToSql, orderBy, rollupCount } from './event-query';
import { rowToEvent, SELECT_COLUMNS, SelectedRow } from './event-row.mapper';
import { EventSearch, JsonLinesPage, RangeCursor, ReadOptions, StreamCursor } from './store-ports';
import { EVENT_JSON_LINE, exportPageOf } from './event-json-line';

/**
 * The condition "after `after` in (timestamp, id) order" for a keyset read, its parameters added to `params`;
 * empty for the first page. The bound on toStartOfHour(timestamp) lets the sort key skip what came before.
 */
export function keysetAfter(after: RangeCursor | null, params: Record<string, unknown>): string {
  if (!after) return '';
  const us = parseTimestampMicros(after.timestamp);
  if (us === undefined) throw new Error(`not a timestamp: ${after.timestamp}`);
  Object.assign(params, { afterTs: microsToClickHouse(us), afterId: after.id });
  return ` AND toStartOfHour(timestamp) >= toStartOfHour(toDateTime64({afterTs:String}, 6, 'UTC'))
    AND (timestamp > toDateTime64({afterTs:String}, 6, 'UTC')
         OR (timestamp = toDateTime64({afterTs:String}, 6, 'UTC') AND id > toUUID({afterId:String})))`;
}

/** Pages, single events and the live stream's reads. */
export class ClickHouseEventSearch implements EventSearch {
  constructor(private readonly q: StoreQueries) {}

  async search(
    tenantId: string,
    filter: EventFilter,
    page: PageRequest,
    options: ReadOptions = {},
  ): Promise<{ events: StoredAuditEvent[]; total: number }> {
    const { where, params } = filterToSql(tenantId, filter);
    const readPage = () =>
      // Without buffering, a read in sort-key order stops after the granules that fill the page; with it
      // (the default) every stream reads ahead first: 36 ms instead of 11 ms for a newest-first page of 1M rows.
      this.q.rows<SelectedRow>(
        `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE ${where} ORDER BY ${orderBy(page.order)}
         LIMIT {limit:UInt32} OFFSET {offset:UInt32}${settingsFor(filter, 'read_in_order_use_buffering = 0')}`,
        { ...params, limit: page.limit, offset: page.offset },
        options.signal,
      );
    let [rows, total] = await Promise.all([readPage(), this.count(tenantId, filter, options.signal)]);
    // The page and the count run side by side, so an insert landing between them can give "total 1, no events".
    // A short page knows the exact total (what precedes it plus what it holds): when the two disagree, the page
    // is read again, now after the count (so it sees at least what the count saw), and the total follows it.
    // A page past the end (empty, offset > 0) cannot tell, and keeps the count.
    const exact = (r: SelectedRow[]) => r.length < page.limit && (r.length > 0 || page.offset === 0);
    if (exact(rows) && page.offset + rows.length !== total) {
      rows = await readPage();
      if (exact(rows)) total = page.offset + rows.length;
    }
    return { events: rows.map(rowToEvent), total };
  }

  /** The number of events matching `filter`: from the hourly roll-up where it can answer, else from raw rows. */
  private async count(tenantId: string, filter: EventFilter, signal?: AbortSignal): Promise<number> {
    const plan = rollupCount(tenantId, filter, nowMicros());
    const raw = plan ? plan.remainder : filterToSql(tenantId, filter);
    const [rolled, counted] = await Promise.all([
      plan
        ? this.q.rows<{ n: string }>(
            `SELECT sum(events) AS n FROM ${DATABASE}.events_hourly WHERE ${plan.rollup.where}`,
            plan.rollup.params,
            signal,
          )
        : [],
      raw
        ? this.q.rows<{ n: string }>(
            `SELECT count() AS n FROM ${DATABASE}.events WHERE ${raw.where}${settingsFor(filter)}`,
            raw.params,
            signal,
          )
        : [],
    ]);
    return Number(rolled[0]?.n ?? 0) + Number(counted[0]?.n ?? 0);
  }

  async findById(tenantId: string, id: string, options: ReadOptions = {}): Promise<StoredAuditEvent | undefined> {
    const rows = await this.q.rows<SelectedRow>(
      `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE tenant_id = {tenant:String} AND id = {id:UUID} LIMIT 1 SETTINGS ${NO_PROJECTIONS}`,
      { tenant: tenantId, id },
      options.signal,
    );
    return rows[0] ? rowToEvent(rows[0]) : undefined;
  }

  /**
   * A whole range in (timestamp, id) order, one small page at a time (export and reports): each page starts
   * after the last row of the one before, so nothing is skipped or repeated, memory is one page, and unlike
   * OFFSET a deep page costs no more than the first.
   */
  async range(
    tenantId: string,
    filter: EventFilter,
    after: RangeCursor | null,
    limit: number,
    options: ReadOptions = {},
  ): Promise<StoredAuditEvent[]> {
    const { where, params } = filterToSql(tenantId, filter);
    const keyset = keysetAfter(after, params);
    const rows = await this.q.rows<SelectedRow>(
      `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE ${where}${keyset} ORDER BY ${orderBy('asc')}
       LIMIT {limit:UInt32}${settingsFor(filter, 'read_in_order_use_buffering = 0')}`,
      { ...params, limit },
      options.signal,
    );
    return rows.map(rowToEvent);
  }

  /**
   * A keyset page like `range`, but as JSON Lines the engine renders (EVENT_JSON_LINE): what an archive holds,
   * with no row parsed or serialised in JavaScript. Only the first and last lines are parsed, for the cursor.
   */
  async exportLines(
    tenantId: string,
    filter: EventFilter,
    after: RangeCursor | null,
    limit: number,
    options: ReadOptions = {},
  ): Promise<JsonLinesPage> {
    const { where, params } = filterToSql(tenantId, filter);
    const keyset = keysetAfter(after, params);
    const text = await this.q.text(
      `SELECT ${EVENT_JSON_LINE} FROM ${DATABASE}.events WHERE ${where}${keyset} ORDER BY ${orderBy('asc')}
       LIMIT {limit:UInt32}${settingsFor(filter, 'read_in_order_use_buffering = 0')}`,
      { ...params, limit },
      'TabSeparatedRaw',
      { output_format_json_escape_forward_slashes: 0 },
      options.signal,
    );
    return exportPageOf(text);
  }

  /** The written position of every log partition, from the progress table the projector keeps. */
  async progress(options: ReadOptions = {}): Promise<StreamCursor> {
    const rows = await this.q.rows<{ p: number; o: string }>(
      `SELECT log_partition AS p, max(log_offset) AS o FROM ${DATABASE}.consumer_progress GROUP BY p`,
      {},
      options.signal,
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
    options: ReadOptions = {},
  ): Promise<{ events: StoredAuditEvent[]; cursor: StreamCursor }> {
    const high = await this.progress(options);
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
    const rows = await this.q.rows<SelectedRow>(
      `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events
       WHERE ${where} AND log_offset > {minFrom:Int64} AND (${ranges.join(' OR ')})
       ORDER BY log_partition, log_offset LIMIT {limit:UInt32}${settingsFor(filter)}`,
      { ...params, ...rangeParams, minFrom: String(minFrom ?? -1n), limit },
      options.signal,
    );
    const events = rows.map(rowToEvent);
    if (events.length < limit) {
      for (const part of partitions) next[part] = high[part];
    } else {
      for (const e of events) if (e.position) next[e.position.partition] = e.position.offset;
    }
    return { events, cursor: next };
  }
}
