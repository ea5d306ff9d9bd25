export * from './clickhouse/clickhouse.factory';
export * from './clickhouse/schema';
export * from './event-query';
export * from './event-row.mapper';
export * from './event-store.repository';
export * from './projector';
export * from './query-store.consumer';
export * from './store-writer';
