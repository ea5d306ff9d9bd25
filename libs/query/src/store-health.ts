import { DATABASE } from './clickhouse/schema';
import { StoreQueries } from './clickhouse/store-queries';
import { StoreHealth } from './store-ports';

export class ClickHouseStoreHealth implements StoreHealth {
  constructor(private readonly q: StoreQueries) {}

  async ping(): Promise<boolean> {
    try {
      await this.q.rows('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async storage(): Promise<Record<string, unknown>> {
    const rows = await this.q.rows<{ table: string; rows: string; bytes: string; parts: string }>(
      `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts
       FROM system.parts WHERE database = {db:String} AND active GROUP BY table`,
      { db: DATABASE },
    );
    return Object.fromEntries(
      rows.map((r) => [r.table, { rows: Number(r.rows), bytes_on_disk: Number(r.bytes), active_parts: Number(r.parts) }]),
    );
  }
}
