export * from './directory.store';
export * from './object-store.port';
