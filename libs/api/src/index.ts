export * from './api.module';
export * from './controllers/health.controller';
export * from './controllers/ops.controller';
export * from './controllers/stream.controller';
export * from './http-app';
export * from './local-adapters';
export * from './metrics';
export * from './ports';
