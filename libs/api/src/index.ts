export * from './api.module';
export * from './controllers/health.controller';
export * from './controllers/ops.controller';
export * from './controllers/stream.controller';
export * from './hosts';
export * from './http-app';
