export * from './api-key.entity';
export * from './api-key.service';
export * from './migrations';
