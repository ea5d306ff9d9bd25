import type { AuditEvent, EventFilter, PageRequest } from '@app/contracts';
import type { StoreQueries } from './clickhouse/store-queries';
import { eventToRow, SelectedRow } from './event-row.mapper';
import { ClickHouseEventSearch } from './event-search.store';

const event = (n: number): AuditEvent => ({
  schema_version: 1,
  id: `0190a5c2-7b1e-7000-8000-00000000000${n}`,
  tenant_id: 'acme',
  event_type: 'login_failed',
  category: 'security_events',
  severity: 'warning',
  description: `event ${n}`,
  metadata: {},
  timestamp: '2026-01-05T10:00:00.000000Z',
  received_at: '2026-01-05T10:00:00.100000Z',
  ip_address: '10.0.0.5',
  user_agent: 'curl/8',
  session_id: 'sess-1',
  source: 'auth-service',
  idempotency_key: '',
});
const row = (n: number): SelectedRow => {
  const { metadata: _metadata, ...rest } = eventToRow(event(n), { partition: 0, offset: String(n) });
  return rest;
};

/** A store whose page reads answer in turn from `pages`, and whose count answers `count`. */
function storeAnswering(pages: SelectedRow[][], count: number): { q: StoreQueries; pageReads: () => number } {
  let reads = 0;
  const q = {
    rows: async (sql: string) => {
      // The count may be split between the hourly roll-up and raw rows: all of it is in the raw part here.
      if (/sum\(events\)/.test(sql)) return [{ n: '0' }];
      if (/count\(\)/.test(sql)) return [{ n: String(count) }];
      return pages[Math.min(reads++, pages.length - 1)];
    },
  } as unknown as StoreQueries;
  return { q, pageReads: () => reads };
}

const filter: EventFilter = { categories: [], eventTypes: [], severities: [], metadata: [] };
const page = (offset = 0, limit = 50): PageRequest => ({ limit, offset, order: 'desc' });

describe(ClickHouseEventSearch.name, () => {
  it('given an insert between the page and the count, when the short page disagrees, then it is read again and the total follows it', async () => {
    const { q, pageReads } = storeAnswering([[], [row(1)]], 1);
    const r = await new ClickHouseEventSearch(q).search('acme', filter, page());
    expect(r.events.map((e) => e.description)).toEqual(['event 1']);
    expect(r.total).toBe(1);
    expect(pageReads()).toBe(2);
  });

  it('given a short page that agrees with the count, then it is read once', async () => {
    const { q, pageReads } = storeAnswering([[row(1), row(2)]], 2);
    const r = await new ClickHouseEventSearch(q).search('acme', filter, page());
    expect(r.total).toBe(2);
    expect(pageReads()).toBe(1);
  });

  it('given a full page, then the count is the total (more may follow)', async () => {
    const { q, pageReads } = storeAnswering([[row(1), row(2)]], 9);
    expect((await new ClickHouseEventSearch(q).search('acme', filter, page(0, 2))).total).toBe(9);
    expect(pageReads()).toBe(1);
  });

  it('given a page past the end, then the count is kept', async () => {
    const { q } = storeAnswering([[]], 3);
    expect((await new ClickHouseEventSearch(q).search('acme', filter, page(100))).total).toBe(3);
  });
});
