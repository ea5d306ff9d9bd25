import { StoredAuditEvent } from '@app/contracts';
import type { QueryPort } from '@app/query';

const DAY_US = 86_400_000_000;
/** Events per read of the store (the query port's range allows up to 10,000). */
export const DAY_PAGE = 10_000;

/**
 * One category's UTC day of a tenant, oldest first by (timestamp, id): keyset pages of up to `page`, each one
 * indexed read from where the last ended. The unit retention archives and removes.
 */
export async function* dayPages(
  query: QueryPort,
  tenantId: string,
  category: string,
  day: string,
  page = DAY_PAGE,
): AsyncGenerator<StoredAuditEvent[]> {
  const fromUs = Date.parse(`${day}T00:00:00Z`) * 1000;
  const filter = { categories: [category], eventTypes: [], severities: [], metadata: [], fromUs, toUs: fromUs + DAY_US - 1 };
  let after: { timestamp: string; id: string } | null = null;
  for (;;) {
    const events = await query.range(tenantId, filter, after, page);
    if (events.length > 0) yield events;
    if (events.length < page) return;
    const last = events[events.length - 1];
    after = { timestamp: last.timestamp, id: last.id };
  }
}
