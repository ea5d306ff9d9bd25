export * from './data-source.factory';
export * from './postgres-ssl';
