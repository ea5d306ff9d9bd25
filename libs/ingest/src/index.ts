export * from './batching-publisher';
export * from './idempotency';
export * from './ingest.service';
