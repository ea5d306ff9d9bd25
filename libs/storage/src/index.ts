export * from './directory.store';
export * from './object-store.port';
export * from './s3.store';
export * from './storage.config';
