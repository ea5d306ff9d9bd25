import type { IngestPort } from '@app/ingest';
import type { Requester } from './reporting.port';

/** What one of reporting's own audit events says; the requester's identity and address are added to it. */
export interface RequesterEvent {
  event_type: string;
  category?: string;
  description: string;
  /** The event's own fields; the requester's key and user, and `resource`, are added. */
  metadata: Record<string, string>;
  resource: string;
}

/**
 * Writes one audit event on behalf of the requester through the ingest port, as the requester (key, user,
 * address, user agent) did it. A refusal is an error: the caller's request fails rather than happen unrecorded.
 * Returns the event's id.
 */
export async function auditAsRequester(ingest: IngestPort, tenantId: string, requester: Requester, event: RequesterEvent): Promise<string> {
  const res = await ingest.ingest({
    events: [
      {
        event_type: event.event_type,
        ...(event.category ? { category: event.category } : {}),
        description: event.description,
        metadata: {
          ...event.metadata,
          api_key: requester.name,
          api_key_id: requester.keyId,
          user_id: requester.name,
          resource: event.resource,
        },
        source: 'homepot-audit',
      },
    ],
    batch: false,
    tenantId,
    ipAddress: requester.ipAddress,
    userAgent: requester.userAgent,
  });
  const r = res.results[0];
  if (!r || r.status === 'rejected')
    throw new Error(`the ${event.event_type} event was refused: ${JSON.stringify(r?.errors).slice(0, 300)}`);
  return r.id;
}
