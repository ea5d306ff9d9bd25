export * from './core';
export * from './migrations';
export * from './retention.capability';
export * from './retention.config';
export * from './retention.controller';
export * from './retention.port';
export * from './retention.repository';
export * from './retention.service';
