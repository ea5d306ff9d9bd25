export const TOPIC_EVENTS = 'audit.events.v1';
export const TOPIC_EVENTS_DLQ = 'audit.events.dlq.v1';

export const CONSUMER_GROUP_QUERY_STORE = 'audit.query-store.v1';

/** Headers put on every DLQ record so an operator can see why it was refused without decoding the value. */
export const DLQ_HEADERS = {
  errorCode: 'x-audit-error-code',
  errorMessage: 'x-audit-error-message',
  sourceTopic: 'x-audit-source-topic',
  sourcePartition: 'x-audit-source-partition',
  sourceOffset: 'x-audit-source-offset',
} as const;

/**
 * Set by the ingest gateway on the records it publishes. Its `received_at` is the server's receive time and
 * is kept; on records without it (direct producers) the Kafka message time is the receive time.
 */
export const INGEST_HEADER = { name: 'x-audit-ingest', value: 'gateway' } as const;

/**
 * Set by the ingest gateway beside INGEST_HEADER when the request chose the event's id itself: a retry may
 * then carry the same id at another time, so the query store checks it by id alone (as it does for a direct
 * producer's own ids).
 */
export const PRODUCER_ID_HEADER = { name: 'x-audit-id', value: 'producer' } as const;
