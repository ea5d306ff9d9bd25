export * from './api-key.entity';
export * from './api-key.service';
export * from './api-key.store';
export * from './auth-failure-limiter';
export * from './lru-cache';
export * from './migrations';
export * from './testing/in-memory-api-key.store';
