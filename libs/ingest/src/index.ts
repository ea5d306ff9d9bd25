export * from './batching-publisher';
export * from './idempotency';
export * from './ingest.service';
export * from './ingest.capability';
export * from './ingest.port';
