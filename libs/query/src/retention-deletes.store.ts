import { DATABASE } from './clickhouse/schema';
import { StoreQueries } from './clickhouse/store-queries';
import { DailyCount } from './store-ports';

/** One category's UTC day (YYYY-MM-DD) of one tenant: the unit retention removes. */
export interface StoredDayRef {
  category: string;
  day: string;
  /**
   * Delete only if the day holds exactly this many events (an offload: its archive's count). An event stored
   * after the archive was read (a late one) would otherwise go with the day although no archive holds it; the
   * day is then left online, and reported with `count: 0` and `kept`, for the next run to archive again.
   */
  expected?: number;
}

/** What a removal did to one day: `count` events removed; `kept` the events left because `expected` differed. */
export interface RemovedDay extends DailyCount {
  kept?: number;
}

/**
 * Removal of whole days for retention: the events and their hourly roll-up, as synchronous mutations
 * (ALTER … DELETE, mutations_sync = 2: the call returns once the rows are gone; lightweight DELETE refuses
 * tables with projections, and both tables have them). The daily key roll-up (top sites, devices, users over
 * the last 7 days) has no category and is left as is: retention removes days older than that window unless a
 * policy archives after less than a week. A month partition is not dropped: it holds other tenants' rows.
 */
export class ClickHouseRetentionDeletes {
  constructor(private readonly q: StoreQueries) {}

  async deleteDays(tenantId: string, days: StoredDayRef[]): Promise<RemovedDay[]> {
    const out: RemovedDay[] = [];
    for (const d of days) {
      const params = { tenant: tenantId, category: d.category, day: d.day };
      const [row] = await this.q.rows<{ n: string | number }>(
        `SELECT count() AS n FROM ${DATABASE}.events FINAL
         WHERE tenant_id = {tenant:String} AND category = {category:String} AND toDate(timestamp) = toDate({day:String})`,
        params,
      );
      const held = Number(row?.n ?? 0);
      if (d.expected !== undefined && held !== d.expected) {
        out.push({ category: d.category, day: d.day, count: 0, kept: held });
        continue;
      }
      await this.q.command(
        `ALTER TABLE ${DATABASE}.events DELETE
         WHERE tenant_id = {tenant:String} AND category = {category:String} AND toDate(timestamp) = toDate({day:String})`,
        params,
        { mutations_sync: 2 },
      );
      await this.q.command(
        `ALTER TABLE ${DATABASE}.events_hourly DELETE
         WHERE tenant_id = {tenant:String} AND category = {category:String} AND toDate(hour) = toDate({day:String})`,
        params,
        { mutations_sync: 2 },
      );
      out.push({ category: d.category, day: d.day, count: held });
    }
    return out;
  }
}
