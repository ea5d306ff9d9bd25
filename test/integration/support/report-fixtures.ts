import { StoredAuditEvent } from '@app/contracts';
import { EventFilter, ExportPage, ExportTextFormat, QueryPort, RangeCursor } from '@app/query';
import { eventsAsExportText } from '@app/reporting';

/** The i-th stored event of a tenant, as the query store returns it (ids sort in i's order). */
export const storedEvent = (tenantId: string, i: number): StoredAuditEvent => ({
  schema_version: 1,
  id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  tenant_id: tenantId,
  event_type: 'api_access',
  category: 'security_events',
  severity: 'info',
  description: `e${i}`,
  metadata: {},
  timestamp: '2025-08-01T00:00:00.000000Z',
  received_at: '2025-08-01T00:00:00.000000Z',
  ip_address: '',
  user_agent: '',
  session_id: '',
  source: 'web',
  idempotency_key: '',
});

/**
 * The query port over an in-memory list: (timestamp, id) keyset paging as the store does it, optionally a
 * little slow per page (so that jobs overlap across replicas).
 */
export class ListQuery implements Pick<QueryPort, 'range' | 'exportPage' | 'search'> {
  constructor(
    readonly events: StoredAuditEvent[],
    readonly pageDelayMs?: number,
  ) {}
  async range(_t: string, _f: EventFilter, after: RangeCursor | null, limit: number): Promise<StoredAuditEvent[]> {
    if (this.pageDelayMs !== undefined && limit > 1) await new Promise((r) => setTimeout(r, this.pageDelayMs));
    const from = after ? this.events.findIndex((e) => e.id === after.id) + 1 : 0;
    return this.events.slice(from, from + limit);
  }
  /** An export page as the engine writes it, from the same list (the writer the engine's SQL is tested against). */
  async exportPage(
    t: string,
    f: EventFilter,
    format: ExportTextFormat,
    includeMetadata: boolean,
    after: RangeCursor | null,
    limit: number,
  ): Promise<ExportPage> {
    const page = await this.range(t, f, after, limit);
    const last = page.at(-1);
    return {
      text: eventsAsExportText(page, format, includeMetadata),
      rows: page.length,
      first: page[0]?.timestamp ?? null,
      last: last?.timestamp ?? null,
      next: last && page.length === limit ? { timestamp: last.timestamp, id: last.id } : null,
    };
  }
  search(): ReturnType<QueryPort['search']> {
    return Promise.resolve({ events: [], total: this.events.length });
  }
}
